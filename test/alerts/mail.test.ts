import { describe, it, expect, afterEach } from 'vitest';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { AlertManager, parseSmtp, type AlertMail } from '../../src/alerts/mail.js';
import { ManualClock } from '../../src/util/clock.js';
import type { Config, VirtualService } from '../../src/model/config.js';
import type { EngineEvent } from '../../src/engine/types.js';

function virtual(over: Partial<VirtualService> = {}): VirtualService {
  return {
    keyword: 'virtual', family: 4, protocol: 'tcp', ip: '127.0.0.10', port: 80, vaddr: '127.0.0.10:80', vid: 'tcp:127.0.0.10:80',
    reals: [
      { ip: '127.0.0.11', family: 4, port: 80, forward: 'masq', weight: 1, upperThreshold: 0, lowerThreshold: 0, source: '', pos: { file: 'x', line: 3 } },
      { ip: '127.0.0.12', family: 4, port: 80, forward: 'masq', weight: 1, upperThreshold: 0, lowerThreshold: 0, source: '', pos: { file: 'x', line: 4 } },
    ],
    checktype: 'negotiate', service: 'http', serviceExplicit: false, checkcommand: '/bin/true', checktimeout: 5, negotiatetimeout: 30,
    checkinterval: 10, checkcount: 1, failurecount: 1, request: '/', receive: '', httpmethod: 'GET', login: '', passwd: '', database: '',
    secret: '', scheduler: 'wrr', ops: false, quiescent: false, cleanstop: true, emailalert: 'ops@example.org, noc@example.org',
    emailalertfreq: 0, emailalertstatus: ['starting', 'running', 'stopping', 'reloading'], pos: { file: 'x', line: 2 },
    ...over,
  };
}

function config(v: VirtualService, from?: string): Config {
  return {
    file: '/etc/ha.d/ldirectord.cf',
    global: {
      checkinterval: 10, checkcount: 1, failurecount: 1, autoreload: false, logfile: { kind: 'syslog', facility: 'local0' },
      emailalert: '', emailalertfreq: 0, emailalertstatus: ['starting', 'running', 'stopping', 'reloading'], emailalertfrom: from,
      execute: [], supervised: false, fork: false, quiescent: false, readdquiescent: false, cleanstop: true,
    },
    virtuals: [v],
    warnings: [],
  };
}

const down = (rs: string, msg = `Deleted real server: ${rs} (127.0.0.10:80)`): EngineEvent => ({
  type: 'real-state', id: `${rs} (127.0.0.10:80)`, vid: 'tcp:127.0.0.10:80', rs, state: 'down', message: msg,
});
const up = (rs: string): EngineEvent => ({
  type: 'real-state', id: `${rs} (127.0.0.10:80)`, vid: 'tcp:127.0.0.10:80', rs, state: 'up', message: `Added real server: ${rs} (127.0.0.10:80) (Weight set to 1)`,
});

describe('AlertManager', () => {
  let server: SMTPServer | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  it('delivers one mail per event to a real SMTP server, each address its own recipient, on the configured port (emailalertsplit, smtpuseport)', async () => {
    const received: { from: string; rcpt: string[]; data: string }[] = [];
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, cb) {
        let data = '';
        stream.on('data', (c: Buffer) => (data += c.toString()));
        stream.on('end', () => {
          received.push({ from: String((session.envelope.mailFrom as { address: string }).address), rcpt: session.envelope.rcptTo.map((r) => r.address), data });
          cb();
        });
      },
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.server.address() as AddressInfo).port;
    const clock = new ManualClock(1_000_000);
    const am = new AlertManager({ clock, hostname: 'director1', username: 'root' });
    am.setConfig(config(virtual({ smtp: `127.0.0.1:${port}`, smtpuseport: true, emailalertsplit: true, servicename: 'web', comment: 'front farm' }), 'ldirectord@example.org'));
    am.setStatus('running');
    am.onEvent(down('127.0.0.11:80'));
    await am.flush();
    expect(received).toHaveLength(1);
    expect(received[0].from).toBe('root@director1');
    expect(received[0].rcpt).toEqual(['ops@example.org', 'noc@example.org']);
    expect(received[0].data).toMatch(/^Subject: \[web\] Deleted real server: 127\.0\.0\.11:80 \(127\.0\.0\.10:80\)/m);
    expect(received[0].data).toMatch(/^From: ldirectord@example\.org/m);
    expect(received[0].data).toContain('ldirectord host: director1');
    expect(received[0].data).toContain('Daemon-Status: running');
    expect(received[0].data).toContain('Comment: front farm');
  });

  it('resends at emailalertfreq while down, stops once up, and never for a real dropped by reload', async () => {
    const sent: AlertMail[] = [];
    const clock = new ManualClock(0);
    const am = new AlertManager({ clock, hostname: 'h', username: 'u', send: async (m) => void sent.push(m) });
    const v = virtual({ emailalertfreq: 60 });
    am.setConfig(config(v));
    am.setStatus('running');
    am.onEvent(down('127.0.0.11:80'));
    am.onEvent(down('127.0.0.12:80'));
    clock.advance(30_000);
    am.tick();
    await am.flush();
    expect(sent.map((m) => m.subject)).toEqual([
      'Deleted real server: 127.0.0.11:80 (127.0.0.10:80)',
      'Deleted real server: 127.0.0.12:80 (127.0.0.10:80)',
    ]);
    clock.advance(31_000);
    am.tick();
    await am.flush();
    expect(sent.slice(2).map((m) => m.subject).sort()).toEqual([
      'Inaccessible real server: 127.0.0.11:80 (127.0.0.10:80)',
      'Inaccessible real server: 127.0.0.12:80 (127.0.0.10:80)',
    ]);
    am.onEvent(up('127.0.0.11:80'));
    // reload drops 127.0.0.12 from the config
    am.setConfig(config({ ...v, reals: [v.reals[0]] }));
    clock.advance(120_000);
    am.tick();
    await am.flush();
    expect(sent.slice(4).map((m) => m.subject)).toEqual(['Added real server: 127.0.0.11:80 (127.0.0.10:80) (Weight set to 1)']);
  });

  it('honours emailalertstatus in every phase, start-up included', async () => {
    const sent: AlertMail[] = [];
    const am = new AlertManager({ clock: new ManualClock(0), hostname: 'h', username: 'u', send: async (m) => void sent.push(m) });
    am.setConfig(config(virtual({ emailalertstatus: ['running', 'stopping'] })));
    am.setStatus('starting');
    am.onEvent(down('127.0.0.11:80')); // "starting": filtered by emailalertstatus
    am.onEvent({ type: 'fallback', vid: 'tcp:127.0.0.10:80', active: true, message: 'Added fallback server: x' });
    am.setStatus('running');
    am.onEvent(up('127.0.0.12:80'));
    am.onEvent(down('127.0.0.12:80'));
    am.setStatus('reloading');
    am.onEvent(down('127.0.0.13:80'));
    am.setStatus('stopping');
    am.onEvent({ type: 'real-state', id: '127.0.0.12:80 (127.0.0.10:80)', vid: 'tcp:127.0.0.10:80', rs: '127.0.0.12:80', state: 'removed', message: 'Purged real server (stop): 127.0.0.12:80 (127.0.0.10:80)' });
    await am.flush();
    expect(sent.map((m) => [m.subject, /Daemon-Status: (\w+)/.exec(m.body)?.[1]])).toEqual([
      ['Added real server: 127.0.0.12:80 (127.0.0.10:80) (Weight set to 1)', 'running'],
      ['Deleted real server: 127.0.0.12:80 (127.0.0.10:80)', 'running'],
      ['Purged real server (stop): 127.0.0.12:80 (127.0.0.10:80)', 'stopping'],
    ]);

    // The default (all): the start-up phase is mailed too.
    const all: AlertMail[] = [];
    const am2 = new AlertManager({ clock: new ManualClock(0), hostname: 'h', username: 'u', send: async (m) => void all.push(m) });
    am2.setConfig(config(virtual()));
    am2.setStatus('starting');
    am2.onEvent(down('127.0.0.11:80'));
    await am2.flush();
    expect(all.map((m) => m.subject)).toEqual(['Deleted real server: 127.0.0.11:80 (127.0.0.10:80)']);
    expect(all[0].body).toContain('Daemon-Status: starting');
  });

  it('mails "Readd Quiescent" as "Quiescent"; a purge clears the resend', async () => {
    const sent: AlertMail[] = [];
    const clock = new ManualClock(0);
    const am = new AlertManager({ clock, hostname: 'h', username: 'u', send: async (m) => void sent.push(m) });
    am.setConfig(config(virtual({ emailalertfreq: 10 })));
    am.setStatus('running');
    const id = '127.0.0.11:80 (127.0.0.10:80)';
    am.onEvent({ type: 'real-state', id, vid: 'tcp:127.0.0.10:80', rs: '127.0.0.11:80', state: 'quiescent', message: `Readd Quiescent real server: ${id} (Weight set to 0)` });
    am.onEvent({ type: 'real-state', id, vid: 'tcp:127.0.0.10:80', rs: '127.0.0.11:80', state: 'removed', message: `Purged real server (start): ${id}` });
    clock.advance(60_000);
    am.tick();
    await am.flush();
    expect(sent.map((m) => m.subject)).toEqual([`Quiescent real server: ${id} (Weight set to 0)`, `Purged real server (start): ${id}`]);
  });

  it('flush(deadline) gives up on a mail server that never answers, and says so', async () => {
    const logs: string[] = [];
    let started = 0;
    const am = new AlertManager({
      clock: new ManualClock(0),
      hostname: 'h',
      username: 'u',
      log: (_l, m) => logs.push(m),
      send: () => {
        started++;
        return new Promise<void>(() => {}); // never settles
      },
    });
    am.setConfig(config(virtual()));
    am.setStatus('stopping');
    am.onEvent(down('127.0.0.11:80'));
    am.onEvent(down('127.0.0.12:80'));
    await am.flush(50);
    expect(started).toBe(1);
    expect(am.counters.dropped).toBe(2);
    expect(logs).toContain('emailalert: 2 message(s) not delivered within 0.05 s, given up');
  });

  it('logs and survives a mail server that refuses connections', async () => {
    const logs: string[] = [];
    const am = new AlertManager({ clock: new ManualClock(0), hostname: 'h', username: 'u', log: (_l, m) => logs.push(m) });
    am.setConfig(config(virtual({ smtp: '127.0.0.1:1', smtpuseport: true })));
    am.setStatus('running');
    am.onEvent(down('127.0.0.11:80'));
    await am.flush();
    expect(am.counters.failed).toBe(1);
    expect(logs.some((l) => l.startsWith('failed to send SMTP email message'))).toBe(true);
  });

  it('by default, as the original: the whole emailalert list is ONE SMTP recipient (RCPT TO:<a, b>), the port of smtp=host:port is dropped', async () => {
    // A raw SMTP listener that records the commands and accepts everything: the wire as Net::SMTP writes it.
    const lines: string[] = [];
    const { createServer } = await import('node:net');
    const raw = createServer((c) => {
      let buf = '';
      let inData = false;
      c.write('220 sink ESMTP\r\n');
      c.on('data', (b) => {
        buf += b.toString('latin1');
        for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (inData) {
            if (line === '.') {
              inData = false;
              c.write('250 queued\r\n');
            }
            continue;
          }
          lines.push(line);
          if (/^DATA/i.test(line)) {
            inData = true;
            c.write('354 go\r\n');
          } else if (/^QUIT/i.test(line)) c.end('221 bye\r\n');
          else c.write(/^EHLO/i.test(line) ? '250 sink\r\n' : '250 ok\r\n');
        }
      });
      c.on('error', () => {});
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()));
    const port = (raw.address() as AddressInfo).port;
    try {
      const sent: AlertMail[] = [];
      const am = new AlertManager({ clock: new ManualClock(0), hostname: 'h', username: 'u', send: async (m) => void sent.push(m) });
      am.setConfig(config(virtual({ smtp: 'mail.example.org:2525' })));
      am.setStatus('running');
      am.onEvent(down('127.0.0.11:80'));
      await am.flush();
      expect(sent[0].smtp).toBe('mail.example.org');
      expect(sent[0].recipients).toEqual(['ops@example.org, noc@example.org']);
      expect(sent[0].to).toBe('ops@example.org, noc@example.org');
      // Net::SMTP's to(): the first <...> of the value, else the value trimmed.
      am.setConfig(config(virtual({ smtp: 'mail.example.org', emailalert: ' Ops <ops@example.org>, noc@example.org ' })));
      am.onEvent(down('127.0.0.12:80'));
      await am.flush();
      expect(sent[1].recipients).toEqual(['ops@example.org']);
      // The local mailer (no smtp=): each address, as the original's `sendmail -t` reading To:.
      am.setConfig(config(virtual({})));
      am.onEvent(down('127.0.0.11:80'));
      await am.flush();
      expect(sent[2].smtp).toBeUndefined();
      expect(sent[2].recipients).toEqual(['ops@example.org', 'noc@example.org']);
      // On the wire (the real sender, port given with smtpuseport so the test can reach its listener).
      const real = new AlertManager({ clock: new ManualClock(0), hostname: 'h', username: 'u' });
      real.setConfig(config(virtual({ smtp: `127.0.0.1:${port}`, smtpuseport: true })));
      real.setStatus('running');
      real.onEvent(down('127.0.0.11:80'));
      await real.flush();
      expect(real.counters.sent).toBe(1);
      expect(lines.filter((l) => /^(MAIL|RCPT)/i.test(l))).toEqual(['MAIL FROM:<u@h>', 'RCPT TO:<ops@example.org, noc@example.org>']);
    } finally {
      await new Promise<void>((r) => raw.close(() => r()));
    }
  });

  it('emailalertsplit and smtpuseport (ours): each address its own recipient, the port kept', async () => {
    const sent: AlertMail[] = [];
    const am = new AlertManager({ clock: new ManualClock(0), hostname: 'h', username: 'u', send: async (m) => void sent.push(m) });
    am.setConfig(config(virtual({ smtp: 'mail.example.org:2525', emailalertsplit: true, smtpuseport: true })));
    am.setStatus('running');
    am.onEvent(down('127.0.0.11:80'));
    await am.flush();
    expect(sent[0].smtp).toBe('mail.example.org:2525');
    expect(sent[0].recipients).toEqual(['ops@example.org', 'noc@example.org']);
  });

  it('parses smtp host[:port]', () => {
    expect(parseSmtp('mail.example.org')).toEqual({ host: 'mail.example.org', port: 25 });
    expect(parseSmtp('127.0.0.1:2525')).toEqual({ host: '127.0.0.1', port: 2525 });
    expect(parseSmtp('[::1]:587')).toEqual({ host: '::1', port: 587 });
  });
});
