/**
 * Test harness: free TCP ports on 127.0.0.1 (bind to 0, read the port, close). A port handed out is
 * also reserved for a while in a folder every test process shares (one file per port, created
 * exclusively), so two jest workers — or two test runs on one machine — never get the same port
 * while the first one's server is still starting.
 */
import { mkdirSync, openSync, closeSync, statSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RESERVATIONS = join(tmpdir(), 'portcullis-test-ports');
/** How long a reservation holds: longer than any test keeps a port it picked unbound. */
const RESERVATION_MS = 10 * 60_000;

/** Reserves `port` for this process (false when another test process holds it). */
export function reservePort(port: number): boolean {
  const file = join(RESERVATIONS, String(port));
  try {
    closeSync(openSync(file, 'wx'));
    return true;
  } catch {
    // Held by someone: free it only when the reservation is stale.
    try {
      if (Date.now() - statSync(file).mtimeMs < RESERVATION_MS) return false;
      unlinkSync(file);
      closeSync(openSync(file, 'wx'));
      return true;
    } catch {
      return false;
    }
  }
}

function bindAny(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

export async function freePort(): Promise<number> {
  mkdirSync(RESERVATIONS, { recursive: true });
  for (;;) {
    const port = await bindAny();
    if (reservePort(port)) return port;
  }
}

export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await freePort());
  return out;
}
