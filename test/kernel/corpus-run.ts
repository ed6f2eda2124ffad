/**
 * Running the fidelity corpus: one shell script per sequence (ipvsadm found on PATH, so the fake or the
 * real one runs it alike), results printed as length-prefixed records so that every byte is kept, and the
 * golden file format (test/kernel/golden/ipvsadm-real.txt) holding the real ipvsadm's answers.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusSequence } from './corpus.js';

export interface CmdResult {
  stdout: string;
  stderr: string;
  rc: number;
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The words of a corpus command line. */
export function words(args: string): string[] {
  return args.split(/\s+/).filter((w) => w !== '');
}

/**
 * writeCorpusPayload writes into dir: seq-<i>.sh per sequence, their stdin files, and run.sh running
 * all sequences in order (the VM's entry point). Each record: `@@@R <seq> <cmd> <rc> <outBytes> <errBytes>`
 * then the raw stdout and stderr.
 */
export function writeCorpusPayload(dir: string, corpus: CorpusSequence[]): void {
  mkdirSync(dir, { recursive: true });
  const all: string[] = ['#!/bin/sh', 'cd "$(dirname "$0")"', 'R=$(mktemp -d)', 'export R'];
  corpus.forEach((s, i) => {
    const lines = ['#!/bin/sh', 'cd "$(dirname "$0")"', 'own=; if [ -z "$R" ]; then R=$(mktemp -d); own=1; fi'];
    s.cmds.forEach((cmd, j) => {
      let input = '/dev/null';
      if (cmd.stdin !== undefined) {
        input = `in-${i}-${j}.txt`;
        writeFileSync(join(dir, input), cmd.stdin);
      }
      const argv = words(cmd.args).map(shq).join(' ');
      lines.push(`[ -n "$LDTS_IN_VM" ] && { read up _ </proc/uptime; echo "@@@PROGRESS ${i}/${j} $up" >/dev/ttyS0; }`);
      lines.push(`ipvsadm ${argv} <${input} >"$R/${i}-${j}.out" 2>"$R/${i}-${j}.err"; echo $? >"$R/${i}-${j}.rc"`);
    });
    lines.push('[ -n "$own" ] && { tar -C "$R" -cf - .; rm -rf "$R"; }', '');
    writeFileSync(join(dir, `seq-${i}.sh`), lines.join('\n'));
    all.push(`sh ./seq-${i}.sh`);
  });
  all.push('tar -C "$R" -cf - .', '');
  writeFileSync(join(dir, 'run.sh'), all.join('\n'));
}

/** parseRecords reads the results out of a payload's stdout (a tar of <seq>-<cmd>.{out,err,rc}): key `${seq}/${cmd}`. */
export function parseRecords(out: string | Buffer): Map<string, CmdResult> {
  const buf = typeof out === 'string' ? Buffer.from(out, 'latin1') : out;
  const files = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= buf.length; ) {
    const h = buf.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '').replace(/^\.\//, '');
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 0x30);
    if (type === '0') files.set(name, buf.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  const res = new Map<string, CmdResult>();
  for (const [name, data] of files) {
    const m = /^(\d+)-(\d+)\.rc$/.exec(name);
    if (!m) continue;
    const base = `${m[1]}-${m[2]}`;
    res.set(`${m[1]}/${m[2]}`, {
      stdout: (files.get(`${base}.out`) ?? Buffer.alloc(0)).toString('utf8'),
      stderr: (files.get(`${base}.err`) ?? Buffer.alloc(0)).toString('utf8'),
      rc: Number(data.toString().trim()),
    });
  }
  return res;
}

/** runCorpusOnHost runs each sequence's script with `binDir` first on PATH, `parallel` at a time. */
export async function runCorpusOnHost(dir: string, corpus: CorpusSequence[], binDir: string, envFor: (i: number) => Record<string, string>, parallel = 4): Promise<Map<string, CmdResult>> {
  const all = new Map<string, CmdResult>();
  let next = 0;
  const worker = async () => {
    while (next < corpus.length) {
      const i = next++;
      const out = await new Promise<Buffer>((res, rej) => {
        const env: NodeJS.ProcessEnv = { ...process.env, ...envFor(i) };
        delete env.R;
        delete env.LDTS_IN_VM;
        const child = spawn('sh', [join(dir, `seq-${i}.sh`)], {
          env: { ...env, PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}` },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const chunks: Buffer[] = [];
        child.stdout.on('data', (b: Buffer) => chunks.push(b));
        child.on('error', rej);
        child.on('close', () => res(Buffer.concat(chunks)));
      });
      for (const [k, v] of parseRecords(out)) all.set(k, v);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return all;
}

/** The golden file: every command of the corpus with the real ipvsadm's answer, bytes counted. */
export function formatGolden(corpus: CorpusSequence[], results: Map<string, CmdResult>, header: string): string {
  const parts: string[] = [header.trimEnd() + '\n'];
  corpus.forEach((s, i) => {
    parts.push(`\n=== SEQUENCE ${i}: ${s.name}\n`);
    s.cmds.forEach((cmd, j) => {
      const r = results.get(`${i}/${j}`);
      parts.push(`--- CMD ${i}/${j}: ipvsadm ${cmd.args}\n`);
      if (cmd.stdin !== undefined) parts.push(`--- stdin (${Buffer.byteLength(cmd.stdin)} bytes)\n${cmd.stdin}\n`);
      if (!r) {
        parts.push('--- missing\n');
        return;
      }
      parts.push(`--- stdout (${Buffer.byteLength(r.stdout)} bytes)\n${r.stdout}\n`);
      parts.push(`--- stderr (${Buffer.byteLength(r.stderr)} bytes)\n${r.stderr}\n`);
      parts.push(`--- rc ${r.rc}\n`);
    });
  });
  return parts.join('');
}

/** parseGolden reads formatGolden's output back: key `${seq}/${cmd}` plus the command line it was recorded for. */
export function parseGolden(text: string): Map<string, CmdResult & { args: string; stdin?: string }> {
  const buf = Buffer.from(text, 'utf8');
  const res = new Map<string, CmdResult & { args: string; stdin?: string }>();
  let at = 0;
  const readLine = () => {
    const nl = buf.indexOf(0x0a, at);
    const line = buf.subarray(at, nl < 0 ? buf.length : nl).toString('utf8');
    at = nl < 0 ? buf.length : nl + 1;
    return line;
  };
  const readBytes = (n: number) => {
    const s = buf.subarray(at, at + n).toString('utf8');
    at += n + 1; // the newline after the block
    return s;
  };
  let cur: { key: string; args: string; stdin?: string; stdout?: string; stderr?: string } | undefined;
  while (at < buf.length) {
    const line = readLine();
    let m: RegExpExecArray | null;
    if ((m = /^--- CMD (\d+\/\d+): ipvsadm ?(.*)$/.exec(line))) cur = { key: m[1], args: m[2] };
    else if (cur && (m = /^--- (stdin|stdout|stderr) \((\d+) bytes\)$/.exec(line))) cur[m[1] as 'stdin' | 'stdout' | 'stderr'] = readBytes(Number(m[2]));
    else if (cur && (m = /^--- rc (\d+)$/.exec(line))) {
      res.set(cur.key, { args: cur.args, ...(cur.stdin !== undefined ? { stdin: cur.stdin } : {}), stdout: cur.stdout ?? '', stderr: cur.stderr ?? '', rc: Number(m[1]) });
      cur = undefined;
    }
  }
  return res;
}
