/**
 * radius (check_radius, Authen::Radius check_pwd): one Access-Request over UDP to the real's check port
 * with User-Name = login, User-Password = passwd hidden with the shared secret (RFC 2865 §5.2), and the
 * NAS address = our local address; up iff an Access-Accept comes back whose Response Authenticator is
 * right for our request and secret (Authen::Radius checks it too; a wrong secret is therefore down).
 *
 * Beyond the original: a Message-Authenticator (RFC 3579) is added to the request, as current servers
 * ask for (BlastRADIUS hardening), and checked on the answer when present. The request is resent
 * unchanged every RADIUS_RESEND_MS until the deadline.
 */
import net from 'node:net';
import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto';
import type { CheckModule, CheckTarget, CheckContext, CheckResult } from '../types.js';
import { CheckError } from '../result.js';
import { hostPort } from '../target.js';
import { runNegotiation, udpExchange } from './common.js';

/** RADIUS codes used here (RFC 2865). */
export const RADIUS_CODE = { accessRequest: 1, accessAccept: 2, accessReject: 3, accessChallenge: 11 } as const;
/** RADIUS_RESEND_MS: retransmission interval of an unanswered Access-Request. */
export const RADIUS_RESEND_MS = 2000;
const ATTR_USER_NAME = 1;
const ATTR_USER_PASSWORD = 2;
const ATTR_NAS_IP = 4;
const ATTR_MESSAGE_AUTHENTICATOR = 80;
const ATTR_NAS_IPV6 = 95;

function md5(...parts: Buffer[]): Buffer {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** hidePassword is RFC 2865 §5.2: NUL-pad to 16n (≤ 128), c(i) = p(i) xor MD5(secret + c(i-1)), c(0) = authenticator. */
export function hidePassword(password: Buffer, secret: Buffer, authenticator: Buffer): Buffer {
  const len = Math.min(128, Math.max(16, Math.ceil(password.length / 16) * 16));
  const padded = Buffer.alloc(len);
  password.copy(padded, 0, 0, len);
  const out = Buffer.alloc(len);
  let prev = authenticator;
  for (let i = 0; i < len; i += 16) {
    const b = md5(secret, prev);
    for (let j = 0; j < 16; j++) out[i + j] = padded[i + j]! ^ b[j]!;
    prev = out.subarray(i, i + 16);
  }
  return out;
}

function attr(type: number, value: Buffer): Buffer {
  if (value.length > 253) throw new CheckError('internal', `radius attribute ${type} longer than 253 bytes`);
  return Buffer.concat([Buffer.from([type, value.length + 2]), value]);
}

/** AccessRequest is an encoded request plus what is needed to check its answer. */
export interface AccessRequest {
  readonly packet: Buffer;
  readonly id: number;
  readonly authenticator: Buffer;
}

/** buildAccessRequest encodes the original's Access-Request (with a Message-Authenticator). */
export function buildAccessRequest(login: string, passwd: string, secret: string, nasIp: string, id = randomInt(0, 256), authenticator = randomBytes(16)): AccessRequest {
  const s = Buffer.from(secret, 'utf8');
  const nas = net.isIPv6(nasIp)
    ? attr(ATTR_NAS_IPV6, ipv6Bytes(nasIp))
    : attr(ATTR_NAS_IP, Buffer.from((net.isIPv4(nasIp) ? nasIp : '127.0.0.1').split('.').map(Number)));
  const attrs = Buffer.concat([
    attr(ATTR_USER_NAME, Buffer.from(login, 'utf8')),
    attr(ATTR_USER_PASSWORD, hidePassword(Buffer.from(passwd, 'utf8'), s, authenticator)),
    nas,
    attr(ATTR_MESSAGE_AUTHENTICATOR, Buffer.alloc(16)),
  ]);
  const length = 20 + attrs.length;
  const packet = Buffer.concat([Buffer.from([RADIUS_CODE.accessRequest, id, length >> 8, length & 0xff]), authenticator, attrs]);
  // RFC 3579 §3.2: HMAC-MD5 over the packet with the Message-Authenticator zeroed, keyed by the secret.
  const mac = createHmac('md5', s).update(packet).digest();
  mac.copy(packet, packet.length - 16);
  return { packet, id, authenticator };
}

function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail !== undefined ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return b;
}

/** checkResponse validates an answer to `req`: undefined when it is not ours (ignore it), else its code. */
export function checkResponse(msg: Buffer, req: AccessRequest, secret: string): number | undefined {
  if (msg.length < 20) throw new CheckError('l7-bad-response', `short radius answer (${msg.length} bytes)`);
  const code = msg[0]!;
  const id = msg[1]!;
  const length = msg.readUInt16BE(2);
  if (id !== req.id) return undefined;
  if (length < 20 || length > msg.length) throw new CheckError('l7-bad-response', `radius answer length ${length} of ${msg.length} bytes`);
  const body = msg.subarray(0, length);
  const s = Buffer.from(secret, 'utf8');
  const expected = md5(body.subarray(0, 4), req.authenticator, body.subarray(20), s);
  if (!expected.equals(body.subarray(4, 20))) {
    throw new CheckError('l7-bad-response', 'radius answer with a wrong Response Authenticator (secret mismatch?)');
  }
  // A Message-Authenticator in the answer must be right too (RFC 3579 §3.2).
  for (let off = 20; off + 2 <= length; ) {
    const type = body[off]!;
    const len = body[off + 1]!;
    if (len < 2 || off + len > length) throw new CheckError('l7-bad-response', 'malformed radius attribute');
    if (type === ATTR_MESSAGE_AUTHENTICATOR && len === 18) {
      const copy = Buffer.from(body);
      copy.fill(0, off + 2, off + 18);
      req.authenticator.copy(copy, 4);
      const mac = createHmac('md5', s).update(copy).digest();
      if (!mac.equals(body.subarray(off + 2, off + 18))) {
        throw new CheckError('l7-bad-response', 'radius answer with a wrong Message-Authenticator');
      }
    }
    off += len;
  }
  return code;
}

const CODE_NAMES: Record<number, string> = { 2: 'Access-Accept', 3: 'Access-Reject', 11: 'Access-Challenge' };

/** radius negotiate check. */
export const radius: CheckModule = {
  name: 'radius',
  run(target: CheckTarget, ctx: CheckContext): Promise<CheckResult> {
    return runNegotiation(ctx, (trail, signal) => {
      const v = target.virtual;
      trail.add(`udp ${hostPort(target.ip, target.port)} Access-Request for ${JSON.stringify(v.login)}`);
      let req: AccessRequest | undefined;
      return udpExchange(target, trail, signal, {
        request: (local) => (req = buildAccessRequest(v.login, v.passwd, v.secret, local.address)).packet,
        onMessage: (msg) => {
          if (!req) return undefined;
          const code = checkResponse(msg, req, v.secret);
          if (code === undefined) return undefined;
          const name = CODE_NAMES[code] ?? `code ${code}`;
          return code === RADIUS_CODE.accessAccept ? trail.up(name) : trail.down('l7-bad-status', name);
        },
        resendMs: RADIUS_RESEND_MS,
      });
    });
  },
};
