#!/usr/bin/env node
// Benchmark (not a test): time parseConfigText on a config with 10 000 real servers, written one
// real= line each (100 virtuals x 100 reals, loopback addresses). Needs `npm run build` first.
import { parseConfigText } from '../dist/config/parse.js';

const lines = ['checktimeout=3', 'negotiatetimeout=10', ''];
for (let v = 0; v < 100; v++) {
  lines.push(`virtual=127.0.${v}.1:${8000 + v}`);
  for (let r = 0; r < 100; r++) lines.push(`\treal=127.${100 + v}.${r}.2:${8000 + v} masq ${1 + (r % 5)}`);
  lines.push('\tservice=http', '\trequest="health"', '\treceive="OK"', '\tscheduler=wlc', '');
}
const text = lines.join('\n');
const opts = { checkFiles: false, hostname: 'bench' };

await parseConfigText(text, 'bench.cf', opts); // warm-up
const runs = 5;
const times = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  const c = await parseConfigText(text, 'bench.cf', opts);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  if (c.virtuals.reduce((n, v) => n + v.reals.length, 0) !== 10000) throw new Error('wrong real count');
}
times.sort((a, b) => a - b);
console.log(`parse 10000 reals (100 virtuals): median ${times[runs >> 1].toFixed(1)} ms, min ${times[0].toFixed(1)} ms over ${runs} runs`);
