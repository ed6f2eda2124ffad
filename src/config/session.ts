/**
 * The state of one parse of an ldirectord.cf: the file and options, the warnings so far, the cached
 * name lookups, and the drafts the directives write into. Shared by the directive registry
 * (directives.ts), the resolution of addresses and ports (resolve.ts) and the reading loop (parse.ts).
 */
import { open } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';

import type {
  AddressFamily,
  ConfigWarning,
  FallbackServer,
  Forward,
  GlobalConfig,
  Protocol,
  RealServer,
  ServiceName,
  VirtualService,
} from '../model/config.js';
import { ConfigError } from '../util/errors.js';
import { translatePerlRegex } from '../util/perl-regex.js';
import { perlRe } from './perl.js';
import { type Resolver, systemResolver } from './resolver.js';

/** ParseOptions tune how the file is checked; the defaults behave like the original's `start`. */
export interface ParseOptions {
  /** Name and service lookups; default: getaddrinfo + /etc/services. */
  resolver?: Resolver;
  /** Host name used in the ftp/sip login defaults; default $HOSTNAME, else the node name. */
  hostname?: string;
  /** Perform the original's parse-time file side effects as checks (logfile, monitorfile). Default true. */
  checkFiles?: boolean;
  /** As under the original's -d: the logfile is not test-opened. Default false. */
  debug?: boolean;
  /**
   * Translator of receive= patterns (Perl syntax) to RegExp; a throw rejects the line. Default:
   * translatePerlRegex (src/util/perl-regex.ts), the one the checks match answers with.
   */
  regexTranslator?: (src: string) => RegExp;
}

const BRACKETS = perlRe('\\[(.*)\\]');

/** One parse: where errors and warnings point, and the lookups done so far. */
export class Parser {
  readonly warnings: ConfigWarning[] = [];
  /** What directives that are not the original's mean (configtest prints them). */
  readonly notes: ConfigWarning[] = [];
  readonly resolver: Resolver;
  readonly hostname: string;
  readonly checkFiles: boolean;
  readonly debug: boolean;
  readonly translateRegex: (src: string) => RegExp;
  private readonly hostCache = new Map<string, Promise<string | undefined>>();

  constructor(
    readonly file: string,
    opts: ParseOptions,
  ) {
    this.resolver = opts.resolver ?? systemResolver;
    this.hostname = opts.hostname ?? process.env.HOSTNAME ?? osHostname();
    this.checkFiles = opts.checkFiles ?? true;
    this.debug = opts.debug ?? false;
    this.translateRegex = opts.regexTranslator ?? translatePerlRegex;
  }

  error(line: number, message: string, text?: string): never {
    throw new ConfigError(this.file, line, message, text);
  }

  warn(line: number, message: string): void {
    this.warnings.push({ file: this.file, line, message });
  }

  note(line: number, message: string): void {
    this.notes.push({ file: this.file, line, message });
  }

  /** ld_gethostbyname: brackets stripped, first address of the family; result without brackets. */
  lookupHost(name: string, family: AddressFamily): Promise<string | undefined> {
    const m = BRACKETS.exec(name);
    const bare = m ? m[1] : name;
    // Original's behaviour: getaddrinfo with an empty host name yields the loopback address, so an
    // empty fallback= means the local host.
    if (bare === '') return Promise.resolve(family === 6 ? '::1' : '127.0.0.1');
    const key = `${family}|${bare}`;
    let p = this.hostCache.get(key);
    if (!p) {
      p = this.resolver.lookupHost(bare, family);
      this.hostCache.set(key, p);
    }
    return p;
  }

  /** ld_getservbyname: a number 0..65535 is itself (kept as typed), else /etc/services. */
  servicePort(name: string, proto: 'tcp' | 'udp' | ''): string | undefined {
    if (/^[0-9]+$/.test(name)) return Number(name) < 65536 ? name : undefined;
    const p = this.resolver.servicePort(name, proto);
    return p === undefined ? undefined : String(p);
  }

  /** The receive= regex must be translatable to a JavaScript RegExp (the checks use it). */
  checkReceive(line: number, receive: string): void {
    try {
      this.translateRegex(receive);
    } catch (e) {
      const msg = (e as Error).message;
      this.error(line, msg.startsWith('receive pattern') ? msg : `receive pattern cannot be used: ${msg}`, receive);
    }
  }

  /** The original's open(">>path") test: the file is created if missing (as the original does). */
  async testAppend(line: number, path: string, what: string): Promise<void> {
    try {
      const fh = await open(path, 'a', 0o640);
      await fh.close();
    } catch (e) {
      this.error(line, `unable to open ${what} ${path}: ${(e as NodeJS.ErrnoException).message}`, path);
    }
  }
}

/** The model fields a directive may set, all optional and writable (absent = not written). */
export type Settable<T> = { -readonly [K in keyof T]?: T[K] };

/** A fallback as written, before resolution (parse_fallback). */
export interface FallbackDraft {
  server: string;
  port?: string;
  forward: Forward;
  line: number;
  family: AddressFamily;
}

/** What the top-level lines set, by model field. */
export interface GlobalDraft {
  readonly set: Settable<GlobalConfig>;
}

/** A virtual block as read, before resolution and inheritance. */
export interface VirtualDraft {
  readonly keyword: 'virtual' | 'virtual6';
  readonly family: AddressFamily;
  /** Line of the virtual= header. */
  readonly line: number;
  hostPort?: string;
  typedPort?: string;
  fwm?: string;
  protocol: Protocol;
  /** What the block's directives set, by model field. */
  readonly set: Settable<VirtualService>;
  /** Line of each directive written in the block, by name (for warnings given after the block). */
  readonly lines: Record<string, number>;
  readonly realsTodo: { text: string; line: number }[];
  fallback?: FallbackDraft;
}

/** A virtual after resolution: what the rest of the file cannot change any more. */
export interface ResolvedVirtual {
  readonly draft: VirtualDraft;
  readonly ip: string;
  /** The server as the original prints it: a.b.c.d or [v6]; empty for fwm. */
  readonly server: string;
  /** The resolved port as the original keeps it (a string: "080" stays "080"). */
  readonly portStr: string;
  readonly port: number;
  readonly service: ServiceName;
  readonly fallback?: FallbackServer;
  readonly reals: RealServer[];
  readonly vid: string;
}
