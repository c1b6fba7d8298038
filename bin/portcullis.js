#!/usr/bin/env node
// The `portcullis` command: runs the compiled CLI (npm run build writes dist/).
require('../dist/cli/main.js').main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err && err.stack ? err.stack : String(err)); process.exitCode = 70; },
);
