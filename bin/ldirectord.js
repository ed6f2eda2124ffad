#!/usr/bin/env -S node --optimize-for-size
// --optimize-for-size: V8 grows the heap far less eagerly; a daemon checking 10 000 reals stays near 90 MB RSS
// instead of 170-190 MB (bench/checks.mjs). The detached daemon gets it too when started as `node bin/ldirectord.js`.
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  process.stderr.write(`ldirectord: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
