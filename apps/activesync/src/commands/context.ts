import type { DemoUser, Mailbox } from '@webtier/demo-mail';
import type { DeviceState, DeviceStates } from '../DeviceState.js';

/** What a command handler gets: the authenticated user, the device's state and the mail. */
export interface CommandContext {
  node: string;
  user: DemoUser;
  device: DeviceState;
  devices: DeviceStates;
  mailbox: Mailbox;
  body: Record<string, unknown>;
  /** Resolves when the client has gone away (a Ping stops waiting then). */
  aborted: Promise<void>;
}

/** Status values of MS-ASCMD used here. */
export const Status = {
  OK: 1,
  /** Ping: the heartbeat interval ended without changes. */
  PING_EXPIRED: 1,
  /** Ping: changes occurred in at least one folder. */
  PING_CHANGES: 2,
  /** Ping: HeartbeatInterval out of range (Limit says the allowed bound). */
  PING_BAD_HEARTBEAT: 5,
  /** Sync: invalid or mismatched sync key. */
  SYNC_BAD_KEY: 3,
  /** Sync: collection not found. */
  SYNC_NO_COLLECTION: 8,
  /** FolderSync: invalid or mismatched sync key. */
  FOLDERSYNC_BAD_KEY: 9,
} as const;

/** The folder hierarchy every demo mailbox has (MS-ASCMD folder types: 2 Inbox, 3 Drafts, 5 Sent). */
export const FOLDERS = Object.freeze([
  { ServerId: 'inbox', ParentId: '0', DisplayName: 'Inbox', Type: 2 },
  { ServerId: 'drafts', ParentId: '0', DisplayName: 'Drafts', Type: 3 },
  { ServerId: 'sent', ParentId: '0', DisplayName: 'Sent Items', Type: 5 },
]);
