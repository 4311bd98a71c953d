import { LabError, LabErrorCodes } from './errors.js';

/** "5s", "500ms", "2m" or a plain number of seconds → milliseconds. */
export function parseDuration(text: string, where = '--for'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new LabError(LabErrorCodes.BAD_ARGS, `${where}: "${text}" is not a duration; write e.g. 5s, 500ms or 2m`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms <= 0 || ms > 24 * 3600_000) throw new LabError(LabErrorCodes.BAD_ARGS, `${where}: "${text}" must be more than 0 and at most 24 h`);
  return Math.round(ms);
}
