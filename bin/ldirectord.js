#!/usr/bin/env -S node --optimize-for-size
// The V8 heap flags of DAEMON_NODE_FLAGS (src/daemon/detach.ts, which says why; the detached daemon gets them
// too when started as `node bin/ldirectord.js`); test/daemon/node-flags.test.ts keeps this line equal to it.
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  process.stderr.write(`ldirectord: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
