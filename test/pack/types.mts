// A TypeScript user of the packed packages (ESM): their types resolve from the tarballs' exports
// maps, and a wrong option is a type error. Type-checked by test/pack.test.ts, never run.
import { HashRing, RingErrorCodes, type RingErrorCode } from '@webtier/hash-ring';
import { ReplicatedMemcachedStore } from '@webtier/session-store';
import { startGateway, type GatewayConfigInput, type RunningGateway } from '@webtier/gateway';

const ring = new HashRing(['10.0.0.1:11211', '10.0.0.2:11211']);
const owner: string = ring.get('memc.sess.key.1');
const store = new ReplicatedMemcachedStore({ pairs: [['10.0.0.1:11211', '10.0.0.2:11211']] });
const config: GatewayConfigInput = {
  listeners: [{ port: 8080 }],
  routes: [{ match: { prefix: '/' }, cluster: 'webmail' }],
  clusters: { webmail: { endpoints: [{ url: 'http://10.0.0.11:8000' }] } },
};
const running: Promise<RunningGateway> = startGateway(config);
// The codes keep their literal types through @webtier/errors' table.
const empty: RingErrorCode = RingErrorCodes.EMPTY;
// @ts-expect-error: not a code of the ring's table
const wrong: RingErrorCode = 'RING_ERR_NOPE';
// @ts-expect-error: the store has no option "servrs"
new ReplicatedMemcachedStore({ servrs: ['10.0.0.1:11211'] });
export { owner, store, running, empty, wrong };
