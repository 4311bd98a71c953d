<?php
/**
 * Generates the libmemcached test vectors of @webtier/hash-ring.
 *
 * For each server list below, asks the real libmemcached (through PHP's memcached extension with
 * Memcached::OPT_LIBKETAMA_COMPATIBLE, i.e. MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED) which server owns
 * each key. getServerByKey() only computes the placement: nothing connects to these servers.
 *
 * Writes packages/hash-ring/test/fixtures/<list>.json; the vector test reads them, so running the
 * tests needs no PHP. Keys are derived deterministically from the list name, so re-running this on
 * the same libmemcached produces identical files.
 *
 * Usage (Debian: apt-get install php-cli php-memcached):
 *   php scripts/gen-ring-fixtures.php [--keys-per-list=1400]
 */

declare(strict_types=1);

if (!extension_loaded('memcached')) {
    fwrite(STDERR, "gen-ring-fixtures: PHP's memcached extension is missing (Debian: apt-get install php-memcached)\n");
    exit(2);
}

$opts = getopt('', ['keys-per-list::']);
$keysPerList = isset($opts['keys-per-list']) ? (int) $opts['keys-per-list'] : 1400;
if ($keysPerList < 100) {
    fwrite(STDERR, "gen-ring-fixtures: --keys-per-list must be >= 100\n");
    exit(2);
}

$outDir = dirname(__DIR__) . '/packages/hash-ring/test/fixtures';

/** @return array<int, array{0: string, 1: int, 2: int}> */
function equalServers(int $count, callable $host, callable $port): array
{
    $out = [];
    for ($i = 0; $i < $count; $i++) {
        $out[] = [$host($i), $port($i), 1];
    }
    return $out;
}

// [host, port, weight]: the host is written exactly as configured; libmemcached hashes it unresolved.
$lists = [
    'default-port' => [
        'description' => '4 servers, all on the default port 11211 (point strings "host-i")',
        'servers' => [['10.0.1.1', 11211, 1], ['10.0.1.2', 11211, 1], ['10.0.1.3', 11211, 1], ['10.0.1.4', 11211, 1]],
    ],
    'non-default-ports' => [
        'description' => '5 servers on one host, non-default ports (point strings "host:port-i")',
        'servers' => equalServers(5, fn ($i) => '127.0.0.1', fn ($i) => 11311 + $i),
    ],
    'mixed' => [
        'description' => '6 servers, host names and addresses, default and non-default ports',
        'servers' => [
            ['mc-a.internal', 11211, 1], ['mc-b.internal', 11212, 1], ['10.0.2.3', 11211, 1],
            ['10.0.2.4', 22122, 1], ['memcached', 11211, 1], ['localhost', 11213, 1],
        ],
    ],
    'weighted' => [
        'description' => '5 servers with integer weights 1, 2, 3, 5, 10',
        'servers' => [
            ['10.0.3.1', 11211, 1], ['10.0.3.2', 11211, 2], ['10.0.3.3', 11212, 3],
            ['10.0.3.4', 11211, 5], ['10.0.3.5', 11213, 10],
        ],
    ],
    'ipv6' => [
        'description' => 'IPv6 hosts (configured without brackets) next to IPv4, default and non-default ports',
        'servers' => [['::1', 11211, 1], ['fe80::1', 11300, 1], ['2001:db8::10', 11211, 1], ['127.0.0.1', 11211, 1]],
    ],
    'equal-25' => [
        'description' => '25 equal servers: float32 arithmetic gives 156 points each instead of 160',
        'servers' => equalServers(25, fn ($i) => '10.1.0.' . ($i + 1), fn ($i) => 11211),
    ],
    'equal-47' => [
        'description' => '47 equal servers: float32 arithmetic gives 156 points each instead of 160',
        'servers' => equalServers(47, fn ($i) => sprintf('cache-%02d.example.com', $i + 1), fn ($i) => 11211),
    ],
    'equal-50' => [
        'description' => '50 equal servers on non-default ports: float32 arithmetic gives 156 points each instead of 160',
        'servers' => equalServers(50, fn ($i) => '127.0.0.1', fn ($i) => 20000 + $i),
    ],
];

/** Keys that are not session ids: one byte, printable ASCII, whitespace, UTF-8, the longest key libmemcached accepts. */
function oddKeys(): array
{
    $keys = [];
    for ($c = 0x21; $c <= 0x7e; $c++) {
        $keys[] = chr($c);
    }
    array_push(
        $keys,
        'x y', "tab\tkey", "new\nline", ' ', 'user:42:inbox', 'roundcube:sess:', 'ünïcödé', '€', '日本語のキー',
        '😀', 'Ελληνικά:κλειδί', 'sess:' . str_repeat('é', 40),
        str_repeat('k', 200), str_repeat('z', 249), str_repeat('w', 250), str_repeat('a', 64), str_repeat('b', 55),
        str_repeat('c', 56), str_repeat('d', 119), str_repeat('e', 120),
    );
    return $keys;
}

/** Session-id-like keys: "sess:<hex>" and php-memcached's own "memc.sess.key.<sid>" (sid chars 0-9a-v). */
function sessionKeys(string $seed, int $count): array
{
    $b32 = '0123456789abcdefghijklmnopqrstuv';
    $keys = [];
    for ($i = 0; count($keys) < $count; $i++) {
        $h = hash('sha256', "$seed:$i");
        if ($i % 3 === 2) {
            $sid = '';
            for ($j = 0; $j < 26; $j++) {
                $sid .= $b32[hexdec(substr($h, $j * 2, 2)) & 31];
            }
            $keys[] = 'memc.sess.key.' . $sid;
        } else {
            $keys[] = 'sess:' . substr($h, 0, 16 + ($i % 17));
        }
    }
    return $keys;
}

function libmemcachedVersions(): array
{
    ob_start();
    (new ReflectionExtension('memcached'))->info();
    $info = strip_tags((string) ob_get_clean());
    $library = preg_match('/libmemcached library version\s*=>\s*(\S+)/', $info, $m) ? $m[1] : 'unknown';
    $headers = preg_match('/libmemcached headers version\s*=>\s*(\S+)/', $info, $m) ? $m[1] : 'unknown';
    return [$library, $headers];
}

[$libVersion, $libHeaders] = libmemcachedVersions();
$versions = [
    'php' => PHP_VERSION,
    'phpMemcached' => phpversion('memcached'),
    'libmemcached' => $libVersion,
    'libmemcachedHeaders' => $libHeaders,
];

if (!is_dir($outDir) && !mkdir($outDir, 0777, true)) {
    fwrite(STDERR, "gen-ring-fixtures: cannot create $outDir\n");
    exit(1);
}

$total = 0;
foreach ($lists as $name => $list) {
    $m = new Memcached();
    $m->setOption(Memcached::OPT_LIBKETAMA_COMPATIBLE, true);
    if (!$m->addServers($list['servers'])) {
        fwrite(STDERR, "gen-ring-fixtures: $name: addServers failed: {$m->getResultMessage()}\n");
        exit(1);
    }
    $index = [];
    foreach ($list['servers'] as $i => [$host, $port]) {
        $index["$host\0$port"] = $i;
    }
    $odd = oddKeys();
    $keys = array_merge($odd, sessionKeys($name, $keysPerList - count($odd)));
    $cases = [];
    $perServer = array_fill(0, count($list['servers']), 0);
    foreach ($keys as $key) {
        $server = $m->getServerByKey($key);
        if ($server === false) {
            fwrite(STDERR, "gen-ring-fixtures: $name: getServerByKey(" . json_encode($key) . ") failed: {$m->getResultMessage()}\n");
            exit(1);
        }
        $i = $index["{$server['host']}\0{$server['port']}"] ?? null;
        if ($i === null) {
            fwrite(STDERR, "gen-ring-fixtures: $name: libmemcached returned unknown server {$server['host']}:{$server['port']}\n");
            exit(1);
        }
        $cases[] = [$key, $i];
        $perServer[$i]++;
    }

    $json = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR;
    $servers = array_map(fn ($s) => ['host' => $s[0], 'port' => $s[1], 'weight' => $s[2]], $list['servers']);
    // One server and one case per line: small, and reviewable as a diff.
    $out = "{\n"
        . '  "name": ' . json_encode($name, $json) . ",\n"
        . '  "description": ' . json_encode($list['description'], $json) . ",\n"
        . '  "generator": "php scripts/gen-ring-fixtures.php",' . "\n"
        . '  "options": { "OPT_LIBKETAMA_COMPATIBLE": true },' . "\n"
        . '  "versions": ' . json_encode($versions, $json) . ",\n"
        . '  "format": "cases are [key, index into servers of the server libmemcached placed the key on]",' . "\n"
        . "  \"servers\": [\n    " . implode(",\n    ", array_map(fn ($s) => json_encode($s, $json), $servers)) . "\n  ],\n"
        . "  \"cases\": [\n    " . implode(",\n    ", array_map(fn ($c) => json_encode($c, $json), $cases)) . "\n  ]\n"
        . "}\n";
    file_put_contents("$outDir/$name.json", $out);
    $total += count($cases);
    printf("%-18s %2d servers %5d keys  keys per server: %s\n", $name, count($servers), count($cases), implode(' ', $perServer));
}
printf("%d keys over %d lists -> %s (php %s, php-memcached %s, libmemcached %s)\n", $total, count($lists), $outDir, PHP_VERSION, phpversion('memcached'), $libVersion);
