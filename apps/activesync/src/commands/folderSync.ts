import { FOLDERS, Status, type CommandContext } from './context.js';

/**
 * FolderSync. Request `{"SyncKey":"0"}`; answers the folder list on key 0, nothing new on the
 * current key, Status 9 on any other key (the device must start over with 0).
 */
export async function folderSync(c: CommandContext): Promise<Record<string, unknown>> {
  const key = String(c.body['SyncKey'] ?? '0');
  if (key === '0') {
    c.device.folderSyncKey += 1;
    await c.devices.save(c.device);
    return { Status: Status.OK, SyncKey: String(c.device.folderSyncKey), Changes: { Count: FOLDERS.length, Add: FOLDERS } };
  }
  if (key !== String(c.device.folderSyncKey)) return { Status: Status.FOLDERSYNC_BAD_KEY };
  await c.devices.save(c.device);
  return { Status: Status.OK, SyncKey: key, Changes: { Count: 0 } };
}
