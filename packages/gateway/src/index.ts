/** @webtier/gateway: public API (filled in by the following commits). */
export const GATEWAY_VERSION = '0.1.0';
