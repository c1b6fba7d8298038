/** Test child: appends audit records as fast as it can until killed (the kill -9 test). argv: dir fsync */
import { AuditWriter, type FsyncPolicy } from '../../audit';

async function main(): Promise<void> {
  const [dir, fsync] = process.argv.slice(2) as [string, FsyncPolicy];
  const writer = await AuditWriter.open({ dir, stream: 'serve', fsync });
  let i = 0;
  for (;;) {
    // Many records in flight at once: every batch is one write of many lines.
    const batch = Array.from({ length: 200 }, () =>
      writer.record(i % 50 === 0 ? 'xds.nack' : 'xds.ack', { node: `envoy-${i % 97}`, type: 'route', version: `v${i}`, commit: 'c0ffee', environment: 'prod', error: 'e'.repeat(1 + (i++ % 300)) }),
    );
    await Promise.all(batch);
    // How many records are on disk so far: the test kills the child once enough are.
    process.stdout.write(`appended ${i}\n`);
  }
}

void main();
