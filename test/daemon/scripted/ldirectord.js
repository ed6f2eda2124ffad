// The command as the lifecycle tests run it: the real command line, start path, detaching, pid file,
// signals and daemon, over the scripted parser and director of ./parts.mjs. It is named ldirectord.js
// like the real launcher because the detached child, execute= instances and pid-file checks run or
// look for "this program as invoked". Test code only: the real launcher (bin/ldirectord.js) passes no parts.
import { main } from '../../../dist/cli/main.js';
import { scriptedParts } from './parts.mjs';

main(process.argv.slice(2), scriptedParts).catch((err) => {
  process.stderr.write(`ldirectord (scripted): ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
