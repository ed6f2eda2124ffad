/**
 * The ldirectord.cf parser: file → immutable Config with every default of the original applied and
 * every name resolved. It reproduces the original's read_config line by line: where the original
 * accepts a file we accept it, where it rejects one we throw a ConfigError for the same line. Each
 * quirk the original has is kept on purpose and marked "Original's behaviour".
 *
 * This file is the reading loop (top level, virtual blocks and how a block ends) and the assembly of
 * the model; what each directive means is its entry in directives.ts, and the resolution of the
 * addresses a block wrote is in resolve.ts.
 */
import { readFile, stat } from 'node:fs/promises';

import type { Config, ConfigWarning, GlobalConfig, VirtualService } from '../model/config.js';
import { ConfigError } from '../util/errors.js';
import { buildGlobal, buildVirtualFields, type LineContext, readDirective } from './directives.js';
import { perlRe } from './perl.js';
import { parseVirtualHeader, resolveVirtual } from './resolve.js';
import { type GlobalDraft, Parser, type ParseOptions, type ResolvedVirtual } from './session.js';

export type { Resolver } from './resolver.js';
export type { ParseOptions } from './session.js';

// The original's line patterns (Perl syntax; see perlRe).
const R = {
  virtual: perlRe('^virtual(6)?\\s*=\\s*(.*)'),
  comment: perlRe('^\\s*#'),
  blank: perlRe('^\\s*$'),
  blockLine: perlRe('^ {4,}(.+)'),
};

function vaddrOf(rv: ResolvedVirtual): string {
  const v = rv.draft;
  if (v.protocol === 'fwm') return String(Number(v.fwm));
  return v.family === 6 ? `[${rv.ip}]:${rv.port}` : `${rv.ip}:${rv.port}`;
}

/** Warnings about combinations a whole block shows (each directive alone was fine). */
function warnAboutBlock(p: Parser, rv: ResolvedVirtual): void {
  const v = rv.draft;
  if (v.lines.ops !== undefined && v.set.ops && v.protocol !== 'udp') {
    p.warn(v.lines.ops, `ops=yes is ignored for a ${v.protocol} virtual service (one-packet scheduling is UDP only)`);
  }
  if (v.lines.netmask !== undefined && v.set.persistent === undefined) {
    p.warn(v.lines.netmask, 'netmask is ignored without persistent');
  }
  if (v.protocol === 'fwm') return;
  for (const r of rv.reals) {
    if (r.forward !== 'masq' && r.port !== 0 && r.port !== rv.port) {
      p.warn(
        r.pos.line,
        `real server ${r.ip}:${r.port} uses ${r.forward} but a port other than the virtual's (${rv.port}): ipvsadm uses the virtual's port, so the kernel entry will not match`,
      );
      break;
    }
  }
}

function buildVirtual(p: Parser, rv: ResolvedVirtual, global: GlobalConfig): VirtualService {
  const v = rv.draft;
  const fields = buildVirtualFields({ p, rv, v, global });
  warnAboutBlock(p, rv);
  return deepFreeze({
    keyword: v.keyword,
    family: v.family,
    protocol: v.protocol,
    ip: rv.ip,
    port: v.protocol === 'fwm' ? 0 : rv.port,
    ...(v.fwm === undefined ? {} : { fwmark: Number(v.fwm) }),
    vaddr: vaddrOf(rv),
    vid: rv.vid,
    reals: rv.reals,
    ...fields,
    pos: { file: p.file, line: v.line },
  } as VirtualService);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const k of Object.keys(o)) deepFreeze((o as Record<string, unknown>)[k]);
  }
  return o;
}

/** Splits text into lines as Perl's <FH> does: on "\n" only, the "\n" removed, CR kept. */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * parseConfigText parses the text of an ldirectord.cf. `file` is the name used in errors and
 * warnings. Throws ConfigError at the first line the original rejects.
 */
export async function parseConfigText(text: string, file: string, opts: ParseOptions = {}): Promise<Config> {
  const p = new Parser(file, opts);
  const g: GlobalDraft = { set: {} };
  const lines = splitLines(text);
  const resolved: ResolvedVirtual[] = [];
  const seen = new Set<string>();
  let next = 0; // index of the next line to read
  let pending: { text: string; line: number } | undefined;
  for (;;) {
    let raw: string;
    let line: number;
    if (pending) {
      ({ text: raw, line } = pending);
      pending = undefined;
    } else {
      if (next >= lines.length) break;
      raw = lines[next++];
      line = next;
    }
    const vm = R.virtual.exec(raw);
    if (vm) {
      const draft = parseVirtualHeader(p, vm[1] !== undefined ? 'virtual6' : 'virtual', vm[2], line);
      // The block: each following line, comments skipped, tabs as 4 spaces, needs >= 4 leading spaces.
      let cur = line;
      let leftover: string | undefined = raw;
      while (next < lines.length) {
        const bl = lines[next++];
        cur = next;
        leftover = bl;
        if (R.comment.test(bl)) continue;
        const stripped = bl.replace(/#.*/s, '').replace(/\t/g, '    ');
        const bm = R.blockLine.exec(stripped);
        if (!bm) break;
        const ctx: LineContext = { p, line: cur, raw: bl, place: 'virtual', g, v: draft };
        if (!(await readDirective(ctx, bm[1]))) p.error(cur, `unknown directive in virtual block: ${bl.trim()}`, bl);
        leftover = undefined;
      }
      resolved.push(await resolveVirtual(p, draft, cur, seen));
      if (leftover === undefined) break;
      // Original's behaviour: the line that ended the block is parsed again at top level. When the
      // virtual line is the last line of the file, that line is the virtual itself, which is then
      // read a second time and rejected as a duplicate.
      pending = { text: leftover, line: cur };
      continue;
    }
    if (R.blank.test(raw) || R.comment.test(raw)) continue;
    const ctx: LineContext = { p, line, raw, place: 'global', g };
    if (!(await readDirective(ctx, raw))) p.error(line, `unknown directive: ${raw.trim()}`, raw);
  }
  const global = buildGlobal(g);
  const virtuals = resolved.map((rv) => buildVirtual(p, rv, global));
  p.warnings.sort((a, b) => a.line - b.line);
  p.notes.sort((a, b) => a.line - b.line);
  return deepFreeze({ file, global, virtuals, warnings: p.warnings, ...(p.notes.length ? { notes: p.notes } : {}) });
}

/** parseConfigFile reads and parses an ldirectord.cf; an unreadable file is a ConfigError at line 0. */
export async function parseConfigFile(path: string, opts: ParseOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, 0, `can not open file: ${(e as NodeJS.ErrnoException).message}`);
  }
  const config = await parseConfigText(text, path, opts);
  // Anyone who can write the config controls the director (checkcommand, fallbackcommand, callback).
  const st = await stat(path).catch(() => undefined);
  if (!st || !(st.mode & 0o002)) return config;
  const w: ConfigWarning = { file: path, line: 0, message: `configuration file ${path} is world-writable: anyone can change what the director runs` };
  return deepFreeze({ ...config, warnings: [w, ...config.warnings] });
}
