#!/usr/bin/env node
// Records the Perl original's verdict on every corpus config into expected.json.
// Usage (as root, with the Debian package ldirectord installed):
//   node test/differential/config/record.mjs
// Never edit expected.json by hand: re-run this script after changing the corpus.
import { readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { originalUnavailableReason, runOriginal, LDIRECTORD } from './original.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const corpus = join(here, 'corpus');
const reason = originalUnavailableReason();
if (reason) {
  console.error(`cannot record: ${reason}`);
  process.exit(1);
}
const files = (await readdir(corpus)).filter((f) => f.endsWith('.cf')).sort();
const results = {};
const parallel = 12;
let next = 0;
const started = Date.now();
await Promise.all(
  Array.from({ length: parallel }, async () => {
    while (next < files.length) {
      const f = files[next++];
      const r = await runOriginal(join(corpus, f), { ipvsadm: true });
      if (r.verdict === 'unknown') {
        console.error(`${f}: no verdict (exit ${r.exit}, signal ${r.signal})\n${r.output}`);
        process.exitCode = 1;
      }
      results[f] = {
        verdict: r.verdict,
        ...(r.verdict === 'reject' ? { line: r.line, message: r.message } : {}),
        ...(r.warnings.length ? { warnings: r.warnings } : {}),
        // Start-up table changes of an accepted config (set semantics: order and repeats dropped).
        ...(r.realIds ? { realIds: [...new Set(r.realIds)].sort() } : {}),
        ...(r.ipvsadm ? { ipvsadm: [...new Set(r.ipvsadm.map((c) => c.trim().split(/\s+/).join(' ')))].sort() } : {}),
      };
      console.log(`${f}: ${r.verdict}${r.verdict === 'reject' ? ` at line ${r.line}: ${r.message}` : ''}`);
    }
  }),
);
let version = '';
try {
  version = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'ldirectord'], { encoding: 'utf8' });
} catch {
  /* not a Debian system */
}
const sorted = Object.fromEntries(Object.keys(results).sort().map((k) => [k, results[k]]));
await writeFile(
  join(here, 'expected.json'),
  JSON.stringify({ recordedWith: `${LDIRECTORD} (ldirectord ${version})`, configs: sorted }, null, 2) + '\n',
);
console.log(`recorded ${files.length} configs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
