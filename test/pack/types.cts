// The same through require() (CommonJS): the exports maps' types serve both conditions.
import hashRing = require('@webtier/hash-ring');
import sessionStore = require('@webtier/session-store');
import gateway = require('@webtier/gateway');

const ring = new hashRing.HashRing(['10.0.0.1:11211']);
const nodes: string[] = ring.nodesFor('k', 1);
const store = new sessionStore.ReplicatedMemcachedStore({ servers: ['10.0.0.1:11211'] });
// @ts-expect-error: listeners is required
const bad: gateway.GatewayConfigInput = { routes: [], clusters: {} };
export = { nodes, store, bad };
