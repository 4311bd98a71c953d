import { Status, type CommandContext } from './context.js';

/** Items kept in the "known" list of a collection (the demo inbox is small). */
const KNOWN_LIMIT = 200;

/**
 * Sync. Request `{"Collections":[{"CollectionId":"inbox","SyncKey":"0"}]}`. Key 0 primes the
 * collection (new key, no items, as MS-ASCMD says); the current key returns the messages the device
 * does not have yet as Commands.Add and a new key; any other key gives Status 3.
 */
export async function sync(c: CommandContext): Promise<Record<string, unknown>> {
  const requested = Array.isArray(c.body['Collections']) ? (c.body['Collections'] as Array<Record<string, unknown>>) : [];
  const out: Array<Record<string, unknown>> = [];
  for (const col of requested) {
    const id = String(col['CollectionId'] ?? '');
    const key = String(col['SyncKey'] ?? '0');
    if (id !== 'inbox' && id !== 'drafts' && id !== 'sent') {
      out.push({ CollectionId: id, Status: Status.SYNC_NO_COLLECTION });
      continue;
    }
    const state = c.device.collections[id];
    if (key === '0') {
      c.device.collections[id] = { syncKey: 1, known: [] };
      out.push({ CollectionId: id, Status: Status.OK, SyncKey: '1' });
      continue;
    }
    if (!state || key !== String(state.syncKey)) {
      out.push({ CollectionId: id, Status: Status.SYNC_BAD_KEY });
      continue;
    }
    const known = new Set(state.known);
    const fresh = id === 'inbox' ? (await c.mailbox.inbox(c.user.user)).filter((m) => !known.has(m.uid)) : [];
    state.syncKey += 1;
    state.known = [...fresh.map((m) => m.uid), ...state.known].slice(0, KNOWN_LIMIT);
    out.push({
      CollectionId: id,
      Status: Status.OK,
      SyncKey: String(state.syncKey),
      Commands: {
        Add: fresh.map((m) => ({
          ServerId: `${id}:${m.uid}`,
          ApplicationData: { From: m.from, To: m.to ?? c.user.email, Subject: m.subject, DateReceived: m.date, Read: !m.unread, Body: m.body },
        })),
      },
    });
  }
  await c.devices.save(c.device);
  return { Collections: out };
}
