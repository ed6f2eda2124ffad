/**
 * Translation of the Perl regular expressions of receive= into JavaScript RegExps of identical meaning.
 *
 * The original matches `$answer =~ /$receive/`: the pattern is interpolated at run time and compiled by
 * Perl's regex engine on byte strings (the config file is read as bytes, answers are bytes). So:
 * - the pattern is taken as its UTF-8 bytes and the subject must be given as bytes too: pass answers
 *   through `perlSubject()` (latin1 decoding, one char per byte);
 * - \d \w \s \b and the POSIX classes have ASCII meaning (Perl's /d rules on non-UTF-8 strings);
 * - `.` excludes only "\n"; `$` matches at the end or before a final "\n"; `^` and `$` under (?m)
 *   react to "\n" only (never "\r" as JS's m flag would);
 * - (?i) folds ASCII letters only, and may be scoped ((?i:...), (?i) mid-group): done by expansion,
 *   the JS `i` flag is never used;
 * - \Q, \E, \U, \L, \u, \l are string-literal escapes, not regex ones: in an interpolated pattern Perl
 *   passes them through as the plain letters Q, E, U, L, u, l (unless `{ interpolated: false }`, where
 *   \Q...\E quotes as in a literal Perl pattern).
 * Whatever JS cannot express with the same meaning (recursion, \G, possessive quantifiers, atomic
 * groups, code blocks, conditionals, branch reset, backtracking verbs, \X, \K, \R, Unicode properties,
 * backreferences under /i ...) throws an Error naming the construct.
 */

/** Options of translatePerlRegex. */
export interface PerlRegexOptions {
  /**
   * true (default): the pattern is interpolated at run time as receive= is in the original, so \Q...\E
   * are plain letters. false: \Q...\E quote as in a Perl source literal.
   */
  readonly interpolated?: boolean;
}

/** perlSubject turns raw answer bytes into the string a translated pattern must be matched against. */
export function perlSubject(data: Uint8Array | string): string {
  if (typeof data === 'string') return Buffer.from(data, 'utf8').toString('latin1');
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
}

/** perlMatch: the original's `$answer =~ /$receive/` (an empty receive always matches). */
export function perlMatch(pattern: string, answer: Uint8Array | string): boolean {
  if (pattern === '') return true;
  return translatePerlRegex(pattern).test(perlSubject(answer));
}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  x: boolean;
  xx: boolean;
  n: boolean;
}

type Range = [number, number];

const MAXCH = 0xffff;
const R_DIGIT: Range[] = [[0x30, 0x39]];
const R_WORD: Range[] = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
const R_SPACE: Range[] = [[0x09, 0x0d], [0x20, 0x20]];
const R_HSPACE: Range[] = [[0x09, 0x09], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x180e, 0x180e],
  [0x2000, 0x200a], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000]];
const R_VSPACE: Range[] = [[0x0a, 0x0d], [0x85, 0x85], [0x2028, 0x2029]];

const POSIX: Record<string, Range[]> = {
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  digit: R_DIGIT,
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  upper: [[0x41, 0x5a]],
  lower: [[0x61, 0x7a]],
  space: R_SPACE,
  blank: [[0x09, 0x09], [0x20, 0x20]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  print: [[0x20, 0x7e]],
  graph: [[0x21, 0x7e]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
  word: R_WORD,
  ascii: [[0x00, 0x7f]],
};

function normalize(ranges: Range[]): Range[] {
  const s = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const r of s) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

function complement(ranges: Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [a, b] of normalize(ranges)) {
    if (a > next) out.push([next, a - 1]);
    next = b + 1;
  }
  if (next <= MAXCH) out.push([next, MAXCH]);
  return out;
}

/** ASCII case closure (Perl /d rules: only A-Z and a-z fold). */
function foldRanges(ranges: Range[]): Range[] {
  const out = [...ranges];
  for (const [a, b] of ranges) {
    const lo = Math.max(a, 0x41), hi = Math.min(b, 0x5a);
    if (lo <= hi) out.push([lo + 32, hi + 32]);
    const lo2 = Math.max(a, 0x61), hi2 = Math.min(b, 0x7a);
    if (lo2 <= hi2) out.push([lo2 - 32, hi2 - 32]);
  }
  return normalize(out);
}

function esc(c: number): string {
  return c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

function classSource(ranges: Range[]): string {
  const n = normalize(ranges);
  if (n.length === 0) return '[^\\s\\S]';
  if (n.length === 1 && n[0][0] === 0 && n[0][1] === MAXCH) return '[\\s\\S]';
  const body = n.map(([a, b]) => (a === b ? esc(a) : `${esc(a)}-${esc(b)}`)).join('');
  return `[${body}]`;
}

function literal(c: number, f: Flags): string {
  if (f.i && ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) return classSource(foldRanges([[c, c]]));
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f) {
    return String.fromCharCode(c);
  }
  return esc(c);
}

class PerlRegexError extends Error {
  constructor(construct: string, pos: number, src: string) {
    super(`receive pattern ${JSON.stringify(src)}: ${construct} (at offset ${pos}) cannot be matched as in Perl`);
    this.name = 'PerlRegexError';
  }
}

class Translator {
  private pos = 0;
  /** JS capture group number of each Perl group (1-based; Perl numbers are the indices). */
  private groups = 0;
  private readonly names = new Map<string, number>();
  private quoting = false;

  constructor(
    private readonly s: string,
    private readonly orig: string,
    private readonly interpolated: boolean,
    private readonly totalGroups: number,
  ) {}

  fail(construct: string, at = this.pos): never {
    throw new PerlRegexError(construct, at, this.orig);
  }

  get groupCount(): number {
    return this.groups;
  }

  translate(): string {
    const f: Flags = { i: false, m: false, s: false, x: false, xx: false, n: false };
    const out = this.alternation(f);
    if (this.pos < this.s.length) this.fail('unmatched ")"');
    return out;
  }

  private peek(o = 0): string {
    return this.s[this.pos + o] ?? '';
  }

  private alternation(f: Flags): string {
    const branches: string[] = [];
    // A (?flags) changes the flags until the end of the enclosing group, across later branches too.
    const flags = { ...f };
    for (;;) {
      branches.push(this.sequence(flags));
      if (this.peek() === '|') {
        this.pos++;
        continue;
      }
      break;
    }
    return branches.join('|');
  }

  private skipExtended(f: Flags): void {
    if (!f.x || this.quoting) return;
    for (;;) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') this.pos++;
      else if (c === '#') {
        while (this.pos < this.s.length && this.s[this.pos] !== '\n') this.pos++;
      } else return;
    }
  }

  private sequence(f: Flags): string {
    let out = '';
    for (;;) {
      this.skipExtended(f);
      if (this.pos >= this.s.length) return out;
      const c = this.peek();
      if (!this.quoting && (c === '|' || c === ')')) return out;
      const start = this.pos;
      const atom = this.atom(f);
      if (atom === null) continue; // flag group, comment, \E...
      this.skipExtended(f);
      out += this.quantified(atom, f, start);
    }
  }

  private quantified(atom: { src: string; quantifiable: boolean }, f: Flags, start: number): string {
    if (this.quoting) return atom.src;
    const c = this.peek();
    let q = '';
    if (c === '*' || c === '+' || c === '?') {
      q = c;
      this.pos++;
    } else if (c === '{') {
      const m = /^\{\s*(\d*)\s*(?:(,)\s*(\d*)\s*)?\}/.exec(this.s.slice(this.pos));
      if (m && (m[1] !== '' || (m[2] && m[3] !== ''))) {
        const min = m[1] === '' ? '0' : String(Number(m[1]));
        const max = m[2] ? (m[3] === '' ? '' : String(Number(m[3]))) : undefined;
        if (max !== undefined && max !== '' && Number(max) < Number(min)) this.fail('quantifier {n,m} with n > m', this.pos);
        q = max === undefined ? `{${min}}` : `{${min},${max}}`;
        this.pos += m[0].length;
      }
    }
    if (q === '') return atom.src;
    if (!atom.quantifiable) this.fail('quantifier follows nothing or an anchor', start);
    if (this.peek() === '?') {
      q += '?';
      this.pos++;
    } else if (this.peek() === '+') {
      this.fail('possessive quantifier', this.pos);
    }
    const nxt = this.peek();
    if (nxt === '*' || nxt === '+' || nxt === '?') this.fail('nested quantifier', this.pos);
    if (nxt === '{' && /^\{\s*(?:\d+\s*(?:,\s*\d*\s*)?|,\s*\d+\s*)\}/.test(this.s.slice(this.pos))) {
      this.fail('nested quantifier', this.pos);
    }
    return `(?:${atom.src})${q}`;
  }

  /** One atom; null when the construct produced nothing (comments, flag switches). */
  private atom(f: Flags): { src: string; quantifiable: boolean } | null {
    const c = this.s.charCodeAt(this.pos);
    const ch = this.s[this.pos];
    if (this.quoting) {
      if (ch === '\\' && this.peek(1) === 'E') {
        this.pos += 2;
        this.quoting = false;
        return null;
      }
      this.pos++;
      return { src: literal(c, f), quantifiable: true };
    }
    switch (ch) {
      case '\\':
        return this.escape(f);
      case '[':
        return { src: this.charClass(f), quantifiable: true };
      case '(':
        return this.group(f);
      case '.':
        this.pos++;
        return { src: f.s ? '[\\s\\S]' : '[^\\n]', quantifiable: true };
      case '^':
        this.pos++;
        return { src: f.m ? '(?:^|(?<=\\n)(?!$))' : '^', quantifiable: false };
      case '$':
        this.pos++;
        return { src: f.m ? '(?=\\n|$)' : '(?=\\n?$)', quantifiable: false };
      case '*':
      case '+':
      case '?':
        this.fail('quantifier follows nothing');
      // falls through (fail never returns)
      default:
        this.pos++;
        return { src: literal(c, f), quantifiable: true };
    }
  }

  private group(f: Flags): { src: string; quantifiable: boolean } | null {
    const start = this.pos;
    this.pos++; // (
    if (this.peek() === '*') this.fail('backtracking verb (*...)', start);
    if (this.peek() !== '?') {
      if (f.n) return this.groupBody(f, '(?:', start);
      this.groups++;
      return this.groupBody(f, '(', start);
    }
    this.pos++; // ?
    const c = this.peek();
    if (c === '#') {
      const end = this.s.indexOf(')', this.pos);
      if (end < 0) this.fail('unterminated (?#...) comment', start);
      this.pos = end + 1;
      return null;
    }
    if (c === ':') {
      this.pos++;
      return this.groupBody(f, '(?:', start);
    }
    if (c === '=' || c === '!') {
      this.pos++;
      const g = this.groupBody(f, `(?${c}`, start);
      return { src: g.src, quantifiable: false };
    }
    if (c === '<' && (this.peek(1) === '=' || this.peek(1) === '!')) {
      this.pos += 2;
      const g = this.groupBody(f, `(?<${this.s[this.pos - 1]}`, start);
      return { src: g.src, quantifiable: false };
    }
    if (c === '<' || c === "'" || (c === 'P' && this.peek(1) === '<')) {
      if (c === 'P') this.pos++;
      const close = this.peek() === "'" ? "'" : '>';
      this.pos++;
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.pos));
      if (!m || this.s[this.pos + m[0].length] !== close) this.fail('malformed named group', start);
      this.pos += m[0].length + 1;
      this.groups++;
      if (!this.names.has(m[0])) this.names.set(m[0], this.groups);
      return this.groupBody(f, '(', start);
    }
    if (c === 'P' && (this.peek(1) === '=' || this.peek(1) === '>')) {
      if (this.peek(1) === '>') this.fail('recursion (?P>name)', start);
      // (?P=name) backreference
      this.pos += 2;
      const end = this.s.indexOf(')', this.pos);
      if (end < 0) this.fail('malformed (?P=name)', start);
      const name = this.s.slice(this.pos, end);
      this.pos = end + 1;
      return { src: this.namedRef(name, f, start), quantifiable: true };
    }
    if (c === '>') this.fail('atomic group (?>...)', start);
    if (c === '|') this.fail('branch reset (?|...)', start);
    if (c === '{' || (c === '?' && this.peek(1) === '{')) this.fail('code block (?{...})', start);
    if (c === '(') this.fail('conditional (?(...)...)', start);
    if (c === 'R' || c === '&' || /[0-9]/.test(c) || ((c === '+' || c === '-') && /[0-9]/.test(this.peek(1)))) this.fail('recursion (?R)/(?N)/(?&name)', start);
    // Flags: (?imsx-imsx) or (?^imsx) or with ':'.
    const m = /^(\^?)([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])/.exec(this.s.slice(this.pos));
    if (!m) this.fail(`unknown group construct (?${c}`, start);
    const nf: Flags = m[1] ? { i: false, m: false, s: false, x: false, xx: false, n: false } : { ...f };
    const apply = (letters: string, on: boolean): void => {
      let xs = 0;
      for (const L of letters) {
        switch (L) {
          case 'i': nf.i = on; break;
          case 'm': nf.m = on; break;
          case 's': nf.s = on; break;
          case 'n': nf.n = on; break;
          case 'x':
            xs++;
            nf.x = on;
            nf.xx = on && xs > 1;
            break;
          case 'a': case 'd': case 'p': case 'o': case 'g': case 'c':
            if (!on && L !== 'p') this.fail(`flag -${L}`, start);
            break; // no effect on the meaning here (ASCII rules are ours already)
          default:
            this.fail(`flag ${L} (Unicode/locale rules or unknown flag)`, start);
        }
      }
    };
    apply(m[2], true);
    if (m[3] !== undefined) apply(m[3], false);
    this.pos += m[0].length;
    if (m[4] === ')') {
      // Applies to the rest of the enclosing group: mutate the caller's flags object.
      Object.assign(f, nf);
      return null;
    }
    return this.groupBody(nf, '(?:', start);
  }

  private groupBody(f: Flags, open: string, start: number): { src: string; quantifiable: boolean } {
    const inner = this.alternation({ ...f });
    if (this.peek() !== ')') this.fail('unmatched "("', start);
    this.pos++;
    return { src: `${open}${inner})`, quantifiable: true };
  }

  private backref(n: number, f: Flags, at: number): string {
    if (n < 1 || n > this.totalGroups) this.fail(`reference to nonexistent group ${n}`, at);
    // JS lets a reference to a group that did not take part match the empty string, Perl fails it;
    // and JS cannot fold case in a reference the ASCII-only way: refuse rather than differ.
    void f;
    this.fail(`backreference to group ${n}`, at);
  }

  private namedRef(name: string, f: Flags, at: number): string {
    const n = this.names.get(name);
    if (n === undefined) this.fail(`reference to unknown or later group name ${name}`, at);
    return this.backref(n, f, at);
  }

  private escape(f: Flags): { src: string; quantifiable: boolean } | null {
    const start = this.pos;
    this.pos++;
    if (this.pos >= this.s.length) this.fail('trailing "\\"', start);
    const e = this.s[this.pos++];
    const cls = (r: Range[]): { src: string; quantifiable: boolean } => ({ src: classSource(r), quantifiable: true });
    switch (e) {
      case 'd': return cls(R_DIGIT);
      case 'D': return cls(complement(R_DIGIT));
      case 'w': return cls(R_WORD);
      case 'W': return cls(complement(R_WORD));
      case 's': return cls(R_SPACE);
      case 'S': return cls(complement(R_SPACE));
      case 'h': return cls(R_HSPACE);
      case 'H': return cls(complement(R_HSPACE));
      case 'v': return cls(R_VSPACE);
      case 'V': return cls(complement(R_VSPACE));
      case 'N':
        if (this.peek() === '{') this.fail('\\N{...} named character', start);
        return cls(complement([[0x0a, 0x0a]]));
      case 'b':
        if (this.peek() === '{') this.fail('\\b{...} boundary type', start);
        return { src: '\\b', quantifiable: false };
      case 'B':
        if (this.peek() === '{') this.fail('\\B{...} boundary type', start);
        return { src: '\\B', quantifiable: false };
      case 'A': return { src: '^', quantifiable: false };
      case 'z': return { src: '$', quantifiable: false };
      case 'Z': return { src: '(?=\\n?$)', quantifiable: false };
      case 'G': this.fail('\\G', start);
      // falls through
      case 'K': this.fail('\\K', start);
      // falls through
      case 'X': this.fail('\\X', start);
      // falls through
      case 'R': this.fail('\\R', start);
      // falls through
      case 'C': this.fail('\\C', start);
      // falls through
      case 'p': case 'P': this.fail(`\\${e} Unicode property`, start);
      // falls through
      case 'Q':
        if (!this.interpolated) {
          this.quoting = true;
          return null;
        }
        return { src: literal(0x51, f), quantifiable: true };
      case 'E':
        if (!this.interpolated) return null;
        return { src: literal(0x45, f), quantifiable: true };
      case 'g': case 'k': return { src: this.refEscape(e, f, start), quantifiable: true };
      default: {
        const code = this.charEscape(e, start);
        return { src: literal(code, f), quantifiable: true };
      }
      case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9': {
        const m = /^\d*/.exec(this.s.slice(this.pos))!;
        const num = Number(e + m[0]);
        if (num < 10 || num <= this.totalGroups) {
          this.pos += m[0].length;
          return { src: this.backref(num, f, start), quantifiable: true };
        }
        // Octal escape (up to 3 octal digits), as Perl reads \NN beyond the group count.
        this.pos = start + 1;
        const o = /^[0-7]{1,3}/.exec(this.s.slice(this.pos));
        if (!o) this.fail(`reference to nonexistent group ${num}`, start);
        this.pos += o[0].length;
        return { src: literal(parseInt(o[0], 8), f), quantifiable: true };
      }
    }
  }

  private refEscape(e: string, f: Flags, start: number): string {
    const rest = this.s.slice(this.pos);
    if (e === 'g') {
      let m = /^\{(-?\d+)\}/.exec(rest) ?? /^(-?\d+)/.exec(rest);
      if (m) {
        this.pos += m[0].length;
        let n = Number(m[1]);
        if (n < 0) n = this.groups + 1 + n;
        return this.backref(n, f, start);
      }
      m = /^\{([A-Za-z_]\w*)\}/.exec(rest);
      if (m) {
        this.pos += m[0].length;
        return this.namedRef(m[1], f, start);
      }
      this.fail('malformed \\g reference', start);
    }
    const m = /^(?:<([A-Za-z_]\w*)>|\{([A-Za-z_]\w*)\}|'([A-Za-z_]\w*)')/.exec(rest);
    if (!m) this.fail('malformed \\k reference', start);
    this.pos += m[0].length;
    return this.namedRef(m[1] ?? m[2] ?? m[3], f, start);
  }

  /** A single-character escape (outside or inside a class); returns the code unit. */
  private charEscape(e: string, start: number): number {
    switch (e) {
      case 'n': return 0x0a;
      case 't': return 0x09;
      case 'r': return 0x0d;
      case 'f': return 0x0c;
      case 'e': return 0x1b;
      case 'a': return 0x07;
      case '0': {
        const o = /^[0-7]{0,2}/.exec(this.s.slice(this.pos))!;
        this.pos += o[0].length;
        return parseInt('0' + o[0], 8);
      }
      case 'o': {
        const m = /^\{([0-7]+)\}/.exec(this.s.slice(this.pos));
        if (!m) this.fail('malformed \\o{...}', start);
        this.pos += m[0].length;
        return this.byteCode(parseInt(m[1], 8), start);
      }
      case 'x': {
        const rest = this.s.slice(this.pos);
        const m = /^\{\s*([0-9A-Fa-f_]*)\s*\}/.exec(rest);
        if (m) {
          this.pos += m[0].length;
          return this.byteCode(m[1] === '' ? 0 : parseInt(m[1].replace(/_/g, ''), 16), start);
        }
        const h = /^[0-9A-Fa-f]{0,2}/.exec(rest)!;
        this.pos += h[0].length;
        return h[0] === '' ? 0 : parseInt(h[0], 16);
      }
      case 'c': {
        const c = this.s[this.pos++];
        if (c === undefined) this.fail('\\c at end of pattern', start);
        return c.toUpperCase().charCodeAt(0) ^ 0x40;
      }
      default:
        // Perl passes an unrecognised escaped letter through as that letter; any other escaped
        // character is itself.
        return e.charCodeAt(0);
    }
  }

  private byteCode(n: number, start: number): number {
    if (n > 0xff) this.fail('character code above 0xFF (Perl would switch to Unicode rules)', start);
    return n;
  }

  private charClass(f: Flags): string {
    const start = this.pos;
    this.pos++; // [
    let negate = false;
    if (this.peek() === '^') {
      negate = true;
      this.pos++;
    }
    const ranges: Range[] = [];
    let first = true;
    let prev: number | null = null; // last single char, candidate for a range start
    for (;;) {
      if (this.pos >= this.s.length) this.fail('unmatched "["', start);
      const c = this.peek();
      if (c === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (f.xx && (c === ' ' || c === '\t')) {
        this.pos++;
        continue;
      }
      // POSIX class
      if (c === '[' && (this.peek(1) === ':' || this.peek(1) === '=' || this.peek(1) === '.')) {
        const m = /^\[([:=.])(\^?)([a-z]+)\1\]/.exec(this.s.slice(this.pos));
        if (m) {
          if (m[1] !== ':') this.fail(`POSIX [${m[1]}...${m[1]}] syntax`, this.pos);
          const r = POSIX[m[3]];
          if (!r) this.fail(`unknown POSIX class [:${m[3]}:]`, this.pos);
          ranges.push(...(m[2] ? complement(r) : r));
          this.pos += m[0].length;
          prev = null;
          continue;
        }
      }
      let code: number;
      if (c === '\\') {
        const at = this.pos;
        this.pos++;
        const e = this.s[this.pos++];
        if (e === undefined) this.fail('trailing "\\"', at);
        const set: Record<string, Range[]> = {
          d: R_DIGIT, w: R_WORD, s: R_SPACE, h: R_HSPACE, v: R_VSPACE,
        };
        const lower = e.toLowerCase();
        if (set[lower] && (e === lower || e === e.toUpperCase())) {
          ranges.push(...(e === lower ? set[lower] : complement(set[lower])));
          prev = null;
          continue;
        }
        if (e === 'N' || e === 'p' || e === 'P' || e === 'X' || e === 'R' || e === 'G' || e === 'K') {
          this.fail(`\\${e} inside a character class`, at);
        }
        if (e === 'b') code = 0x08;
        else if (/[1-7]/.test(e)) {
          this.pos--; // octal in a class
          const o = /^[0-7]{1,3}/.exec(this.s.slice(this.pos))!;
          this.pos += o[0].length;
          code = parseInt(o[0], 8);
        } else if (e === '8' || e === '9') {
          code = e.charCodeAt(0);
        } else code = this.charEscape(e, at);
      } else {
        code = this.s.charCodeAt(this.pos);
        this.pos++;
      }
      // Range?
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== '') {
        const save = this.pos;
        this.pos++;
        let hi: number | null = null;
        const d = this.peek();
        if (d === '\\') {
          const e = this.peek(1);
          if (/[dwshvDWSHV]/.test(e)) hi = null;
          else {
            const at = this.pos;
            this.pos += 2;
            if (e === 'b') hi = 0x08;
            else if (/[0-7]/.test(e)) {
              this.pos--;
              const o = /^[0-7]{1,3}/.exec(this.s.slice(this.pos))!;
              this.pos += o[0].length;
              hi = parseInt(o[0], 8);
            } else hi = this.charEscape(e, at);
          }
        } else if (d === '[' && this.peek(1) === ':') hi = null;
        else {
          hi = this.s.charCodeAt(this.pos);
          this.pos++;
        }
        if (hi === null) {
          // "a-\d": '-' is literal
          this.pos = save;
          ranges.push([code, code]);
          prev = code;
          continue;
        }
        if (hi < code) this.fail('invalid range in character class', start);
        ranges.push([code, hi]);
        prev = null;
        continue;
      }
      ranges.push([code, code]);
      prev = code;
    }
    void prev;
    let set = f.i ? foldRanges(ranges) : normalize(ranges);
    if (negate) set = complement(set);
    return classSource(set);
  }
}

function countGroups(bytes: string, orig: string, interpolated: boolean): number {
  const t = new Translator(bytes, orig, interpolated, Number.MAX_SAFE_INTEGER);
  try {
    t.translate();
  } catch {
    // errors are reported by the real pass
  }
  return t.groupCount;
}

/**
 * translatePerlRegex compiles a Perl receive= pattern into a RegExp with the same meaning when matched
 * against `perlSubject(answerBytes)`. Throws an Error naming the construct it cannot express faithfully.
 */
export function translatePerlRegex(src: string, opts: PerlRegexOptions = {}): RegExp {
  const interpolated = opts.interpolated ?? true;
  // Perl sees the config file's bytes: work on the UTF-8 bytes, one char per byte.
  const bytes = Buffer.from(src, 'utf8').toString('latin1');
  const total = countGroups(bytes, src, interpolated);
  const t = new Translator(bytes, src, interpolated, total);
  const js = t.translate();
  try {
    return new RegExp(js);
  } catch (err) {
    throw new Error(`receive pattern ${JSON.stringify(src)}: not a valid regular expression (${(err as Error).message})`);
  }
}
