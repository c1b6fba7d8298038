/**
 * The gRPC Access Log Service as the control server registers it: method path and a decode step
 * that turns hostile input into a counted reason instead of an exception.
 */
import { AlsDecodeError, decodeAlsMessage, type AlsMessage } from './als-decode';

export const ALS_SERVICE_PATH = '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs';

export type Decoded =
  | { readonly ok: true; readonly value: AlsMessage }
  | { readonly ok: false; readonly reason: 'malformed' | 'too_many_entries'; readonly message: string };

export function decodeMessage(buf: Buffer, maxEntries: number): Decoded {
  try {
    return { ok: true, value: decodeAlsMessage(buf, maxEntries) };
  } catch (e) {
    if (!(e instanceof AlsDecodeError)) throw e;
    return { ok: false, reason: e.message.startsWith('more than') ? 'too_many_entries' : 'malformed', message: e.message };
  }
}
