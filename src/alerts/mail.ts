/**
 * E-mail alerts: the one owner of alert state (what was sent, what is due for a resend).
 *
 * Compatible with the original's emailalert, emailalertfreq, emailalertstatus, emailalertfrom and smtp
 * directives (global and per virtual), its subjects (the log text, "[servicename] " prefixed) and body
 * ("ldirectord host:", "Log-Message:", "Daemon-Status:", then "Service name:"/"Comment:").
 *
 * As the original by default: through smtp=, the whole emailalert value is ONE recipient (Net::SMTP's
 * `RCPT TO:<a@x, b@y>`, which most servers refuse: a list then gets no mail), and the port of
 * `smtp=host:port` is dropped (port 25 is dialled). Through the local mailer each address of the list
 * gets the mail (the original's `sendmail -t` reads the To: header). Opt-ins (ours, off by default):
 * `emailalertsplit = yes` makes each address of the list its own SMTP recipient, `smtpuseport = yes`
 * dials the port given. The fallback server is never resent, as in the original (its Added/Restored/
 * Deleted fallback mails carry no alert time).
 *
 * Deliberate differences (documented in ldirectord.cf.5):
 * - mail is queued and sent off the check path (the original talks SMTP inside its check loop);
 * - the sender is the running user's name from the password database, not $USER;
 * - a real dropped by a reload is no longer resent; nothing is lost across a reload.
 * Every transition the original mails is mailed, in every phase (starting, running, reloading, stopping),
 * filtered by emailalertstatus as the original does: a director that wants no start-up mail says
 * `emailalertstatus = running, reloading, stopping`. At stop the queue is delivered within a bound
 * (flush(deadlineMs)), so a dead SMTP server delays the exit by seconds, never hangs it.
 */
import os from 'node:os';
import { existsSync } from 'node:fs';
import type { Config, DaemonStatus, VirtualService } from '../model/config.js';
import type { EngineEvent } from '../engine/types.js';
import type { Clock } from '../util/clock.js';

/** One message, ready to send. */
export interface AlertMail {
  /** smtp host[:port] (the port only with smtpuseport); undefined = the system mailer (sendmail). */
  readonly smtp?: string;
  readonly envelopeFrom: string;
  readonly from: string;
  /** The emailalert value as configured (the To: header). */
  readonly to: string;
  /**
   * The envelope recipients: through SMTP one entry, the whole emailalert value as Net::SMTP sends it
   * (unless emailalertsplit); for the local mailer one entry per address (its `-t` reads To:).
   */
  readonly recipients: readonly string[];
  readonly subject: string;
  readonly body: string;
}

/** MailSender delivers one message; it rejects on failure. Injected so tests can record. */
export type MailSender = (mail: AlertMail) => Promise<void>;

/** The host of `host[:port]` (what the original keeps of smtp=). */
export function smtpHost(smtp: string): string {
  return /^\[/.test(smtp) ? smtp.replace(/(\]):\d+$/, '$1') : smtp.replace(/:\d+$/, '');
}

/**
 * What configtest says about the mail settings: the opt-ins in use (ours, not the original's behaviour),
 * and the original's behaviours a config probably did not mean (a port the original ignores, a list that
 * goes as one SMTP recipient), each with its opt-in.
 */
export function alertNotes(config: Pick<Config, 'virtuals'>): string[] {
  const notes = new Set<string>();
  for (const v of config.virtuals) {
    const where = `${v.pos.file}:${v.pos.line}`;
    if (v.emailalert.trim() === '') continue;
    if (v.emailalertsplit) notes.add(`${where}: note: emailalertsplit=yes (not the Perl ldirectord's behaviour): each address of emailalert is its own SMTP recipient`);
    if (v.smtp && /:\d+$/.test(v.smtp)) {
      if (v.smtpuseport) notes.add(`${where}: note: smtpuseport=yes (not the Perl ldirectord's behaviour): alerts dial ${v.smtp}`);
      else notes.add(`${where}: note: smtp=${v.smtp}: the port is ignored and port 25 dialled, as by the Perl ldirectord; smtpuseport=yes dials it`);
    }
    if (v.smtp && !v.emailalertsplit && splitAddresses(v.emailalert).length > 1)
      notes.add(`${where}: note: emailalert="${v.emailalert}" goes through smtp= as ONE recipient, as by the Perl ldirectord (most mail servers refuse it); emailalertsplit=yes sends to each address`);
  }
  return [...notes];
}

/** Splits `host[:port]`; port 25 by default. */
export function parseSmtp(smtp: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(smtp) ?? /^([^:]+)(?::(\d+))?$/.exec(smtp);
  if (!m) return { host: smtp, port: 25 };
  return { host: m[1], port: m[2] ? Number(m[2]) : 25 };
}

/**
 * The recipient Net::SMTP's to() sends for an address string: the first `<...>` in it, else the string
 * with outer white space trimmed, whatever commas it holds.
 */
export function netSmtpRecipient(addr: string): string {
  const m = /<([^>]*)>/.exec(addr);
  return m ? m[1] : addr.trim();
}

/** The addresses of an emailalert list (comma and/or white space separated). */
export function splitAddresses(list: string): string[] {
  return list.split(/[\s,]+/).filter(Boolean);
}

/**
 * nodemailerSender sends through SMTP (smtp set) or the local sendmail binary. The SMTP path talks
 * through nodemailer's SMTP connection itself, so that the envelope recipients go out as given (the
 * transport would parse and split them).
 */
export const nodemailerSender: MailSender = async (mail) => {
  // Loaded on the first alert: most directors never send one, and the daemon starts faster without it.
  const { default: nodemailer } = await import('nodemailer');
  if (!mail.smtp) {
    const transport = nodemailer.createTransport({ sendmail: true, path: existsSync('/usr/sbin/sendmail') ? '/usr/sbin/sendmail' : 'sendmail' });
    try {
      await transport.sendMail({ envelope: { from: mail.envelopeFrom, to: [...mail.recipients] }, from: mail.from, to: mail.to, subject: mail.subject, text: mail.body });
    } finally {
      transport.close();
    }
    return;
  }
  const [{ default: MailComposer }, { default: SMTPConnection }] = await Promise.all([
    import('nodemailer/lib/mail-composer/index.js'),
    import('nodemailer/lib/smtp-connection/index.js'),
  ]);
  const raw = await new MailComposer({ from: mail.from, to: mail.to, subject: mail.subject, text: mail.body }).compile().build();
  const conn = new SMTPConnection({
    ...parseSmtp(mail.smtp),
    secure: false,
    // Mail servers on a director's management network often have self-signed certificates.
    tls: { rejectUnauthorized: false },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  try {
    await new Promise<void>((res, rej) => {
      conn.on('error', rej);
      conn.connect(() => res());
    });
    await new Promise<void>((res, rej) => conn.send({ from: mail.envelopeFrom, to: [...mail.recipients] }, raw, (err) => (err ? rej(err) : res())));
    conn.quit();
  } finally {
    conn.close();
  }
};

const STATUS_NAMES: Record<DaemonStatus, string> = {
  starting: 'starting',
  running: 'running',
  stopping: 'stopping',
  reloading: 'reloading',
};

interface Settings {
  emailalert: string;
  emailalertfreq: number;
  emailalertstatus: readonly DaemonStatus[];
  smtp?: string;
  emailalertsplit: boolean;
  smtpuseport: boolean;
  servicename?: string;
  comment?: string;
}

/** Log sink for the alert manager (the daemon passes its logger). */
export type AlertLog = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface AlertManagerOptions {
  readonly clock: Clock;
  readonly hostname: string;
  readonly send?: MailSender;
  readonly log?: AlertLog;
  /** The running user's name; default from the password database. */
  readonly username?: string;
  /** Most messages waiting to be sent; older ones are dropped with a log line. */
  readonly maxQueue?: number;
}

/**
 * AlertManager turns the engine's real-state events into mails, resends for reals that stay down, and
 * sends them one at a time in the background.
 */
export class AlertManager {
  private config?: Config;
  private status: DaemonStatus = 'starting';
  /** id `<rs> (<vid>)` → when the last mail about it was sent, for reals that are down. */
  private readonly down = new Map<string, { vid: string; rs: string; at: number }>();
  private readonly queue: AlertMail[] = [];
  /** The config's virtuals by vid (each real's event looks its virtual up: 10 000 reals log 40 000 at a start). */
  private vids = new Map<string, VirtualService>();
  private sending: Promise<void> | undefined;
  private readonly send: MailSender;
  private readonly log: AlertLog;
  private readonly username: string;
  private readonly maxQueue: number;
  /** Messages sent and failed, for metrics and tests. */
  readonly counters = { sent: 0, failed: 0, dropped: 0 };

  constructor(private readonly opts: AlertManagerOptions) {
    this.send = opts.send ?? nodemailerSender;
    this.log = opts.log ?? (() => {});
    this.username = opts.username ?? safeUsername();
    this.maxQueue = opts.maxQueue ?? 100;
  }

  /** Takes a new config (start and reload). Resend state of reals no longer configured is dropped. */
  setConfig(config: Config): void {
    this.config = config;
    const vids = new Map(config.virtuals.map((v) => [v.vid, v]));
    this.vids = vids;
    for (const [id, entry] of this.down) {
      const v = vids.get(entry.vid);
      if (!v || !v.reals.some((r) => sameRs(v, entry.rs, r.ip, r.port))) this.down.delete(id);
    }
  }

  /** The daemon's status, matched against emailalertstatus. */
  setStatus(status: DaemonStatus): void {
    this.status = status;
  }

  /** Feeds one engine event. Only real-state and fallback events are mailed. */
  onEvent(e: EngineEvent): void {
    if (e.type === 'real-state') {
      const v = this.virtual(e.vid);
      if (!v) return;
      const s = this.settings(v);
      // Quiesced, deleted or in maintenance: resent while it stays so. Restored, added and purged
      // ('removed': start/stop purges) clear it, as the original's zero alert time does. An admin change
      // is mailed, but says nothing about health: the resend state stays as it is.
      const isDown = e.state === 'down' || e.state === 'quiescent' || e.state === 'maintenance';
      if (e.state === 'admin') {
        /* health unchanged */
      } else if (isDown && s.emailalertfreq > 0) this.down.set(e.id, { vid: e.vid, rs: e.rs, at: this.opts.clock.now() });
      else this.down.delete(e.id);
      // The original logs "Readd Quiescent ..." but mails "Quiescent ...".
      this.mail(v, e.message.replace(/^Readd Quiescent /, 'Quiescent '));
    } else if (e.type === 'fallback') {
      const v = this.virtual(e.vid);
      if (v) this.mail(v, e.message);
    }
  }

  /** Resends "Inaccessible real server" for reals down longer than their emailalertfreq. */
  tick(): void {
    const now = this.opts.clock.now();
    for (const [id, entry] of this.down) {
      const v = this.virtual(entry.vid);
      if (!v) {
        this.down.delete(id);
        continue;
      }
      const freq = this.settings(v).emailalertfreq;
      if (freq <= 0) {
        this.down.delete(id);
        continue;
      }
      if (now - entry.at < freq * 1000) continue;
      entry.at = now;
      this.mail(v, `Inaccessible real server: ${id}`);
    }
  }

  /**
   * Resolves when every queued message has been tried, or after deadlineMs (default: no bound). What
   * is still queued then is dropped with one log line; a send under way is left to the process exit.
   */
  async flush(deadlineMs?: number): Promise<void> {
    const drained = (async () => {
      while (this.sending) await this.sending;
    })();
    if (deadlineMs === undefined) return drained;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), deadlineMs))),
    ]);
    clearTimeout(timer);
    if (!timedOut) return;
    const left = this.queue.length + (this.sending ? 1 : 0);
    this.queue.length = 0;
    this.counters.dropped += left;
    this.log('error', `emailalert: ${left} message(s) not delivered within ${deadlineMs / 1000} s, given up`);
  }

  private virtual(vid: string): VirtualService | undefined {
    return this.vids.get(vid);
  }

  private settings(v: VirtualService): Settings {
    return {
      emailalert: v.emailalert,
      emailalertfreq: v.emailalertfreq,
      emailalertstatus: v.emailalertstatus,
      smtp: v.smtp,
      emailalertsplit: v.emailalertsplit ?? false,
      smtpuseport: v.smtpuseport ?? false,
      servicename: v.servicename,
      comment: v.comment,
    };
  }

  private mail(v: VirtualService, text: string): void {
    const s = this.settings(v);
    if (!s.emailalertstatus.includes(this.status)) return;
    if (s.emailalert.trim() === '') return;
    this.log('info', `emailalert: ${text}`);
    const subject = s.servicename ? `[${s.servicename}] ${text}` : text;
    let body = `ldirectord host: ${this.opts.hostname}\nLog-Message: ${subject}\nDaemon-Status: ${STATUS_NAMES[this.status]}\n`;
    const details = (s.servicename ? `Service name: ${s.servicename}\n` : '') + (s.comment ? `Comment: ${s.comment}\n` : '');
    if (details) body += `\n${details}\n`;
    const envelopeFrom = `${this.username}@${this.opts.hostname}`;
    // As the original: Net::SMTP gets the whole value as one recipient, and the port of host:port is
    // dropped; emailalertsplit and smtpuseport (ours) are the opt-ins.
    const smtp = s.smtp === undefined ? undefined : s.smtpuseport ? s.smtp : smtpHost(s.smtp);
    const mail: AlertMail = {
      smtp,
      envelopeFrom,
      from: this.config?.global.emailalertfrom ?? envelopeFrom,
      to: s.emailalert,
      recipients: smtp !== undefined && !s.emailalertsplit ? [netSmtpRecipient(s.emailalert)] : splitAddresses(s.emailalert),
      subject,
      body,
    };
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.counters.dropped++;
      this.log('warn', 'emailalert: queue full, oldest message dropped');
    }
    this.queue.push(mail);
    if (!this.sending) this.sending = this.drain();
  }

  private async drain(): Promise<void> {
    try {
      for (let m = this.queue.shift(); m; m = this.queue.shift()) {
        try {
          await this.send(m);
          this.counters.sent++;
        } catch (err) {
          this.counters.failed++;
          this.log('error', `failed to send ${m.smtp ? 'SMTP ' : ''}email message: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    } finally {
      this.sending = undefined;
    }
  }
}

function sameRs(v: VirtualService, rs: string, ip: string, port: number): boolean {
  const bare = rs.replace(/^\[|\](?=:\d+$)/g, '');
  const vport = v.port;
  return bare === `${ip}:${port}` || bare === `${ip}:${vport}` || bare === ip;
}

function safeUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'ldirectord');
  }
}
