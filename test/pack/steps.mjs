// The two steps each app runs: `set <value>` prints the session cookie; `get <cookie>` prints the value.
export async function run(base, close, store) {
  const [step, arg] = process.argv.slice(2);
  let out;
  if (step === 'set') {
    const res = await fetch(`${base}/set?v=${encodeURIComponent(arg)}`);
    out = { status: res.status, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] };
  } else {
    const res = await fetch(`${base}/get`, { headers: { cookie: arg } });
    out = { status: res.status, ...(await res.json()) };
  }
  await close();
  await store.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
