/**
 * Reads the transcripts captured from the real ipvsadm 1.31 (ipvsadm-real.md, a copy of
 * shared/reference/ipvsadm-real.md) into sessions of {argv, stdin, stdout, stderr, exit status}.
 * Each session starts from an empty table.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface TranscriptStep {
  /** The command as captured (after `ipvsadm `). */
  readonly cmd: string;
  readonly argv: readonly string[];
  readonly stdin?: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly rc: number;
}

export interface TranscriptSession {
  readonly name: string;
  readonly steps: readonly TranscriptStep[];
}

/**
 * The stdin of the `-R` runs: the captures name them but do not show them; these are reconstructed
 * from the tables listed right after each one.
 */
const RESTORE_INPUTS: Record<string, string> = {
  '-R <<heredoc': [
    '-A -t 10.0.0.1:80 -s wlc',
    '-a -t 10.0.0.1:80 -r 192.168.1.10:8080 -m -w 2',
    '-a -t 10.0.0.1:80 -r 192.168.1.11:8080 -m -w 5',
    '-A -u 10.0.0.1:53 -s sh',
    '-a -u 10.0.0.1:53 -r 192.168.1.20:53 -i -w 1',
    '-A -t [2001:db8::1]:443 -s rr',
    '-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 1',
    '-A -f 42 -s lc -p 60',
    '-a -f 42 -r 192.168.1.30 -g -w 1',
    '',
  ].join('\n'),
  '-R <<bad-heredoc': ['-A -t 10.0.0.2:80 -s rr', '-A -t 10.0.0.1:80 -s rr', '-A -t 10.0.0.3:80 -s rr', ''].join('\n'),
  '-R (line 2 garbage)': ['-A -t 10.1.0.1:80 -s rr', 'this is not a command', '-A -t 10.1.0.2:80 -s rr', ''].join('\n'),
  '-R (line 2 unknown scheduler)': ['-A -t 10.2.0.1:80 -s rr', '-A -t 10.2.0.2:80 -s nosuch', '-A -t 10.2.0.3:80 -s rr', ''].join(
    '\n',
  ),
};

function argvOf(cmd: string): string[] {
  const m = /^(-R)\b/.exec(cmd);
  if (m) return ['-R'];
  return cmd.split(/\s+/).filter((w) => w !== '');
}

/** Section 1 format: ---stdout / ---stderr / ---rc=N blocks. */
function parseBlockFormat(body: string): TranscriptStep[] {
  const steps: TranscriptStep[] = [];
  const recs = body.split(/^===CMD: /m).slice(1);
  for (const rec of recs) {
    const lines = rec.split('\n');
    const head = lines[0];
    if (!head.startsWith('ipvsadm')) continue;
    const cmd = head.replace(/^ipvsadm ?/, '');
    let mode: 'none' | 'out' | 'err' = 'none';
    const out: string[] = [];
    const err: string[] = [];
    let rc = -1;
    for (const l of lines.slice(1)) {
      if (l === '---stdout') mode = 'out';
      else if (l === '---stderr') mode = 'err';
      else if (l.startsWith('---rc=')) {
        rc = Number(l.slice(6));
        break;
      } else if (mode === 'out') out.push(l);
      else if (mode === 'err') err.push(l);
    }
    steps.push({
      cmd,
      argv: argvOf(cmd),
      stdin: RESTORE_INPUTS[cmd],
      stdout: out.map((l) => l + '\n').join(''),
      stderr: err.map((l) => l + '\n').join(''),
      rc,
    });
  }
  return steps;
}

/** Sections 2 and 3 format: stdout lines bare, `[stderr] ` lines, kernel console lines, ---rc=N. */
function parseInlineFormat(body: string): TranscriptStep[] {
  const steps: TranscriptStep[] = [];
  const recs = body.split(/^===CMD: /m).slice(1);
  for (const rec of recs) {
    const lines = rec.split('\n');
    const head = lines[0];
    if (!head.startsWith('ipvsadm')) continue;
    const cmd = head.replace(/^ipvsadm ?/, '');
    const out: string[] = [];
    const err: string[] = [];
    let rc = -1;
    for (const l of lines.slice(1)) {
      if (l.startsWith('---rc=')) {
        rc = Number(l.slice(6));
        break;
      }
      if (l.startsWith('[stderr] ')) err.push(l.slice(9));
      else if (/^\[\s*\d+\.\d+\]/.test(l)) continue; // kernel console
      else out.push(l);
    }
    steps.push({
      cmd,
      argv: argvOf(cmd),
      stdin: RESTORE_INPUTS[cmd],
      stdout: out.map((l) => l + '\n').join(''),
      stderr: err.map((l) => l + '\n').join(''),
      rc,
    });
  }
  return steps;
}

export function loadTranscripts(): TranscriptSession[] {
  const text = readFileSync(fileURLToPath(new URL('./ipvsadm-real.md', import.meta.url)), 'utf8');
  const payloads = [...text.matchAll(/@@@PAYLOAD_START\n([\s\S]*?)@@@PAYLOAD_END/g)].map((m) => m[1]);
  const destSection = /## Destination semantics[^\n]*\n```\n([\s\S]*?)```/.exec(text);
  if (payloads.length < 2 || !destSection) throw new Error('ipvsadm-real.md: transcript sections not found');
  return [
    { name: 'full transcripts', steps: parseBlockFormat(payloads[0]) },
    { name: 'more command forms and errors', steps: parseInlineFormat(payloads[1]) },
    { name: 'destination semantics', steps: parseInlineFormat(destSection[1]) },
  ];
}
