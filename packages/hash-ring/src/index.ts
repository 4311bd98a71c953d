export { HashRing } from './HashRing.js';
export type { NodeInput, RingNode, NodesForOptions } from './HashRing.js';
export { RingError, RingErrorCodes } from './errors.js';
export type { RingErrorCode } from './errors.js';
export { pointsPerServer, pointName, keyHash, POINTS_PER_SERVER_KETAMA, DEFAULT_PORT } from './ketama.js';
export { parseHostPort, formatNodeId } from './node.js';
export type { ParseHostPortOptions } from './node.js';
