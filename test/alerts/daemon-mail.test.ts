/**
 * Alert mail through the running daemon, received by an SMTP server the test runs on 127.0.0.1: the
 * right mails in the right order for failures, the fallback switch and recovery; none repeated by a
 * reload; the stop's purges mailed before the process exits. emailalertstatus leaves out "starting" and
 * "reloading" (the original mails its start and reload flaps; those are compared with the original's in
 * test/differential/runtime/alerts.test.ts).
 */
import { describe, it, expect, afterEach } from 'vitest';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { Rig, build, until, tcpListen, closeServer, freePort, sleep, daemonSkipReason } from '../reliability/helpers.js';
import { processBudgetMs } from '../support/load.js';

const skip = daemonSkipReason();
if (skip) console.warn(`daemon mail test skipped: ${skip}`);

describe.skipIf(Boolean(skip))('alert mail through the daemon', () => {
  let rig: Rig | undefined;
  let smtp: SMTPServer | undefined;
  const servers: (net.Server | undefined)[] = [];
  afterEach(async () => {
    if (rig) {
      await rig.run(['stop']).catch(() => {});
      if (!process.env.KEEP) rig.cleanup();
    }
    for (const s of servers) await closeServer(s);
    await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
  });

  it('mails each failure, the fallback switch and recovery once; nothing for a reload; the stop before exiting', async () => {
    build();
    const mails: { rcpt: string[]; subject: string }[] = [];
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, cb) {
        let data = '';
        stream.on('data', (c: Buffer) => (data += c.toString()));
        stream.on('end', () => {
          mails.push({ rcpt: session.envelope.rcptTo.map((r) => r.address), subject: /^Subject: (.*)$/m.exec(data.replace(/\r?\n[ \t]+/g, ' '))?.[1]?.trim() ?? '' });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp!.listen(0, '127.0.0.1', () => r()));
    const smtpPort = (smtp.server.address() as AddressInfo).port;
    const port = await freePort();
    servers.push(await tcpListen('127.0.0.2', port), await tcpListen('127.0.0.3', port));
    rig = new Rig('mail.cf');
    const r = rig;
    writeFileSync(r.cfg,
      `logfile="${r.log}"\ncheckinterval=1\nchecktimeout=1\nquiescent=no\nemailalertstatus=running,stopping\nemailalert="ops@example.org, noc@example.org"\nsmtp=127.0.0.1:${smtpPort}\nsmtpuseport=yes\nemailalertsplit=yes\n` +
      `virtual=127.0.0.1:${port}\n\treal=127.0.0.2:${port} masq\n\treal=127.0.0.3:${port} masq\n\tfallback=127.0.0.9:${port} masq\n\tchecktype=connect\n`);
    await r.start();
    await until(() => r.up().length === 2, processBudgetMs(8, 15_000), 'both reals up');
    await sleep(1500);
    expect(mails).toEqual([]); // emailalertstatus without "starting"

    await closeServer(servers[0]);
    servers[0] = undefined;
    await until(() => mails.length >= 1, processBudgetMs(4, 15_000), 'first mail');
    await closeServer(servers[1]);
    servers[1] = undefined;
    await until(() => mails.length >= 3, processBudgetMs(4, 15_000), 'fallback mails');
    process.kill(r.pid(), 'SIGHUP');
    await sleep(2500);
    servers[0] = await tcpListen('127.0.0.2', port);
    await until(() => mails.length >= 5, processBudgetMs(4, 15_000), 'recovery mails');
    await sleep(2500);
    const subjects = mails.map((m) => m.subject);
    const v = `127.0.0.1:${port}`;
    expect(subjects).toEqual([
      `Deleted real server: 127.0.0.2:${port} (${v})`,
      `Deleted real server: 127.0.0.3:${port} (${v})`,
      `Added fallback server: 127.0.0.9:${port} (${v}) (Weight set to 1)`,
      `Added real server: 127.0.0.2:${port} (${v}) (Weight set to 1)`,
      `Deleted fallback server: 127.0.0.9:${port} (${v})`,
    ]);
    for (const m of mails) expect(m.rcpt).toEqual(['ops@example.org', 'noc@example.org']);

    // Stop: the purge of the one real up is mailed, and delivered before the process is gone.
    const pid = r.pid();
    const exited = new Promise<void>((res) => {
      const t = setInterval(() => {
        try {
          process.kill(pid, 0);
        } catch {
          clearInterval(t);
          res();
        }
      }, 20);
    });
    process.kill(pid, 'SIGTERM');
    await exited;
    expect(mails.map((m) => m.subject).slice(5)).toEqual([`Purged real server (stop): 127.0.0.2:${port} (${v})`]);
  }, 120_000);

  it('a mail server that accepts and never answers delays stop by the bound (5 s), not by its timeouts', async () => {
    build();
    // Three reals up: three purge mails at stop; without the bound each would wait nodemailer's 10 s
    // greeting timeout in turn (30 s).
    const mute = await tcpListen('127.0.0.1', 0, () => {});
    servers.push(mute);
    const smtpPort = (mute.address() as AddressInfo).port;
    const port = await freePort();
    for (const h of [2, 3, 4]) servers.push(await tcpListen(`127.0.0.${h}`, port));
    rig = new Rig('mute.cf');
    const r = rig;
    writeFileSync(r.cfg,
      `logfile="${r.log}"\ncheckinterval=1\nchecktimeout=1\nquiescent=no\nemailalertstatus=stopping\nemailalert=ops@example.org\nsmtp=127.0.0.1:${smtpPort}\nsmtpuseport=yes\n` +
      `virtual=127.0.0.1:${port}\n\treal=127.0.0.2:${port} masq\n\treal=127.0.0.3:${port} masq\n\treal=127.0.0.4:${port} masq\n\tchecktype=connect\n`);
    await r.start();
    await until(() => r.up().length === 3, processBudgetMs(8, 15_000), 'three reals up');
    const pid = r.pid();
    const t0 = Date.now();
    process.kill(pid, 'SIGTERM');
    await until(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 25_000, 'daemon gone');
    const took = Date.now() - t0;
    // Without the bound: three sends of nodemailer's 10 s greeting timeout each (30 s). With it: the 5 s
    // bound plus the stop's own work (the fake ipvsadm's read, -R and read-back, the process exit: a few
    // Node process lifetimes, seconds on a busy machine).
    expect(took).toBeLessThan(5000 + processBudgetMs(6, 3000));
    expect(took).toBeGreaterThanOrEqual(4500); // it did wait for the mail server (about the 5 s bound)
    expect(r.logText()).toMatch(/emailalert: 3 message\(s\) not delivered within 5 s, given up/);
  }, 120_000);
});