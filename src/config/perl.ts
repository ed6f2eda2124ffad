/**
 * Small helpers that reproduce Perl's semantics where the original's parser relies on them: its
 * regular expressions (byte semantics of \s, `.` matching CR), string truthiness, and split.
 */

const SPACE = '[\\t\\n\\x0B\\f\\r ]';
const NON_SPACE = '[^\\t\\n\\x0B\\f\\r ]';

/**
 * perlRe compiles a Perl pattern for use on one line whose trailing "\n" was removed: `.` matches
 * everything (including CR, as in Perl), and \s / \S are Perl's ASCII whitespace classes.
 */
export function perlRe(src: string): RegExp {
  return new RegExp(src.replace(/\\s/g, SPACE).replace(/\\S/g, NON_SPACE), 's');
}

/** perlTrue is Perl's truth value of a string: false only for "" and "0". */
export function perlTrue(s: string | undefined): boolean {
  return s !== undefined && s !== '' && s !== '0';
}

/** perlSplitCommaList is `split /\s*,\s*\/, $s`: leading empty fields kept, trailing ones dropped. */
export function perlSplitCommaList(s: string): string[] {
  if (s === '') return [];
  const parts = s.split(perlRe('\\s*,\\s*'));
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** firstDigits returns the first run of ASCII digits in `s` ("first digit run"), or undefined. */
export function firstDigits(s: string): string | undefined {
  return /\d+/.exec(s)?.[0];
}
