/**
 * Decoder of Envoy's access-log stream (envoy.service.accesslog.v3.StreamAccessLogsMessage, proto3
 * wire format), reading only the fields the monitor counts and skipping the rest without copying.
 * Hand-written because the service is not in the ADS descriptor set and because ingest is the hot
 * path (protobufjs would build every nested message). Hostile input throws AlsDecodeError.
 */

/** One HTTP request as the monitor sees it. */
export interface AccessEntry {
  /** Request start, ms since the epoch (windows bucket by this, not by arrival). */
  startMs: number;
  route: string;
  /** 0 when Envoy sent no response (client reset before any). */
  status: number;
  /** Envoy's response_code_details: via_upstream, jwt_authn_access_denied{...}, ... */
  details: string;
  /** The client address Envoy used (X-Forwarded-For past the trusted hops), '' when not an IP socket. */
  clientIp: string;
  /** Claims of the verified token (custom tags sub / jti / client_id), '' when absent. */
  sub: string;
  jti: string;
  clientId: string;
  /** The RBAC shadow policy that would have refused the request (custom tag shadow_policy, `shadow <overlay>`), '' when none. */
  shadowPolicy: string;
}

export interface AlsMessage {
  /** Present on the first message of a stream. */
  identifier: { nodeId: string; cluster: string; logName: string } | null;
  entries: AccessEntry[];
}

export class AlsDecodeError extends Error {}

/** Claims longer than this are cut (a token id is never this long; memory stays bounded). */
const MAX_TAG = 256;

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  more(): boolean {
    return this.pos < this.end;
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new AlsDecodeError('truncated varint');
      const b = this.buf[this.pos++] as number;
      if (shift < 28) result |= (b & 0x7f) << shift;
      else if (shift < 53) result += (b & 0x7f) * 2 ** shift;
      else if (shift > 63) throw new AlsDecodeError('varint too long');
      if (b < 0x80) return shift < 28 ? result >>> 0 : result;
      shift += 7;
    }
  }
  /** Length of a length-delimited field; the reader is left at its first byte. */
  length(): number {
    const n = this.varint();
    if (n > this.end - this.pos) throw new AlsDecodeError('length past the end of the message');
    return n;
  }
  string(max = Infinity): string {
    const n = this.length();
    const s = this.buf.toString('utf8', this.pos, this.pos + Math.min(n, max));
    this.pos += n;
    return s;
  }
  sub(): Reader {
    const n = this.length();
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        // Not `this.pos += this.length()`: that reads pos before length() moves it past the varint.
        const n = this.length();
        this.pos += n;
        return;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new AlsDecodeError(`unsupported wire type ${wire}`);
    }
    if (this.pos > this.end) throw new AlsDecodeError('fixed field past the end of the message');
  }
}

/** Decodes one StreamAccessLogsMessage; HTTP entries only (tcp_logs are skipped). */
export function decodeAlsMessage(buf: Buffer, maxEntries: number): AlsMessage {
  const r = new Reader(buf, 0, buf.length);
  const out: AlsMessage = { identifier: null, entries: [] };
  while (r.more()) {
    const tag = r.varint();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === 2) out.identifier = identifier(r.sub());
    else if (field === 2 && (tag & 7) === 2) {
      const logs = r.sub();
      while (logs.more()) {
        const t = logs.varint();
        if (t >>> 3 === 1 && (t & 7) === 2) {
          if (out.entries.length >= maxEntries) throw new AlsDecodeError(`more than ${maxEntries} entries in one message`);
          out.entries.push(entry(logs.sub()));
        } else logs.skip(t & 7);
      }
    } else r.skip(tag & 7);
  }
  return out;
}

function identifier(r: Reader): AlsMessage['identifier'] {
  const id = { nodeId: '', cluster: '', logName: '' };
  while (r.more()) {
    const tag = r.varint();
    if (tag === (1 << 3) + 2) {
      const node = r.sub();
      while (node.more()) {
        const t = node.varint();
        if (t === (1 << 3) + 2) id.nodeId = node.string(MAX_TAG);
        else if (t === (2 << 3) + 2) id.cluster = node.string(MAX_TAG);
        else node.skip(t & 7);
      }
    } else if (tag === (2 << 3) + 2) id.logName = r.string(MAX_TAG);
    else r.skip(tag & 7);
  }
  return id;
}

function entry(r: Reader): AccessEntry {
  const e: AccessEntry = { startMs: 0, route: '', status: 0, details: '', clientIp: '', sub: '', jti: '', clientId: '', shadowPolicy: '' };
  while (r.more()) {
    const tag = r.varint();
    if (tag === (1 << 3) + 2) common(r.sub(), e);
    else if (tag === (4 << 3) + 2) response(r.sub(), e);
    else r.skip(tag & 7);
  }
  return e;
}

function common(r: Reader, e: AccessEntry): void {
  while (r.more()) {
    const tag = r.varint();
    switch (tag) {
      case (2 << 3) + 2: // downstream_remote_address: Address.socket_address.address
        e.clientIp = socketAddress(r.sub());
        break;
      case (5 << 3) + 2: // start_time
        e.startMs = timestamp(r.sub());
        break;
      case (19 << 3) + 2:
        e.route = r.string(MAX_TAG);
        break;
      case (22 << 3) + 2: // custom_tags map entry
        customTag(r.sub(), e);
        break;
      default:
        r.skip(tag & 7);
    }
  }
}

function socketAddress(address: Reader): string {
  let ip = '';
  while (address.more()) {
    const t = address.varint();
    if (t === (1 << 3) + 2) {
      const sa = address.sub();
      while (sa.more()) {
        const u = sa.varint();
        if (u === (2 << 3) + 2) ip = sa.string(64);
        else sa.skip(u & 7);
      }
    } else address.skip(t & 7);
  }
  return ip;
}

function timestamp(r: Reader): number {
  let seconds = 0;
  let nanos = 0;
  while (r.more()) {
    const t = r.varint();
    if (t === (1 << 3) + 0) seconds = r.varint();
    else if (t === (2 << 3) + 0) nanos = r.varint();
    else r.skip(t & 7);
  }
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

function customTag(r: Reader, e: AccessEntry): void {
  let key = '';
  let value = '';
  while (r.more()) {
    const t = r.varint();
    if (t === (1 << 3) + 2) key = r.string(32);
    else if (t === (2 << 3) + 2) value = r.string(MAX_TAG);
    else r.skip(t & 7);
  }
  if (key === 'sub') e.sub = value;
  else if (key === 'jti') e.jti = value;
  else if (key === 'client_id') e.clientId = value;
  else if (key === 'shadow_policy') e.shadowPolicy = value;
}

function response(r: Reader, e: AccessEntry): void {
  while (r.more()) {
    const tag = r.varint();
    if (tag === (1 << 3) + 2) {
      const v = r.sub(); // UInt32Value
      while (v.more()) {
        const t = v.varint();
        if (t === (1 << 3) + 0) e.status = v.varint();
        else v.skip(t & 7);
      }
    } else if (tag === (6 << 3) + 2) e.details = r.string(MAX_TAG);
    else r.skip(tag & 7);
  }
}
