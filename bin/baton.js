#!/usr/bin/env node
// The `baton` command: runs the compiled CLI (built by `npm ci` through the `prepare` script).
import("../dist/main/index.js").then((cli) => cli.run(process.argv));
