#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { helpOrUnknown, runMain } from '@webtier/testkit';
import { parseDuration } from './duration.js';
import { LabError, LabErrorCodes } from './errors.js';
import { FAULT_KINDS, isFaultKind } from './Faults.js';
import { Lab } from './Lab.js';
import { labDir } from './LabState.js';
import { TOPOLOGIES, type TopologyName } from './LabTopology.js';

const USAGE = `webtier-lab: the web tier on many hosts (Linux network namespaces), with real network faults. Run as root.

  npm run lab -- up [--topology kolab|kolab-ha]   create the hosts, start the apps, print the gateway URL
  npm run lab -- status [--json]                   hosts, processes, faults in force
  npm run lab -- fault <kind> <host> [--for 5s]    kinds: kill, stop, freeze, restart-empty, blackhole, link-down
  npm run lab -- fault partition <a> <b> [--for 5s]   drop every packet between a and b (others still reach both)
  npm run lab -- fault one-way <from> <to> [--for 5s] drop packets from <from> to <to> only
  npm run lab -- heal [fault-id]                   undo one fault, or all (killed processes start again)
  npm run lab -- log                               the fault log (start and end of each fault)
  npm run lab -- down                              remove everything (idempotent, also after a crash)

State and logs: ${labDir()} (WEBTIER_LAB_DIR). Hosts live in 10.231.0.0/16, blackholed in the root namespace.
`;

const out = (line: string) => void process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'up': {
      const { values } = parseArgs({ args: rest, options: { topology: { type: 'string' } } });
      const topology = (values.topology ?? 'kolab') as TopologyName;
      if (!TOPOLOGIES.includes(topology)) throw new LabError(LabErrorCodes.BAD_ARGS, `--topology: "${topology}" is unknown; known: ${TOPOLOGIES.join(', ')}`);
      const lab = await Lab.up({ topology, log: (l) => out(`  ${l}`) });
      out('');
      printStatus(lab);
      out('');
      out(`webtier lab "${topology}" is up.`);
      out(`  Gateway (from this machine):  ${lab.state.data.gatewayUrls.join('  ')}${topology === 'kolab-ha' ? '   (the two VIPs, held by keepalived)' : ''}`);
      out(`  Gateway status page:          ${lab.adminUrl}/status`);
      out(`  Logs and state:               ${lab.state.dir}`);
      out('  Break something:   npm run lab -- fault blackhole memcached-1 --for 10s');
      out('                     npm run lab -- fault partition webmail-1 memcached-3');
      out('  Undo, remove:      npm run lab -- heal        npm run lab -- down');
      return;
    }
    case 'down': {
      const found = await Lab.down({ log: (l) => out(`  ${l}`) });
      out(found ? 'the lab is down: no wtlab-* namespace, link, rule, route or process is left.' : 'no lab was up; nothing to remove.');
      return;
    }
    case 'status': {
      const lab = Lab.attach();
      if (rest.includes('--json')) return out(JSON.stringify({ topology: lab.topology.name, gatewayUrls: lab.state.data.gatewayUrls, processes: lab.processes(), faults: lab.faults() }, null, 2));
      return printStatus(lab);
    }
    case 'fault': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { for: { type: 'string' } } });
      const [kind, ...hosts] = positionals;
      if (!kind || !isFaultKind(kind)) throw new LabError(LabErrorCodes.BAD_ARGS, `usage: fault <kind> <host> [--for 5s]; kinds: ${Object.keys(FAULT_KINDS).join(', ')}`);
      const forMs = values.for !== undefined ? parseDuration(values.for) : undefined;
      const lab = Lab.attach();
      out(`${new Date().toISOString()} start ${kind} ${hosts.join(' ')}${forMs ? ` for ${forMs} ms` : ''}`);
      const f = await lab.fault(kind, hosts, forMs !== undefined ? { forMs } : {});
      const still = lab.faults().some((x) => x.id === f.id);
      out(`${new Date().toISOString()} ${still ? `in force as fault #${f.id} (undo: npm run lab -- heal ${f.id})` : `end ${kind} ${hosts.join(' ')}`}`);
      return;
    }
    case 'heal': {
      const id = rest[0] === undefined ? undefined : Number(rest[0]);
      if (id !== undefined && !Number.isInteger(id)) throw new LabError(LabErrorCodes.BAD_ARGS, `heal takes a fault id (a number), got "${rest[0]}"`);
      const healed = await Lab.attach().heal(id);
      out(healed.length ? healed.map((f) => `${new Date().toISOString()} end #${f.id} ${f.kind} ${f.hosts.join(' ')}`).join('\n') : 'no fault in force.');
      return;
    }
    case 'log': {
      try {
        return void process.stdout.write(readFileSync(join(labDir(), 'faults.log'), 'utf8'));
      } catch {
        return out('no fault logged yet.');
      }
    }
    default:
      return helpOrUnknown(command, USAGE, (m) => new LabError(LabErrorCodes.BAD_ARGS, m));
  }
}

function printStatus(lab: Lab): void {
  const procs = lab.processes();
  const rows = lab.topology.hosts.map((h) => {
    const ps = procs.filter((p) => p.host === h.name).map((p) => `${p.name}${p.pid ? ` pid ${p.pid}` : ''} ${p.state}`);
    const faults = lab.faults().filter((f) => f.hosts.includes(h.name)).map((f) => `#${f.id} ${f.kind}${f.hosts.length > 1 ? ` ${f.hosts.join('/')}` : ''}`);
    return [h.name, h.links.map((l) => l.ip).join(' '), ps.join(', ') || '-', faults.join(', ')];
  });
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), 4));
  out(['host', 'address', 'process'].map((t, i) => t.padEnd(widths[i]!)).join('  ') + '  faults');
  for (const r of rows) out(r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd());
}

runMain('webtier-lab', main);
