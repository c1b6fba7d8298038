#!/usr/bin/env node
// The `portcullis` command: runs the compiled CLI (npm run build writes dist/).
require('../dist/cli/main.js').runProcess(process.argv);
