/**
 * Encodes access-log stream messages the way Envoy does (the fields the monitor reads), for the
 * monitor's tests and benchmark. Field numbers are those of envoy/service/accesslog/v3/als.proto and
 * envoy/data/accesslog/v3/accesslog.proto.
 */
import { Writer } from 'protobufjs';
import type { AccessEntry } from '../../monitor/als-decode';

function str(w: Writer, field: number, value: string): void {
  if (value !== '') w.uint32((field << 3) | 2).string(value);
}

function message(w: Writer, field: number, body: (w: Writer) => void): void {
  w.uint32((field << 3) | 2).fork();
  body(w);
  w.ldelim();
}

function entry(w: Writer, e: AccessEntry): void {
  message(w, 1, (c) => {
    if (e.clientIp) message(c, 2, (a) => message(a, 1, (s) => {
      str(s, 2, e.clientIp);
      s.uint32((3 << 3) | 0).uint32(40000);
    }));
    message(c, 5, (t) => {
      t.uint32((1 << 3) | 0).int64(Math.floor(e.startMs / 1000));
      t.uint32((2 << 3) | 0).int32((e.startMs % 1000) * 1e6);
    });
    str(c, 19, e.route);
    for (const [k, v] of [['sub', e.sub], ['jti', e.jti], ['client_id', e.clientId], ['shadow_policy', e.shadowPolicy]] as const) {
      if (v) message(c, 22, (m) => {
        str(m, 1, k);
        str(m, 2, v);
      });
    }
  });
  message(w, 4, (r) => {
    if (e.status) message(r, 1, (v) => v.uint32((1 << 3) | 0).uint32(e.status));
    str(r, 6, e.details);
  });
}

/** One StreamAccessLogsMessage; `identifier` on the first message of a stream only. */
export function encodeAlsMessage(entries: readonly AccessEntry[], identifier?: { nodeId: string; cluster: string; logName: string }): Buffer {
  const w = Writer.create();
  if (identifier) {
    message(w, 1, (i) => {
      message(i, 1, (n) => {
        str(n, 1, identifier.nodeId);
        str(n, 2, identifier.cluster);
      });
      str(i, 2, identifier.logName);
    });
  }
  message(w, 2, (logs) => {
    for (const e of entries) message(logs, 1, (x) => entry(x, e));
  });
  return Buffer.from(w.finish());
}

/** An entry with defaults for what a test does not care about. */
export function accessEntry(e: Partial<AccessEntry> & { startMs: number }): AccessEntry {
  return { route: '', status: 200, details: 'via_upstream', clientIp: '192.0.2.1', sub: '', jti: '', clientId: '', shadowPolicy: '', ...e };
}
