/**
 * The directives of ldirectord.cf: one registry entry per directive, and the value grammars they share.
 * parse.ts runs one loop over DIRECTIVES for every line; the model is built from the same entries.
 *
 * Adding a directive is one entry in DIRECTIVES plus its field in src/model/config.ts (GlobalConfig
 * for 'global', VirtualService for 'virtual', both for 'both'):
 *   field({ name: 'samplecount', scope: 'both', key: 'samplecount', read: positive('samplecount: a positive number is required') })
 * - name: as written. scope: where it may appear: 'global' (top level), 'virtual' (inside a virtual
 *   block) or 'both'; elsewhere the line is an unknown directive, as in the original.
 * - form: the line's shape `name = value` (the original's lexical rules): 'raw' (default), 'quoted'
 *   ("..." required), 'digits', or several tried in order; `forms` gives explicit patterns per place.
 * - key: the model field the value goes to; read: the value grammar and its error text, built from
 *   the grammars below (yesNo, positive, nonEmpty, text, ...), so the FILE:LINE error comes for free.
 * - default: the value when the directive is written nowhere. A 'both' directive is inherited: a
 *   virtual's value is its own, else the global one, else the default. Nothing else is needed.
 * - A directive the original lacks must be opt-in: no default (absent in the model) or the
 *   original's behaviour as default, and a line in man/ldirectord.cf.5.
 * Only a directive whose value is not one plain field (several fields, a list, a value resolved
 * after the block, inheritance with a rule) needs the store/toVirtual/toGlobal hooks.
 *
 * Names never overlap (`^name\s*=` cannot match another name), so the order of DIRECTIVES is not a
 * matching order: it is the order of the fields in the built model (and in `ldirectord dump`).
 */
import { stat } from 'node:fs/promises';

import {
  type CheckType,
  type DaemonStatus,
  type FallbackServer,
  type GlobalConfig,
  IPVS_SCHEDULERS,
  type LogTarget,
  SERVICES,
  type SyncDaemonConfig,
  type VirtualService,
} from '../model/config.js';
import { firstDigits, perlRe, perlSplitCommaList, perlTrue } from './perl.js';
import { isContiguousNetmask, parseFallback, resolveFallback } from './resolve.js';
import { parseSyncDaemon } from './syncdaemon.js';
import type { FallbackDraft, GlobalDraft, Parser, ResolvedVirtual, VirtualDraft } from './session.js';

/** Where a directive may appear. */
export type Scope = 'global' | 'virtual' | 'both';
/** Where a line is being read. */
export type Place = 'global' | 'virtual';

/** One line being read, handed to a directive's grammar. */
export interface LineContext {
  readonly p: Parser;
  readonly line: number;
  /** The line as written (what an error quotes). */
  readonly raw: string;
  readonly place: Place;
  readonly g: GlobalDraft;
  /** The block being read (place 'virtual' only). */
  readonly v?: VirtualDraft;
}

/** Everything the build of one virtual's model fields may look at. */
export interface BuildContext {
  readonly p: Parser;
  readonly rv: ResolvedVirtual;
  readonly v: VirtualDraft;
  /** The built global settings (defaults applied). */
  readonly global: GlobalConfig;
}

/** Rejects the line: ConfigError at FILE:LINE with the directive's message; `text` defaults to the line. */
function fail(ctx: LineContext, message: string, text: string = ctx.raw): never {
  return ctx.p.error(ctx.line, message, text);
}

/** The block of a virtual-only directive (the loop hands virtual-only grammars a block). */
function block(ctx: LineContext): VirtualDraft {
  return ctx.v as VirtualDraft;
}

/** A value grammar: the value text (group 1 of the form) to a value, or a rejection through fail(). */
type Grammar<T> = (ctx: LineContext, value: string, m: RegExpExecArray) => T | Promise<T>;

type Form = 'raw' | 'quoted' | 'digits';
type SettableKey = keyof VirtualService | keyof GlobalConfig;
type FieldType<K extends SettableKey> = K extends keyof VirtualService
  ? VirtualService[K]
  : K extends keyof GlobalConfig
    ? GlobalConfig[K]
    : never;

/** A registry entry. Build entries with field() (a value stored under a model field) or special(). */
export interface Directive {
  readonly name: string;
  /** Other names its forms match (the IPv6 forms real6, fallback6). */
  readonly variants?: readonly string[];
  readonly scope: Scope;
  /** The line patterns per place, tried in order. */
  readonly forms: { readonly global: readonly RegExp[]; readonly virtual: readonly RegExp[] };
  readonly key?: SettableKey;
  readonly default?: unknown;
  readonly read: Grammar<unknown>;
  /** Stores the value read (default: under `key` in the draft of the place). */
  readonly store?: (ctx: LineContext, value: unknown) => void;
  /** The virtual's model fields, when they are not "own, else global (both), else default" of key. */
  readonly toVirtual?: (b: BuildContext) => Partial<VirtualService>;
  /** The global model fields, when they are not "own, else default" of key. */
  readonly toGlobal?: (g: GlobalDraft) => Partial<GlobalConfig>;
}

interface Spec<T> {
  readonly name: string;
  readonly variants?: readonly string[];
  readonly scope: Scope;
  readonly form?: Form | readonly Form[];
  readonly forms?: { readonly global?: readonly RegExp[]; readonly virtual?: readonly RegExp[] };
  readonly read: Grammar<T>;
  readonly store?: (ctx: LineContext, value: T) => void;
  readonly toVirtual?: (b: BuildContext) => Partial<VirtualService>;
  readonly toGlobal?: (g: GlobalDraft) => Partial<GlobalConfig>;
}

/** The `^name\s*=\s*VALUE` pattern of a directive (Perl syntax, see perlRe). */
function pattern(name: string, form: Form): RegExp {
  const value = form === 'quoted' ? '"(.*)"' : form === 'digits' ? '(\\d*)' : '(.*)';
  return perlRe(`^${name}\\s*=\\s*${value}`);
}

function entry<T>(s: Spec<T> & { key?: SettableKey; default?: unknown }): Directive {
  const forms = (Array.isArray(s.form) ? s.form : [s.form ?? 'raw']) as Form[];
  const own = forms.map((f) => pattern(s.name, f));
  const at = (place: Place): readonly RegExp[] =>
    s.scope !== 'both' && s.scope !== place ? [] : (s.forms?.[place] ?? own);
  return { ...s, forms: { global: at('global'), virtual: at('virtual') } } as Directive;
}

/** A directive whose value goes to one model field (`key`). */
export function field<K extends SettableKey>(s: Spec<FieldType<K>> & { key: K; default?: FieldType<K> }): Directive {
  return entry(s);
}

/** A directive with no plain field: it stores through its own hooks (or only rejects the line). */
export function special<T>(s: Spec<T>): Directive {
  return entry(s);
}

// ---------------------------------------------------------------------------------------------
// Value grammars (each with the error text of its directive)

/** 'yes' or 'no', exactly (a trailing space or CR is an error, as in the original). */
export const yesNo =
  (name: string): Grammar<boolean> =>
  (ctx, s) =>
    s === 'yes' ? true : s === 'no' ? false : fail(ctx, `${name} must be 'yes' or 'no'`);

/** The first digit run, any ("0" too). */
const digitRun =
  (message: string): Grammar<number> =>
  (ctx, s) => {
    const digits = firstDigits(s);
    return digits === undefined ? fail(ctx, message) : Number(digits);
  };

/** The first digit run, which must be true in Perl ("0" is not, "00" is). */
export const positive =
  (message: string): Grammar<number> =>
  (ctx, s) => {
    const digits = firstDigits(s);
    if (!perlTrue(digits)) fail(ctx, message);
    return Number(digits);
  };

/** The global timeouts: the first digit run, true in Perl and > 0; inside a block as positive(). */
const timeout =
  (message: string): Grammar<number> =>
  (ctx, s, m) => {
    if (ctx.place === 'virtual') return positive(message)(ctx, s, m);
    const digits = firstDigits(s);
    if (!perlTrue(digits) || Number(digits) <= 0) fail(ctx, message);
    return Number(digits);
  };

/** Any text but the empty string. */
export const nonEmpty =
  (message: string): Grammar<string> =>
  (ctx, s) =>
    s === '' ? fail(ctx, message) : s;

/** The value as written. */
const text: Grammar<string> = (_ctx, s) => s;

/** Only rejects the line (deprecated directives). */
const rejected =
  (message: string): Grammar<never> =>
  (ctx) =>
    fail(ctx, message);

/** host[:port]: the original drops the port and dials 25. */
const smtpServer: Grammar<string> = (ctx, s) => {
  const m = /^[0-9A-Za-z._+-]+(?::\d{1,5}(?![0-9]))?/.exec(s);
  if (!m) fail(ctx, 'smtp: invalid SMTP server address');
  return m[0];
};

/** read_emailalert: enclosing quotes stripped, must not be empty. */
const emailAddress: Grammar<string> = (ctx, s) => {
  const m = /^"([^"]*)"$/.exec(s);
  const addr = m ? m[1] : s;
  if (addr === '') fail(ctx, 'emailalert: no e-mail address given', s);
  return addr;
};

const ALL_STATUSES: readonly DaemonStatus[] = ['starting', 'running', 'stopping', 'reloading'];

/** parse_emailalertstatus: comma list of all/none/starting/running/stopping/reloading. */
const emailAlertStatus: Grammar<DaemonStatus[]> = (ctx, arg) => {
  const words = perlSplitCommaList(arg);
  const none = words.includes('none');
  let set = new Set<DaemonStatus>();
  for (const w of words) {
    if (w === 'none') continue;
    if (w === 'all') set = new Set(ALL_STATUSES);
    else if ((ALL_STATUSES as readonly string[]).includes(w)) set.add(w as DaemonStatus);
    else fail(ctx, `invalid emailalertstatus word "${w}" (use all, none, starting, running, stopping, reloading)`, arg);
    if (none) fail(ctx, `invalid emailalertstatus: "${w}" given together with "none"`, arg);
  }
  return ALL_STATUSES.filter((s) => set.has(s));
};

/** Syslog facilities (logfile= without a leading "/"); others are accepted but fail when logging. */
const SYSLOG_FACILITIES = new Set([
  'auth', 'authpriv', 'cron', 'daemon', 'ftp', 'kern', 'lpr', 'mail', 'news', 'syslog', 'user', 'uucp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
]);

/** A path (test-opened, as ld_openlog does) or a syslog facility. */
const logTarget: Grammar<LogTarget> = async (ctx, value) => {
  const target: LogTarget = value.startsWith('/') ? { kind: 'file', path: value } : { kind: 'syslog', facility: value };
  // ld_openlog: not tried under -d or once supervised=yes was read (original's behaviour).
  if (target.kind === 'file' && ctx.p.checkFiles && !ctx.p.debug && !ctx.g.set.supervised) {
    await ctx.p.testAppend(ctx.line, value, 'logfile');
  }
  if (target.kind === 'syslog' && !SYSLOG_FACILITIES.has(value)) {
    ctx.p.warn(ctx.line, `logfile "${value}" is neither a path nor a syslog facility: logging will fail at runtime`);
  }
  return target;
};

const SUPERVISED = perlRe('^supervised\\s*=\\s*(.*)');
const SUPERVISED_BARE = perlRe('^supervised\\s*$');

/** `supervised = yes|no`, or a bare `supervised` (deprecated); any other line starting so is an error. */
const supervised: Grammar<boolean> = (ctx) => {
  const sm = SUPERVISED.exec(ctx.raw);
  if (sm && (sm[1] === 'yes' || sm[1] === 'no')) return sm[1] === 'yes';
  if (SUPERVISED_BARE.test(ctx.raw)) {
    ctx.p.warn(ctx.line, 'a bare "supervised" is deprecated: write supervised = yes');
    return true;
  }
  return fail(ctx, "supervised must be 'yes' or 'no'");
};

/** A real6 in a virtual block, a real in a virtual6 one (and the same for fallback) is an error. */
function familyMatches(ctx: LineContext, written: string, six: boolean, word: string): void {
  const v = block(ctx);
  if ((v.family === 4 && six) || (v.family === 6 && !six)) {
    fail(ctx, `"${written}" cannot be used in a ${v.keyword} block; use "${v.family === 6 ? `${word}6` : word}"`);
  }
}

/** checktype: a word of the list, or digits anywhere (the combined check). */
const CHECKTYPES = ['connect', 'negotiate', 'ping', 'off', 'on', 'external', 'external-perl'] as const;

// ---------------------------------------------------------------------------------------------
// Build helpers

/** ld_setup's mutual defaulting of the two timeouts (behaviour reference 2.6). */
function effectiveTimeouts(b: BuildContext): { checktimeout: number; negotiatetimeout: number } {
  const v = b.v.set;
  const g = b.global;
  const first = (...xs: (number | undefined)[]): number => xs.find((x) => x !== undefined) as number;
  return {
    checktimeout: first(v.checktimeout, v.negotiatetimeout, g.checktimeout, g.negotiatetimeout, 5),
    negotiatetimeout: first(v.negotiatetimeout, v.checktimeout, g.negotiatetimeout, g.checktimeout, 30),
  };
}

/** fallback_find: the virtual's own fallback, else the global one of its family and protocol. */
function effectiveFallback(b: BuildContext): FallbackServer | undefined {
  const { rv, v, global } = b;
  if (rv.fallback) return rv.fallback;
  const globalFb = v.family === 6 ? global.fallback6 : global.fallback;
  if (!globalFb) return undefined;
  if (v.protocol === 'fwm') {
    // Original's behaviour (a bug kept on purpose): there is no global fallback for "fwm", so an
    // empty server is used (ipvsadm -r :0).
    const any = globalFb.tcp as FallbackServer;
    return { ip: '', family: v.family, port: 0, forward: 'gate', pos: any.pos };
  }
  const fb = (v.protocol === 'udp' ? globalFb.udp : globalFb.tcp) as FallbackServer;
  if (fb.portGiven) return fb;
  return { ...fb, port: rv.port };
}

/** { key: value }, or {} when the value is undefined (absent fields stay absent in the model). */
function opt<K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: T };
}

const NUMBER_SECONDS = 'a positive number of seconds is required';

// ---------------------------------------------------------------------------------------------
// The tuning directives (ours, issue 20; absent = the original's behaviour). Stricter than the
// original's own: digits only (trailing blanks allowed), in range, else FILE:LINE.

/** A whole number from min to max, written as digits. */
const wholeNumber =
  (name: string, min: number, max: number, unit = ''): Grammar<number> =>
  (ctx, s) => {
    const m = /^(\d+)[ \t]*$/.exec(s);
    const n = m ? Number(m[1]) : NaN;
    if (!(n >= min && n <= max)) fail(ctx, `${name} must be a whole number${unit} from ${min} to ${max}`);
    return n;
  };

/** A whole number (as wholeNumber reads it) with configtest's note of what that value does there. */
const notedNumber =
  (name: string, min: number, max: number, unit: string, note: (n: number, ctx: LineContext) => string): Grammar<number> =>
  (ctx, s, m) => {
    const n = wholeNumber(name, min, max, unit)(ctx, s, m) as number;
    ctx.p.note(ctx.line, note(n, ctx));
    return n;
  };

/** 'yes' or 'no', trailing blanks allowed. */
const yesNoBlanks =
  (name: string): Grammar<boolean> =>
  (ctx, s, m) =>
    yesNo(name)(ctx, s.replace(/[ \t]+$/, ''), m);

/** Where a tuning directive applies, for its configtest note. */
function whereSet(ctx: LineContext): string {
  return ctx.place === 'global' ? 'every virtual service without its own' : 'this virtual service';
}

/** IPVS schedulers that ignore a destination's weight beyond 0 / not 0 (ip_vs_rr, ip_vs_lc, ip_vs_dh). */
export const WEIGHTLESS_SCHEDULERS: readonly string[] = ['rr', 'lc', 'dh'];

const NOT_PERL = 'not in the Perl ldirectord';

/** fallback= and fallback6= (group 1 the name, 2 the "6", 3 the value). */
const FALLBACK = perlRe('^(fallback(6)?)\\s*=\\s*(.*)');
type GlobalFallback = NonNullable<GlobalConfig['fallback']>;

/** checktimeout and negotiatetimeout: a virtual's is its own, else the other one, else the globals (ld_setup). */
function timeoutDirective(key: 'checktimeout' | 'negotiatetimeout'): Directive {
  return field({
    name: key,
    scope: 'both',
    key,
    read: timeout(`${key}: ${NUMBER_SECONDS}`),
    toVirtual: (b) => ({ [key]: effectiveTimeouts(b)[key] }),
  });
}

// ---------------------------------------------------------------------------------------------
// The registry

export const DIRECTIVES: readonly Directive[] = [
  special({
    name: 'real',
    variants: ['real6'],
    scope: 'virtual',
    forms: { virtual: [perlRe('^(real(6)?)\\s*=\\s*(.*)')] },
    read: (ctx, _s, m) => {
      familyMatches(ctx, m[1], m[2] !== undefined, 'real');
      return m[3];
    },
    // Resolved once the block is read (the protocol is known only then).
    store: (ctx, t) => block(ctx).realsTodo.push({ text: t, line: ctx.line }),
  }),
  special({
    name: 'protocol',
    scope: 'virtual',
    read: (ctx, s) => {
      const v = block(ctx);
      const w = /\w+/.exec(s)?.[0];
      if (w === undefined) fail(ctx, 'protocol: a protocol name is required');
      if (v.protocol === 'fwm') {
        if (w !== 'fwm') fail(ctx, 'protocol must be fwm for a firewall-mark virtual service');
        return v.protocol;
      }
      if (w === 'tcp' || w === 'udp') return w;
      return fail(ctx, 'protocol must be tcp or udp for an address:port virtual service');
    },
    store: (ctx, w) => {
      block(ctx).protocol = w;
    },
  }),
  special({
    name: 'checktype',
    scope: 'virtual',
    read: (ctx, val): { type: CheckType; count?: number } => {
      const digits = firstDigits(val);
      const word = /[\w-]+/.exec(val)?.[0];
      if (digits !== undefined) {
        if (!/^\d+$/.test(val)) {
          ctx.p.warn(ctx.line, `checktype "${val}" contains digits: like the original, it means the combined check with ${Number(digits)}`);
        }
        return { type: 'combined', count: Number(digits) };
      }
      if (word && (CHECKTYPES as readonly string[]).includes(word)) return { type: word as CheckType };
      return fail(ctx, 'checktype must be connect, negotiate, on, off, ping, external, external-perl or a number');
    },
    // A later word keeps the count of an earlier number (original's behaviour: it stays in the hash).
    store: (ctx, { type, count }) => {
      const v = block(ctx).set;
      v.checktype = type;
      if (count !== undefined) v.combinedCount = count;
    },
    toVirtual: ({ v }) => ({ checktype: v.set.checktype ?? 'negotiate', ...opt('combinedCount', v.set.combinedCount) }),
  }),
  field({
    name: 'service',
    scope: 'virtual',
    key: 'service',
    read: (ctx, s) => {
      const w = /\w+/.exec(s)?.[0];
      if (w === undefined || !(SERVICES as readonly string[]).includes(w)) {
        fail(ctx, `service must be one of ${[...SERVICES].sort().join(', ')}`);
      }
      return w as (typeof SERVICES)[number];
    },
    store: (ctx, w) => {
      const v = block(ctx).set;
      v.service = w;
      // Defaults applied only when service= is given, at this line (original's behaviour).
      if (w === 'ftp' && !v.login) v.login = 'anonymous';
      else if (w === 'sip' && !v.login) v.login = `ldirectord@${ctx.p.hostname}`;
      if (w === 'ftp' && !v.passwd) v.passwd = `ldirectord@${ctx.p.hostname}`;
    },
    // Without service=, the service of the virtual's port (resolved after the block).
    toVirtual: ({ rv, v }) => ({ service: rv.service, serviceExplicit: v.set.service !== undefined }),
  }),
  field({
    name: 'checkcommand',
    scope: 'virtual',
    form: ['quoted', 'raw'],
    key: 'checkcommand',
    default: '/bin/true',
    read: nonEmpty('checkcommand: empty command'),
  }),
  field({
    name: 'checkport',
    scope: 'virtual',
    key: 'checkport',
    read: async (ctx, s, m) => {
      const n = await digitRun('checkport: a port number is required')(ctx, s, m);
      return n > 0 && n < 65536 ? n : fail(ctx, 'checkport must be in the range 1..65535');
    },
  }),
  timeoutDirective('checktimeout'),
  special({ name: 'connecttimeout', scope: 'both', read: rejected('connecttimeout is deprecated: use negotiatetimeout') }),
  timeoutDirective('negotiatetimeout'),
  field({
    name: 'checkinterval',
    scope: 'both',
    key: 'checkinterval',
    default: 10,
    read: positive(`checkinterval: ${NUMBER_SECONDS}`),
    // A virtual's own checkinterval counts only with fork=yes (original's behaviour).
    toVirtual: ({ p, v, rv, global }) => {
      const own = v.set.checkinterval;
      if (own === undefined) return { checkinterval: global.checkinterval };
      if (global.fork) return { checkinterval: own };
      p.warn(v.lines.checkinterval, `checkinterval in virtual service ${rv.vid} is ignored when fork=no`);
      return { checkinterval: global.checkinterval };
    },
  }),
  field({
    name: 'checkcount',
    scope: 'both',
    key: 'checkcount',
    default: 1,
    read: (ctx, s, m) => {
      const n = positive('checkcount: a positive number is required')(ctx, s, m) as number;
      ctx.p.warn(ctx.line, 'checkcount is deprecated and slated for removal; see failurecount');
      return n;
    },
  }),
  field({ name: 'failurecount', scope: 'both', key: 'failurecount', default: 1, read: positive('failurecount: a positive number is required') }),
  field({ name: 'autoreload', scope: 'global', key: 'autoreload', default: false, read: yesNo('autoreload') }),
  field({ name: 'callback', scope: 'global', form: 'quoted', key: 'callback', read: text }),
  field({
    name: 'request',
    scope: 'virtual',
    form: 'quoted',
    key: 'request',
    default: '/',
    read: (ctx, s, m) => {
      const r = nonEmpty('request: empty request string')(ctx, s, m) as string;
      return r.startsWith('/') ? r : '/' + r;
    },
  }),
  field({
    name: 'receive',
    scope: 'virtual',
    form: 'quoted',
    key: 'receive',
    default: '',
    read: (ctx, s, m) => {
      const r = nonEmpty('receive: empty receive string')(ctx, s, m) as string;
      ctx.p.checkReceive(ctx.line, r);
      return r;
    },
  }),
  field({
    name: 'httpmethod',
    scope: 'virtual',
    key: 'httpmethod',
    default: 'GET',
    read: (ctx, s) => {
      const w = /\w+/.exec(s)?.[0]?.toUpperCase();
      return w === 'GET' || w === 'HEAD' ? w : fail(ctx, 'httpmethod must be GET or HEAD');
    },
  }),
  field({ name: 'virtualhost', scope: 'virtual', key: 'virtualhost', read: (_ctx, s) => (/"?([^"]*)"?/.exec(s) as RegExpExecArray)[1] }),
  field({ name: 'login', scope: 'virtual', form: 'quoted', key: 'login', default: '', read: nonEmpty('login: empty login string') }),
  field({ name: 'passwd', scope: 'virtual', form: 'quoted', key: 'passwd', default: '', read: nonEmpty('passwd: empty password') }),
  field({ name: 'database', scope: 'virtual', form: 'quoted', key: 'database', default: '', read: nonEmpty('database: empty database name') }),
  field({ name: 'secret', scope: 'virtual', form: 'quoted', key: 'secret', default: '', read: nonEmpty('secret: empty secret') }),
  field({
    name: 'load',
    scope: 'virtual',
    form: 'quoted',
    key: 'load',
    read: (ctx, s) => /\w+/.exec(s)?.[0] ?? fail(ctx, 'load: a word is required'),
  }),
  field({
    name: 'scheduler',
    scope: 'virtual',
    key: 'scheduler',
    default: 'wrr',
    // No check against a list, as in the original: ipvsadm rejects unknown schedulers at runtime.
    read: (ctx, val) => {
      const s = /[a-z]+/.exec(val)?.[0];
      if (s === undefined) fail(ctx, 'scheduler must be written in lowercase letters (a-z)');
      if (s !== val) ctx.p.warn(ctx.line, `scheduler "${val}" is read as "${s}" (first run of lowercase letters)`);
      if (!(IPVS_SCHEDULERS as readonly string[]).includes(s)) {
        ctx.p.warn(ctx.line, `scheduler "${s}" is not a known IPVS scheduler: ipvsadm will reject it at runtime`);
      }
      return s;
    },
  }),
  field({ name: 'persistent', scope: 'virtual', key: 'persistent', read: digitRun('persistent: a timeout in seconds is required') }),
  field({
    name: 'netmask',
    scope: 'virtual',
    key: 'netmask',
    read: (ctx, val) => {
      if (block(ctx).family === 6) {
        if (!/^\d+$/.test(val) || Number(val) < 1 || Number(val) > 128) {
          fail(ctx, 'netmask of an IPv6 service must be a prefix length between 1 and 128');
        }
      } else {
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(val)) fail(ctx, 'netmask must be in dotted quad notation');
        if (!isContiguousNetmask(val)) ctx.p.warn(ctx.line, `netmask "${val}" is not a valid IPv4 netmask: ipvsadm will reject it at runtime`);
      }
      return val;
    },
  }),
  field({
    name: 'schedflags',
    scope: 'virtual',
    key: 'schedflags',
    read: (ctx, s) => /\S+/.exec(s.replace(/\x0B/g, ' '))?.[0] ?? fail(ctx, 'schedflags: a flag list is required'),
  }),
  field({ name: 'ops', scope: 'virtual', key: 'ops', default: false, read: yesNo('ops') }),
  special({
    name: 'fallback',
    variants: ['fallback6'],
    scope: 'both',
    forms: { global: [FALLBACK], virtual: [FALLBACK] },
    read: async (ctx, _s, m): Promise<{ six: boolean; own?: FallbackDraft; servers?: GlobalFallback }> => {
      const six = m[2] !== undefined;
      if (ctx.place === 'virtual') {
        familyMatches(ctx, m[1], six, 'fallback');
        // The port defaults to the one written in virtual=; resolved after the block (protocol known then).
        return { six, own: parseFallback(ctx.p, ctx.line, m[3], block(ctx).family, block(ctx).typedPort) };
      }
      // At top level: resolved at once, for tcp and for udp (a port name is looked up per protocol).
      const draft = (): FallbackDraft => parseFallback(ctx.p, ctx.line, m[3], six ? 6 : 4, undefined);
      return { six, servers: { tcp: await resolveFallback(ctx.p, draft(), 'tcp'), udp: await resolveFallback(ctx.p, draft(), 'udp') } };
    },
    store: (ctx, { six, own, servers }) => {
      if (ctx.place === 'virtual') block(ctx).fallback = own;
      else ctx.g.set[six ? 'fallback6' : 'fallback'] = servers;
    },
    toVirtual: (b) => opt('fallback', effectiveFallback(b)),
    toGlobal: (g) => ({ ...opt('fallback', g.set.fallback), ...opt('fallback6', g.set.fallback6) }),
  }),
  field({
    name: 'fallbackcommand',
    scope: 'both',
    // The original strips quotes only inside a block.
    forms: { global: [pattern('fallbackcommand', 'raw')], virtual: [pattern('fallbackcommand', 'quoted'), pattern('fallbackcommand', 'raw')] },
    key: 'fallbackcommand',
    read: nonEmpty('fallbackcommand: empty command'),
  }),
  field({ name: 'logfile', scope: 'global', form: 'quoted', key: 'logfile', default: { kind: 'file', path: '/var/log/ldirectord.log' }, read: logTarget }),
  field({ name: 'quiescent', scope: 'both', key: 'quiescent', default: false, read: yesNo('quiescent') }),
  field({ name: 'cleanstop', scope: 'both', key: 'cleanstop', default: true, read: yesNo('cleanstop') }),
  // Ours, not the original's: run `fallbackcommand stop ...` when the daemon stops with the fallback on.
  field({ name: 'fallbackcommandonstop', scope: 'both', key: 'fallbackcommandonstop', default: false, read: yesNo('fallbackcommandonstop') }),
  // Ours (issue 20), off when absent: the tuning directives.
  field({
    name: 'checkspread',
    scope: 'both',
    key: 'checkspread',
    read: (ctx, s, m) => {
      const on = yesNoBlanks('checkspread')(ctx, s, m) as boolean;
      ctx.p.note(
        ctx.line,
        on
          ? `checkspread = yes (${NOT_PERL}): for ${whereSet(ctx)}, each real server is checked at its own fixed offset within checkinterval (from a hash of virtual and real), the first time too, instead of all at once`
          : `checkspread = no: for ${whereSet(ctx)}, all real servers are checked at once every checkinterval, as by the Perl ldirectord`,
      );
      return on;
    },
  }),
  field({
    name: 'risecount',
    scope: 'both',
    key: 'risecount',
    read: notedNumber('risecount', 1, 1000, '', (n, ctx) =>
      n === 1
        ? `risecount = 1: for ${whereSet(ctx)}, one successful check brings a failed real server back, as with the Perl ldirectord`
        : `risecount = ${n} (${NOT_PERL}): for ${whereSet(ctx)}, a real server that failed comes back after ${n} successful checks in a row (a failure starts the count again); one not yet checked since the start comes up at its first success, as with the Perl ldirectord`,
    ),
  }),
  field({
    name: 'slowstart',
    scope: 'both',
    key: 'slowstart',
    read: notedNumber('slowstart', 0, 86400, ' of seconds', (n, ctx) =>
      n === 0
        ? `slowstart = 0: for ${whereSet(ctx)}, a real server comes back at its full weight at once, as with the Perl ldirectord`
        : `slowstart = ${n} (${NOT_PERL}): for ${whereSet(ctx)}, a real server that comes back (or that a reload adds, or that leaves drain) starts at weight 1 and reaches its weight over ${n} seconds, one step per check cycle; not at the daemon's start`,
    ),
    toVirtual: ({ p, v, global }) => {
      const n = v.set.slowstart ?? global.slowstart;
      if (n === undefined) return {};
      const sched = v.set.scheduler ?? 'wrr';
      if (n > 0 && WEIGHTLESS_SCHEDULERS.includes(sched)) {
        p.warn(v.lines.slowstart ?? v.lines.scheduler ?? v.line, `slowstart has no effect with scheduler ${sched}: it ignores weights (any weight above 0 gets a full share)`);
      }
      return { slowstart: n };
    },
  }),
  field({
    name: 'maxconcurrentchecks',
    scope: 'global',
    key: 'maxconcurrentchecks',
    read: notedNumber(
      'maxconcurrentchecks',
      1,
      65535,
      '',
      (n) =>
        `maxconcurrentchecks = ${n} (${NOT_PERL}): at most ${n} checks run at once; the others wait their turn in order (none is skipped; each check's timeout counts from its own start); checks that wait longer than their checkinterval are logged, once per burst`,
    ),
  }),
  // Ours (off when absent): read the IPVS table back on a timer and put managed entries back.
  field({
    name: 'readbackinterval',
    scope: 'global',
    key: 'readbackinterval',
    read: notedNumber('readbackinterval', 0, 86400, ' of seconds', (n) =>
      n === 0
        ? 'readbackinterval = 0: the IPVS table is read again only for a change, as by the Perl ldirectord; an entry changed by hand stays as it is until then'
        : `readbackinterval = ${n} (${NOT_PERL}): every ${n} seconds the IPVS table is read back even when nothing changed, and a managed entry removed or edited by hand is put back as the checks say it should be (virtual services the file does not name are not touched)`,
    ),
  }),
  field({ name: 'emailalert', scope: 'both', key: 'emailalert', default: '', read: emailAddress }),
  field({
    name: 'emailalertfreq',
    scope: 'both',
    form: 'digits',
    key: 'emailalertfreq',
    default: 0,
    read: (ctx, s) => (s === '' ? fail(ctx, 'emailalertfreq: a number of seconds is required') : Number(s)),
  }),
  field({ name: 'emailalertstatus', scope: 'both', key: 'emailalertstatus', default: ALL_STATUSES, read: emailAlertStatus }),
  field({ name: 'emailalertfrom', scope: 'global', key: 'emailalertfrom', read: nonEmpty('emailalertfrom: no address given') }),
  field({ name: 'smtp', scope: 'both', key: 'smtp', read: smtpServer }),
  // Ours, not the original's (off by default): each address of an emailalert list its own SMTP recipient,
  // and the port of smtp=host:port dialled (the original sends the whole list as one RCPT and dials 25).
  field({ name: 'emailalertsplit', scope: 'both', key: 'emailalertsplit', default: false, read: yesNo('emailalertsplit') }),
  field({ name: 'smtpuseport', scope: 'both', key: 'smtpuseport', default: false, read: yesNo('smtpuseport') }),
  field({
    name: 'execute',
    scope: 'global',
    key: 'execute',
    default: [],
    read: (_ctx, s) => [s],
    // Each configuration once, in the order first written.
    store: (ctx, [s]) => {
      const list = (ctx.g.set.execute ??= []) as string[];
      if (!list.includes(s)) list.push(s);
    },
  }),
  field({ name: 'supervised', scope: 'global', forms: { global: [perlRe('^supervised')] }, key: 'supervised', default: false, read: supervised }),
  field({ name: 'fork', scope: 'global', key: 'fork', default: false, read: yesNo('fork') }),
  field({ name: 'readdquiescent', scope: 'global', key: 'readdquiescent', default: false, read: yesNo('readdquiescent') }),
  field({
    name: 'maintenancedir',
    scope: 'global',
    key: 'maintenancedir',
    read: async (ctx, dir) => {
      if (dir === '') fail(ctx, 'maintenancedir: no directory given');
      const st = await stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) ctx.p.warn(ctx.line, `maintenance directory ${dir} does not exist`);
      else if (ctx.p.checkFiles && st.mode & 0o002) {
        ctx.p.warn(ctx.line, `maintenance directory ${dir} is world-writable: anyone can put real servers in maintenance`);
      }
      return dir;
    },
  }),
  // Ours, not the original's: the IPVS connection-sync daemons to keep running (syncdaemon.ts), one line per role.
  special({
    name: 'syncdaemon',
    scope: 'global',
    read: (ctx, value): SyncDaemonConfig => {
      const r = parseSyncDaemon(value);
      if ('error' in r) fail(ctx, r.error);
      const first = ctx.g.set.syncdaemons?.find((d) => d.role === r.daemon.role);
      if (first) fail(ctx, `syncdaemon: a second line for the ${r.daemon.role} role (the first is at line ${first.pos.line})`);
      return { ...r.daemon, pos: { file: ctx.p.file, line: ctx.line } };
    },
    store: (ctx, d) => {
      ctx.g.set.syncdaemons = [...(ctx.g.set.syncdaemons ?? []), d];
    },
    toGlobal: (g) => opt('syncdaemons', g.set.syncdaemons),
  }),
  field({
    name: 'monitorfile',
    scope: 'virtual',
    form: ['quoted', 'raw'],
    key: 'monitorfile',
    read: async (ctx, path) => {
      if (ctx.p.checkFiles) await ctx.p.testAppend(ctx.line, path, 'monitorfile');
      return path;
    },
  }),
  field({ name: 'servicename', scope: 'virtual', key: 'servicename', read: text }),
  field({ name: 'comment', scope: 'virtual', key: 'comment', read: text }),
  special({ name: 'timeout', scope: 'global', read: rejected('timeout is deprecated: use checktimeout and negotiatetimeout') }),
];

/** The block headers: read by the loop of parse.ts, as they open a block rather than set a value. */
export const BLOCK_HEADERS = ['virtual', 'virtual6'] as const;

/** Every directive name an ldirectord.cf may use (what man/ldirectord.cf.5 documents). */
export function directiveNames(directives: readonly Directive[] = DIRECTIVES): string[] {
  return [...BLOCK_HEADERS, ...directives.flatMap((d) => [d.name, ...(d.variants ?? [])])];
}

/** Reads one line at `place` with the first directive whose form matches; false when none does. */
export async function readDirective(
  ctx: LineContext,
  subject: string,
  directives: readonly Directive[] = DIRECTIVES,
): Promise<boolean> {
  for (const d of directives) {
    for (const re of d.forms[ctx.place]) {
      const m = re.exec(subject);
      if (!m) continue;
      const value = await d.read(ctx, m[1], m);
      if (d.store) d.store(ctx, value);
      else if (d.key !== undefined) {
        const draft = ctx.place === 'virtual' ? block(ctx).set : ctx.g.set;
        (draft as Record<string, unknown>)[d.key] = value;
      }
      if (ctx.v) ctx.v.lines[d.name] = ctx.line;
      return true;
    }
  }
  return false;
}

/** The global settings: each directive's own value, else its default. */
export function buildGlobal(g: GlobalDraft, directives: readonly Directive[] = DIRECTIVES): GlobalConfig {
  const out: Record<string, unknown> = {};
  for (const d of directives) {
    if (d.scope === 'virtual') continue;
    if (d.toGlobal) Object.assign(out, d.toGlobal(g));
    else if (d.key !== undefined) {
      const value = (g.set as Record<string, unknown>)[d.key] ?? structuredClone(d.default);
      if (value !== undefined) out[d.key] = value;
    }
  }
  return out as unknown as GlobalConfig;
}

/** The directive fields of a virtual: its own value, else (for 'both') the global one, else the default. */
export function buildVirtualFields(b: BuildContext, directives: readonly Directive[] = DIRECTIVES): Partial<VirtualService> {
  const out: Record<string, unknown> = {};
  const own = b.v.set as Record<string, unknown>;
  const global = b.global as unknown as Record<string, unknown>;
  for (const d of directives) {
    if (d.scope === 'global') continue;
    if (d.toVirtual) Object.assign(out, d.toVirtual(b));
    else if (d.key !== undefined) {
      const value = own[d.key] ?? (d.scope === 'both' ? global[d.key] : structuredClone(d.default));
      if (value !== undefined) out[d.key] = value;
    }
  }
  return out as Partial<VirtualService>;
}
