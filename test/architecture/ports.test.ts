import { fork } from 'node:child_process';
import { join } from 'node:path';
import { freePorts } from '../support/ports';

// jest runs test files in several worker processes: a port one of them picked (and closed again
// until its server binds it) must not be handed to another, or both tests turn flaky.
test('a port handed out in one process is refused to every other test process', async () => {
  const mine = await freePorts(20);
  const child = fork(join(__dirname, 'ports-child.js'), [], { execArgv: ['-r', 'ts-node/register/transpile-only'] });
  const verdicts = await new Promise<boolean[]>((resolve, reject) => {
    child.once('message', (m) => resolve(m as boolean[]));
    child.once('error', reject);
    child.send(mine);
  });
  expect(verdicts).toEqual(mine.map(() => false));
}, 60_000);
