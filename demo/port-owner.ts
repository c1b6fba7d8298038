/**
 * Who holds a TCP port (Linux): the listening sockets in /proc/net/tcp{,6} and the processes whose
 * file descriptors point at them. Used by the `npm start` preflight to name what is in the way;
 * another user's processes cannot be inspected, so an owner may stay unknown.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface PortOwner {
  readonly pid: number;
  readonly command: string;
}

const LISTEN = '0A';

/** Socket inodes listening on `port` (any address, IPv4 or IPv6). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const local = cols[1];
      if (!local || cols[3] !== LISTEN) continue;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && cols[9] && cols[9] !== '0') inodes.add(cols[9]);
    }
  }
  return inodes;
}

/** The processes (that this user may inspect) holding a listening socket on `port`. */
export function portOwners(port: number): PortOwner[] {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return [];
  const owners: PortOwner[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or another user's
    }
    const holds = fds.some((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`));
        return m !== null && inodes.has(m[1]!);
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    let command = '?';
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 120) || readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      // exited meanwhile
    }
    owners.push({ pid: Number(entry), command });
  }
  return owners.sort((a, b) => a.pid - b.pid);
}
