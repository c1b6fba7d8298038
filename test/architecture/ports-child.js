// Child of ports.test.ts: tries to reserve the ports its parent was handed, and says which it got.
const { reservePort } = require('../support/ports');
process.once('message', (ports) => {
  process.send(ports.map((p) => reservePort(p)));
  process.exit(0);
});
