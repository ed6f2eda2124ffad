/**
 * Address texts as the C library reads and writes them (inet_aton, inet_pton, inet_ntop): the forms
 * `ipvsadm -n` prints. The planner compares addresses in this form; the simulated kernel parses with it.
 */

/** inet_aton: 1 to 4 parts, each decimal, octal (0...) or hex (0x...). Returns a uint32 or null. */
export function inetAton(s: string): number | null {
  if (s === '') return null;
  const parts = s.split('.');
  if (parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let v: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(p)) v = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) v = p.length === 1 ? 0 : parseInt(p.slice(1), 8);
    else if (/^[1-9][0-9]*$/.test(p)) v = parseInt(p, 10);
    else return null;
    if (!Number.isFinite(v) || v > 0xffffffff) return null;
    nums.push(v);
  }
  const last = nums[nums.length - 1];
  const maxLast = [0xffffffff, 0xffffff, 0xffff, 0xff][nums.length - 1];
  if (last > maxLast) return null;
  for (let i = 0; i < nums.length - 1; i++) if (nums[i] > 0xff) return null;
  let r = 0;
  for (let i = 0; i < nums.length - 1; i++) r += nums[i] * 2 ** (8 * (3 - i));
  return r + last;
}

export function ipv4ToString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** inet_pton(AF_INET6): 8 16-bit words, or null. */
export function parseIpv6(s: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  let head = s;
  let tailV4: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    const v4 = s.slice(lastColon + 1);
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)) return null;
    const b = v4.split('.').map(Number);
    if (b.some((x) => x > 255)) return null;
    tailV4 = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    head = s.slice(0, lastColon + 1);
    if (head.endsWith('::')) head = head + '';
    else if (head.endsWith(':')) head = head.slice(0, -1);
  }
  const dbl = head.indexOf('::');
  if (dbl !== head.lastIndexOf('::') && dbl >= 0) return null;
  const parseGroups = (g: string): number[] | null => {
    if (g === '') return [];
    const out: number[] = [];
    for (const x of g.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(x)) return null;
      out.push(parseInt(x, 16));
    }
    return out;
  };
  let words: number[];
  if (dbl >= 0) {
    const a = parseGroups(head.slice(0, dbl));
    const b = parseGroups(head.slice(dbl + 2));
    if (!a || !b) return null;
    const fill = 8 - a.length - b.length - tailV4.length;
    if (fill < 1) return null;
    words = [...a, ...new Array<number>(fill).fill(0), ...b, ...tailV4];
  } else {
    const a = parseGroups(head);
    if (!a) return null;
    words = [...a, ...tailV4];
    if (words.length !== 8) return null;
  }
  return words.length === 8 ? words : null;
}

/** inet_ntop(AF_INET6) as glibc prints it. */
export function formatIpv6(w: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  const hex = (x: number) => x.toString(16);
  // IPv4-compatible / mapped forms, as glibc prints them.
  if (bestStart === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
    const v4 = `${w[6] >> 8}.${w[6] & 255}.${w[7] >> 8}.${w[7] & 255}`;
    if (bestLen === 6 && !(w[6] === 0 && (w[7] === 0 || w[7] === 1))) return `::${v4}`;
    if (bestLen === 5) return `::ffff:${v4}`;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += hex(w[i]);
  }
  return s;
}

/** Canonical form of an address as ipvsadm -n prints it (IPv6 compressed), or the input when unparsable. */
/** A dotted quad as inet_ntop prints it (four parts 0..255 without leading zeros): its own canonical form. */
export const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function canonicalAddr(ip: string): string {
  if (CANONICAL_IPV4.test(ip)) return ip; // the common case, without parsing (an IPv6 text never matches)
  const v6 = parseIpv6(ip);
  if (v6) return formatIpv6(v6);
  const v4 = inetAton(ip);
  return v4 === null ? ip : ipv4ToString(v4);
}
