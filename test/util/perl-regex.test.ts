import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { perlMatch, perlSubject, translatePerlRegex } from '../../src/util/perl-regex.js';

// Table: [pattern, subject, expected match]. Expectations are what Perl 5 does with `$s =~ /$p/`.
const TABLE: Array<[string, string, boolean]> = [
  ['^HTTP/1\\.[01] 200', 'HTTP/1.1 200 OK', true],
  ['^HTTP/1\\.[01] 200', 'XHTTP/1.1 200 OK', false],
  ['ok$', 'all ok\n', true], // $ before a final newline
  ['ok$', 'all ok\n\n', false],
  ['ok$', 'ok\r', false],
  ['ok\\z', 'ok\n', false],
  ['ok\\Z', 'ok\n', true],
  ['\\Aok', 'ok', true],
  ['\\Aok', 'x\nok', false],
  ['(?m)^ok$', 'x\nok\ny', true],
  ['(?m)^ok$', 'x\rok\ry', false], // only \n separates lines in Perl
  ['(?m)\\n^', 'x\n', false], // ^ under /m does not match after a trailing newline
  ['a.b', 'a\nb', false],
  ['a.b', 'a\rb', true], // JS's . would refuse \r
  ['(?s)a.b', 'a\nb', true],
  ['(?i)hello', 'HeLLo', true],
  ['a(?i:b)c', 'aBc', true],
  ['a(?i:b)c', 'aBC', false],
  ['a(?i)b|c', 'C', true], // (?i) reaches later branches of its group
  ['(?i)b(?-i)c', 'Bc', true],
  ['(?i)b(?-i)c', 'BC', false],
  ['(?i)[^a-z]', 'Q', false],
  ['(?i)[a-c]x', 'Bx', true],
  ['(?i)\\xe9', 'É', false], // no Unicode folding on byte strings
  ['\\d+', '١٢٣', false], // Arabic-Indic digits are not \d on bytes
  ['^\\w+$', 'héllo', false],
  ['^\\s$', '\u00a0', false],
  ['^\\s$', '\x0b', true],
  ['[[:alpha:]]+[[:digit:]]{2}', 'abc12', true],
  ['^[[:^digit:]]+$', 'abc', true],
  ['^[[:punct:]]$', '~', true],
  ['a{,2}b', 'b', true],
  ['^a{2,3}$', 'aaaa', false],
  ['^a{2,3}?$', 'aaa', true],
  ['a{x}', 'a{x}', true], // not a quantifier: literal
  ['<.+?>', '<a><b>', true],
  ['(?x) a  b # comment', 'ab', true],
  ['(?x) a  b # comment', 'a b', false],
  ['\\Qa.b\\E', 'Qa.bE', true], // interpolated: \Q and \E are plain letters in the original
  ['\\Qa.b\\E', 'a.b', false],
  ['\\y', 'y', true], // unknown escape letter passes through
  ['caf\u00e9', 'caf\u00e9', true], // UTF-8 bytes on both sides
  ['^caf[\u00e9]$', 'caf\u00e9', false], // a class holds bytes, not the character
  ['\\x41\\101\\o{101}', 'AAA', true],
  ['\\cA', '\x01', true],
  ['[\\d-z]', '-', true],
  ['[a\\-z]', 'b', false],
  ['[]a]', ']', true],
  ['\\bfoo\\b', 'a foo.', true],
  ['\\h\\v', ' \n', true],
  ['(a|b)+c', 'ababc', true],
  ['(?<name>x)y', 'xy', true],
  ['(?=ab)a', 'ab', true],
  ['(?<!x)y', 'xy', false],
  ['\\N+', '\n', false],
  ['', 'anything', true],
];

const REJECT: Array<[string, RegExp]> = [
  ['a++', /possessive/],
  ['a*+', /possessive/],
  ['\\Gfoo', /\\G/],
  ['(?>a)', /atomic/],
  ['(?R)', /recursion/],
  ['(?1)', /recursion/],
  ['(?&n)', /recursion/],
  ['(?{ 1 })', /code block/],
  ['(??{ 1 })', /code block/],
  ['(?(1)a|b)', /conditional/],
  ['(?|a)', /branch reset/],
  ['(*FAIL)', /verb/],
  ['(a)\\1', /backreference/],
  ['\\p{L}', /Unicode property/],
  ['\\X', /\\X/],
  ['\\K', /\\K/],
  ['(?u)x', /flag u/],
  ['(ab', /unmatched "\("/],
  ['ab)', /unmatched "\)"/],
  ['[ab', /unmatched "\["/],
  ['*a', /quantifier follows nothing/],
  ['\\8', /nonexistent group/],
  ['[z-a]', /invalid range/],
  ['\\x{100}', /above 0xFF/],
  ['a{2}{3}', /nested quantifier/],
  ['a**', /nested quantifier/],
];

describe('translatePerlRegex', () => {
  it.each(TABLE)('/%s/ on %j -> %s', (p, s, want) => {
    expect(translatePerlRegex(p).test(perlSubject(s))).toBe(want);
    expect(perlMatch(p, Buffer.from(s, 'utf8'))).toBe(want);
  });

  it.each(REJECT)('rejects %s naming the construct', (p, msg) => {
    expect(() => translatePerlRegex(p)).toThrow(msg);
  });

  it('\\Q...\\E quotes when the pattern is not interpolated', () => {
    const re = translatePerlRegex('\\Qa.b\\Ec', { interpolated: false });
    expect(re.test('a.bc')).toBe(true);
    expect(re.test('axbc')).toBe(false);
  });

  it('never uses JS flags that change meaning', () => {
    expect(translatePerlRegex('(?ims)x').flags).toBe('');
  });
});

const havePerl = spawnSync('perl', ['-e', '1']).status === 0;
if (!havePerl) console.warn('perl not installed: skipping the differential regex table');

describe.skipIf(!havePerl)('translatePerlRegex agrees with perl', () => {
  it('on every table row', () => {
    // One perl run: patterns and subjects hex-encoded as bytes, one result per line.
    const input = TABLE.map(([p, s]) => `${Buffer.from(p).toString('hex')} ${Buffer.from(s).toString('hex')}`).join('\n');
    const out = execFileSync(
      'perl',
      ['-ne', 'chomp; my ($p,$s)=map { pack "H*", $_ } split / /; print((($s =~ /$p/) ? 1 : 0), "\\n");'],
      { input: input + '\n' },
    )
      .toString()
      .trim()
      .split('\n');
    const ours = TABLE.map(([p, s]) => (translatePerlRegex(p).test(perlSubject(s)) ? '1' : '0'));
    expect(ours).toEqual(out);
  });
});

// Seeded random differential: patterns built from the constructs admins use, matched against subjects
// built from the same alphabet, by us and by perl in one run. Any disagreement is a translation bug.
describe.skipIf(!havePerl)('translatePerlRegex agrees with perl on random patterns', () => {
  it('2000 seeded cases', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = <T,>(a: readonly T[]): T => a[rnd(a.length)];
    const atoms = ['a', 'b', 'A', 'B', '1', ' ', '\\n', '.', '\\d', '\\w', '\\s', '\\S', '\\W', '[ab]', '[^a]', '[a-c]',
      '[[:alpha:]]', '[[:digit:]]', '[[:^space:]]', '[\\d_]', '\\x41', '\\t', '\\.', '\u00e9', '\\b', '\\B'];
    const quants = ['', '', '', '*', '+', '?', '*?', '+?', '??', '{2}', '{1,2}', '{0,}', '{,1}', '{2,}?'];
    const gen = (depth: number): string => {
      let out = '';
      const n = 1 + rnd(4);
      for (let i = 0; i < n; i++) {
        const r = rnd(10);
        let atom: string;
        if (r < 6 || depth > 2) atom = pick(atoms);
        else if (r < 8) atom = `(${gen(depth + 1)}|${gen(depth + 1)})`;
        else atom = `(?${pick(['i', 's', 'm', 'i-s', '^i', 'x'])}:${gen(depth + 1)})`;
        if (atom === '\\b' || atom === '\\B') out += atom;
        else out += atom + pick(quants);
      }
      const anchor = rnd(8);
      if (anchor === 0) out = '^' + out;
      if (anchor === 1) out += '$';
      if (anchor === 2) out = '(?i)' + out;
      if (anchor === 3) out = '(?m)^' + out + '$';
      if (anchor === 4) out += '\\Z';
      return out;
    };
    const chars = ['a', 'b', 'A', 'B', '1', '2', ' ', '\n', '\r', '\t', '_', '.', 'é', 'É', '\u00a0', 'c', 'x'];
    const cases: Array<[string, string]> = [];
    while (cases.length < 2000) {
      const p = gen(0);
      let s = '';
      for (let i = rnd(9); i > 0; i--) s += pick(chars);
      cases.push([p, s]);
    }
    const input = cases.map(([p, s]) => `${Buffer.from(p).toString('hex')} ${Buffer.from(s).toString('hex')}`).join('\n');
    const perl = execFileSync(
      'perl',
      ['-ne', 'chomp; my ($p,$s)=map { pack "H*", $_ } split / /, $_, -1; $s = "" unless defined $s; my $r = eval { qr/$p/ }; print((!defined $r) ? "E" : ($s =~ $r) ? 1 : 0, "\\n");'],
      { input: input + '\n', maxBuffer: 1 << 24 },
    )
      .toString()
      .split('\n');
    const mismatches: string[] = [];
    let compared = 0;
    cases.forEach(([p, s], i) => {
      let ours: string;
      try {
        ours = translatePerlRegex(p).test(perlSubject(s)) ? '1' : '0';
      } catch {
        ours = 'E';
      }
      if (perl[i] === 'E' || ours === 'E') {
        // perl refused it: we must refuse too; we refused it: fine (never silently different)
        if (perl[i] === 'E' && ours !== 'E') mismatches.push(`perl rejects /${p}/, we accept`);
        return;
      }
      compared++;
      if (ours !== perl[i]) mismatches.push(`/${p}/ on ${JSON.stringify(s)}: perl ${perl[i]}, ours ${ours}`);
    });
    expect(mismatches.slice(0, 20)).toEqual([]);
    expect(compared).toBeGreaterThan(1500);
  });
});
