/**
 * dns (check_dns, Net::DNS): ask the real (at the check port) for `request` minus its leading "/": an
 * address is looked up as PTR of its reverse name, anything else as A. UDP unless the virtual is tcp
 * (a truncated UDP answer is retried over TCP, as Net::DNS does). Up iff an A record's address or a PTR
 * record's name in the answer section matches receive; an empty receive is always down.
 *
 * Deviation: resolv.conf search domains are not appended to the name (Net::DNS's search() would for
 * dotless names); the name is asked as written.
 */
import net from 'node:net';
import { randomInt } from 'node:crypto';
import type dnsPacketModule from 'dns-packet';
import type { CheckModule, CheckTarget, CheckContext, CheckResult, ConnectFactory } from '../types.js';
import { CheckError, type Trail } from '../result.js';
import { hostPort } from '../target.js';
import { connectStep, receiveMatches, receiveRegex, runNegotiation, stripSlash, udpExchange } from './common.js';

/** DNS_UDP_RESEND_MS: a lost UDP query is sent again after this long, until the deadline. */
export const DNS_UDP_RESEND_MS = 2000;
/** DNS_MAX_TCP_BYTES: a DNS message over TCP cannot be longer (16-bit length prefix). */
export const DNS_MAX_TCP_BYTES = 2 + 65535;

/** reverseName gives the PTR name of an address (in-addr.arpa / ip6.arpa), undefined for a non-address. */
export function reverseName(name: string): string | undefined {
  const kind = net.isIP(name);
  if (kind === 4) return `${name.split('.').reverse().join('.')}.in-addr.arpa`;
  if (kind === 6) {
    const parts = name.toLowerCase().split('::');
    const head = parts[0] ? parts[0].split(':') : [];
    const tail = parts.length > 1 && parts[1] ? parts[1].split(':') : [];
    const groups = parts.length > 1 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
    const nibbles = groups.map((g) => g.padStart(4, '0')).join('');
    return `${[...nibbles].reverse().join('.')}.ip6.arpa`;
  }
  return undefined;
}

type DnsPacket = typeof dnsPacketModule;
/** dns-packet, loaded by the first dns check (a connect-only daemon never needs it). */
let dnsPacket: DnsPacket;
let dnsPacketLoad: Promise<void> | undefined;
function loadDnsPacket(): Promise<void> {
  return (dnsPacketLoad ??= import('dns-packet').then((m) => {
    dnsPacket = m.default;
  }));
}

/** dnsQuestion: what the original asks for `request` (PTR for an address, else A). */
export function dnsQuestion(request: string): dnsPacketModule.Question {
  const name = stripSlash(request);
  const rev = reverseName(name);
  return rev ? { type: 'PTR', name: rev, class: 'IN' } : { type: 'A', name, class: 'IN' };
}

function encodeQuery(id: number, q: dnsPacketModule.Question): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [q] });
}

function decodeAnswer(buf: Buffer, id: number): dnsPacketModule.DecodedPacket | undefined {
  let p: dnsPacketModule.DecodedPacket;
  try {
    p = dnsPacket.decode(buf);
  } catch (err) {
    throw new CheckError('l7-bad-response', `malformed answer: ${(err as Error).message}`);
  }
  // Net::DNS drops answers with a foreign id; so do we (keep waiting).
  if (p.id !== id || !p.flag_qr) return undefined;
  return p;
}

function askUdp(target: CheckTarget, q: dnsPacketModule.Question, trail: Trail, signal: AbortSignal): Promise<dnsPacketModule.DecodedPacket> {
  const id = randomInt(0, 65536);
  const query = encodeQuery(id, q);
  trail.add(`udp ${hostPort(target.ip, target.port)} ${q.type}? ${q.name}`);
  return udpExchange(target, trail, signal, { request: () => query, onMessage: (msg) => decodeAnswer(msg, id), resendMs: DNS_UDP_RESEND_MS });
}

async function askTcp(target: CheckTarget, q: dnsPacketModule.Question, trail: Trail, signal: AbortSignal, factory?: ConnectFactory): Promise<dnsPacketModule.DecodedPacket> {
  const id = randomInt(0, 65536);
  const sock = await connectStep(target.ip, target.port, trail, signal, { factory });
  trail.add(`tcp ${q.type}? ${q.name}`);
  try {
    sock.write(dnsPacket.streamEncode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [q] }));
    const msg = await new Promise<Buffer>((resolve, reject) => {
      let buf: Buffer = Buffer.alloc(0);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      sock.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        if (buf.length >= 2) {
          const len = buf.readUInt16BE(0);
          if (buf.length >= 2 + len) {
            signal.removeEventListener('abort', onAbort);
            resolve(buf.subarray(2, 2 + len));
          }
        }
        // Cannot happen with a well-formed peer: the 16-bit length bounds a message.
        if (buf.length > DNS_MAX_TCP_BYTES) reject(new CheckError('l7-bad-response', 'answer too long'));
      });
      sock.on('error', (err) => reject(new CheckError('l7-bad-response', `read: ${err.message}`)));
      sock.on('end', () => reject(new CheckError('l7-bad-response', 'connection closed before a whole answer')));
    });
    const p = decodeAnswer(msg, id);
    if (!p) throw new CheckError('l7-bad-response', 'answer with a foreign id');
    return p;
  } finally {
    sock.destroy();
  }
}

/** dns negotiate check. */
export const dns: CheckModule = {
  name: 'dns',
  run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
    return runNegotiation(ctx, async (trail, signal) => {
      await loadDnsPacket();
      const q = dnsQuestion(target.request);
      let answer: dnsPacketModule.DecodedPacket;
      if (target.virtual.protocol === 'tcp') {
        answer = await askTcp(target, q, trail, signal, ctx.connectFactory);
      } else {
        answer = await askUdp(target, q, trail, signal);
        if (answer.flag_tc) {
          trail.add('truncated, retry over tcp');
          trail.connected = false;
          answer = await askTcp(target, q, trail, signal, ctx.connectFactory);
        }
      }
      const answers = answer.answers ?? [];
      trail.add(`${(answer as { rcode?: string }).rcode ?? 'answer'} with ${answers.length} answer(s)`);
      // Net::DNS's search() yields nothing without answers: the original reports that as a timeout.
      if (answers.length === 0) return trail.down('l7-bad-response', 'no answer');
      if (target.receive === '') return trail.down('l7-no-match', 'receive is empty (the original is then always down)');
      const re = receiveRegex(target.receive);
      for (const rr of answers) {
        if ((rr.type === 'A' || rr.type === 'PTR') && typeof rr.data === 'string') {
          const value = rr.type === 'PTR' ? rr.data.replace(/\.$/, '') : rr.data;
          if (receiveMatches(re, value)) return trail.up(`${rr.type} ${value} matches receive`);
        }
      }
      const seen = answers
        .filter((rr) => rr.type === 'A' || rr.type === 'PTR')
        .map((rr) => `${rr.type} ${String((rr as { data?: unknown }).data)}`)
        .join(', ');
      return trail.down('l7-no-match', `no A/PTR answer matches receive ${JSON.stringify(target.receive)}${seen ? ` (got ${seen})` : ''}`);
    });
  },
};
