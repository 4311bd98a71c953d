import session from 'express-session';
import { describe, expect, it } from 'vitest';
import { createActiveSyncApp } from '../src/index.js';

// Regression for issue #16: the server must hold Pings for their whole heartbeat and keep the
// device's connection open between Pings.
describe('ActiveSync server limits for held Pings', () => {
  const cases = [
    { maxHeartbeatSeconds: undefined, keepAliveAbove: 3540_000 },
    { maxHeartbeatSeconds: 900, keepAliveAbove: 900_000 },
  ];
  it.each(cases)('maxHeartbeatSeconds $maxHeartbeatSeconds: no request timeout, keep-alive above the heartbeat', async ({ maxHeartbeatSeconds, keepAliveAbove }) => {
    const app = createActiveSyncApp({ store: new session.MemoryStore(), ...(maxHeartbeatSeconds ? { maxHeartbeatSeconds } : {}) });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      expect(app.server.requestTimeout).toBe(0);
      expect(app.server.timeout).toBe(0);
      expect(app.server.keepAliveTimeout).toBeGreaterThan(keepAliveAbove);
      expect(app.server.maxRequestsPerSocket ?? 0).toBe(0);
    } finally {
      await app.close();
    }
  });
});
