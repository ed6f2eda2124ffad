import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { perlMatch, perlSubject, translatePerlRegex } from '../../src/checks/perl-regex.js';

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
