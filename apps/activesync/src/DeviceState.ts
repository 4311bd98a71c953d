import type { Store } from 'express-session';

/** What the server remembers about one device: its sync keys and the items it already has. */
export interface DeviceState {
  user: string;
  deviceId: string;
  deviceType: string;
  /** FolderSync key; 0 until the first FolderSync. */
  folderSyncKey: number;
  collections: Record<string, { syncKey: number; known: string[] }>;
  lastSeen: string;
  /** The ActiveSync node that last served this device. */
  lastNode: string;
}

/** Device state lives as long as an idle device is remembered. */
const DEVICE_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * Device state in the replicated session store, under `eas:<user>:<deviceId>`: any ActiveSync node
 * can serve the next request of a device, and a memcached node loss does not reset its sync keys.
 */
export class DeviceStates {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  static key(user: string, deviceId: string): string {
    return `eas:${user}:${deviceId}`;
  }

  async load(user: string, deviceId: string, deviceType: string): Promise<DeviceState> {
    const stored = await new Promise<(DeviceState & { cookie?: unknown }) | null | undefined>((resolve, reject) =>
      this.#store.get(DeviceStates.key(user, deviceId), (err, value) => (err ? reject(err) : resolve(value as never))),
    );
    if (stored && typeof stored.folderSyncKey === 'number') {
      const { cookie: _cookie, ...state } = stored;
      return state;
    }
    return { user, deviceId, deviceType, folderSyncKey: 0, collections: {}, lastSeen: new Date().toISOString(), lastNode: '' };
  }

  async save(state: DeviceState): Promise<void> {
    const value = { ...state, cookie: { originalMaxAge: DEVICE_TTL_MS, expires: new Date(Date.now() + DEVICE_TTL_MS).toISOString() } };
    await new Promise<void>((resolve, reject) =>
      this.#store.set(DeviceStates.key(state.user, state.deviceId), value as never, (err) => (err ? reject(err) : resolve())),
    );
  }
}
