import { describe, expect, it } from 'vitest';
import {
  AF_INET,
  AF_INET6,
  IPVS_CMD,
  IPVS_CMD_ATTR_DEST,
  IPVS_CMD_ATTR_SERVICE,
  attr,
  be16,
  CodecError,
  decodeAddr,
  decodeDaemon,
  decodeAttrs,
  decodeDest,
  decodeMessages,
  decodeService,
  destAttrs,
  encodeAddr,
  encodeAttrs,
  encodeCommand,
  encodeMessage,
  errorCode,
  decodeGenl,
  genlPayload,
  getDaemonsPayload,
  IPVS_CMD_ATTR_DAEMON,
  startDaemonPayload,
  stopDaemonPayload,
  u16,
  u8,
  nest,
  serviceAttrs,
  str,
  u32,
} from '../../src/ipvs/netlink/codec.js';
import { ipvsadmMessage } from '../../src/ipvs/netlink/errors.js';
import type { IpvsDest, IpvsService } from '../../src/ipvs/types.js';

const hex = (b: Buffer) => b.toString('hex');

/** A dump part as the kernel sends it for a service (its nest under IPVS_CMD_ATTR_SERVICE). */
const svcPart = (s: IpvsService) => genlPayload(IPVS_CMD.NEW_SERVICE, 1, [nest(IPVS_CMD_ATTR_SERVICE, serviceAttrs(s))]);
const destPart = (d: IpvsDest) => genlPayload(IPVS_CMD.NEW_DEST, 1, [nest(IPVS_CMD_ATTR_DEST, destAttrs(d))]);

describe('netlink attributes and messages', () => {
  it('pads each attribute to 4 bytes and reads them back', () => {
    const b = encodeAttrs([str(6, 'wlc'), be16(4, 80), u32(8, 300)]);
    // len 8 (4 + "wlc\0"), type 6 | len 6, type 4, 0x0050 + 2 pad | len 8, type 8, 300 LE
    expect(hex(b)).toBe('08000600' + '776c6300' + '06000400' + '00500000' + '08000800' + '2c010000');
    const back = decodeAttrs(b);
    expect(back.map((a) => [a.type, hex(a.data)])).toEqual([
      [6, '776c6300'],
      [4, '0050'],
      [8, '2c010000'],
    ]);
  });

  it('refuses a truncated attribute instead of reading past it', () => {
    const b = encodeAttrs([u32(1, 7)]);
    expect(() => decodeAttrs(b.subarray(0, 6))).toThrow(/malformed/);
  });

  it('a malformed kernel message is a CodecError with the code LDIR_ERR_NETLINK, not a bare Error', () => {
    const cases: (() => unknown)[] = [
      () => decodeAttrs(encodeAttrs([u32(1, 7)]).subarray(0, 6)),
      () => decodeMessages(encodeMessage({ type: 3, flags: 0, seq: 1, payload: Buffer.alloc(8) }).subarray(0, 20)),
      () => decodeGenl(Buffer.from([1, 1])),
      () => errorCode({ type: 2, flags: 0, seq: 1, pid: 0, payload: Buffer.alloc(2) }),
      () => decodeDaemon(genlPayload(IPVS_CMD.NEW_DAEMON, 1, [])),
    ];
    for (const f of cases) {
      let caught: unknown;
      try {
        f();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(CodecError);
      expect((caught as CodecError).code).toBe('LDIR_ERR_NETLINK');
    }
  });

  it('writes the 16-byte header and splits a datagram of several messages', () => {
    const m1 = encodeMessage({ type: 0x2a, flags: 5, seq: 7, pid: 9, payload: Buffer.from([1, 2, 3]) });
    expect(hex(m1.subarray(0, 16))).toBe('13000000' + '2a00' + '0500' + '07000000' + '09000000');
    expect(m1.length).toBe(20); // 19 + 1 byte of padding
    const m2 = encodeMessage({ type: 3, flags: 2, seq: 8, payload: Buffer.alloc(4) });
    const msgs = decodeMessages(Buffer.concat([m1, m2]));
    expect(msgs.map((m) => [m.type, m.flags, m.seq, m.payload.length])).toEqual([
      [0x2a, 5, 7, 3],
      [3, 2, 8, 4],
    ]);
  });
});

describe('addresses', () => {
  it('IPv4 in the first 4 of 16 bytes, IPv6 in all 16', () => {
    expect(encodeAddr('10.1.2.3')).toEqual({ af: AF_INET, bytes: Buffer.concat([Buffer.from([10, 1, 2, 3]), Buffer.alloc(12)]) });
    expect(hex(encodeAddr('2001:db8::1')!.bytes)).toBe('20010db8000000000000000000000001');
    expect(hex(encodeAddr('::ffff:10.0.0.1')!.bytes)).toBe('00000000000000000000ffff0a000001');
    expect(encodeAddr('example.org')).toBeUndefined();
    expect(encodeAddr('300.1.1.1')).toBeUndefined();
  });

  it('prints IPv6 as ipvsadm -n does', () => {
    expect(decodeAddr(AF_INET6, encodeAddr('2001:0db8:0:0:0:0:0:1')!.bytes)).toBe('2001:db8::1');
    expect(decodeAddr(AF_INET6, encodeAddr('::1')!.bytes)).toBe('::1');
    expect(decodeAddr(AF_INET, encodeAddr('127.0.0.1')!.bytes)).toBe('127.0.0.1');
  });
});

describe('commands', () => {
  it('encodes -A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.0 byte for byte', () => {
    const { cmd, payload } = encodeCommand({ op: 'add-service', service: { proto: 'tcp', vaddr: '10.0.0.1:80', scheduler: 'wrr', persistent: 300, netmask: '255.255.255.0' } });
    expect(cmd).toBe(IPVS_CMD.NEW_SERVICE);
    const expected =
      '01010000' + // genlmsghdr: NEW_SERVICE, version 1
      '54000180' + // IPVS_CMD_ATTR_SERVICE nest (NLA_F_NESTED), 84 bytes
      '06000100' + '02000000' + // AF_INET
      '06000200' + '06000000' + // IPPROTO_TCP
      '14000300' + '0a000001' + '00'.repeat(12) + // ADDR
      '06000400' + '00500000' + // PORT 80 big-endian
      '08000600' + '77727200' + // "wrr\0"
      '0c000700' + '01000000' + 'ffffffff' + // FLAGS persistent, mask ~0
      '08000800' + '2c010000' + // TIMEOUT 300
      '08000900' + 'ffffff00'; // NETMASK: the mask's bytes
    expect(hex(payload)).toBe(expected);
  });

  it('names a fwmark service by family and mark, the rest as ipvsadm sends it (no scheduler, no flags, mask 128)', () => {
    const { cmd, payload } = encodeCommand({ op: 'delete-service', proto: 'fwm', vaddr: '7', ipv6Fwm: true });
    expect(cmd).toBe(IPVS_CMD.DEL_SERVICE);
    expect(hex(payload)).toBe(
      '03010000' + '38000180' + '06000100' + '0a000000' + '08000500' + '07000000' + '05000600' + '00000000' + '0c000700' + '00000000' + 'ffffffff' + '08000800' + '00000000' + '08000900' + '80000000',
    );
  });

  it('sends every destination field in ipvsadm\'s order, tunnel settings included, and ipvsadm\'s defaults to delete', () => {
    const add = encodeCommand({ op: 'add-dest', proto: 'udp', vaddr: '[2001:db8::1]:53', dest: { rs: '[2001:db8::2]:53', forward: 'ipip', weight: 3, upperThreshold: 100, lowerThreshold: 10 } });
    expect(add.cmd).toBe(IPVS_CMD.NEW_DEST);
    const top = decodeAttrs(add.payload.subarray(4));
    expect(top.map((a) => a.type)).toEqual([IPVS_CMD_ATTR_SERVICE, IPVS_CMD_ATTR_DEST]);
    const dest = decodeAttrs(top[1].data);
    expect(dest.map((a) => a.type)).toEqual([11, 1, 2, 3, 4, 13, 14, 15, 5, 6]);
    expect(dest.map((a) => hex(a.data)).filter((_, i) => i !== 1)).toEqual(['0a00', '0035', '02000000', '03000000', '00', '0000', '0000', '64000000', '0a000000']);
    const del = encodeCommand({ op: 'delete-dest', proto: 'tcp', vaddr: '10.0.0.1:80', rs: '10.0.0.2:80' });
    expect(del.cmd).toBe(IPVS_CMD.DEL_DEST);
    const dd = decodeAttrs(decodeAttrs(del.payload.subarray(4))[1].data);
    expect(dd.map((a) => a.type)).toEqual([11, 1, 2, 3, 4, 13, 14, 15, 5, 6]);
    expect([hex(dd[3].data), hex(dd[4].data)]).toEqual(['03000000', '01000000']); // -g -w 1
    const gate = encodeCommand({ op: 'edit-dest', proto: 'tcp', vaddr: '10.0.0.1:80', dest: { rs: '10.0.0.2:80', forward: 'gate', weight: 0, upperThreshold: 0, lowerThreshold: 0 } });
    expect(gate.cmd).toBe(IPVS_CMD.SET_DEST);
    const gd = decodeAttrs(decodeAttrs(gate.payload.subarray(4))[1].data);
    expect(hex(gd[3].data)).toBe('03000000'); // IP_VS_CONN_F_DROUTE
  });

  it('refuses what it cannot encode', () => {
    expect(() => encodeCommand({ op: 'add-service', service: { proto: 'tcp', vaddr: 'www:80', scheduler: 'rr' } })).toThrow(/bad virtual service address/);
    expect(() => encodeCommand({ op: 'add-service', service: { proto: 'tcp', vaddr: '1.2.3.4:80', scheduler: 'rr', schedflags: 'nonsense' } })).toThrow(/unknown scheduler flag/);
  });
});

describe('dumps decode as ipvsadm -L -n lists them', () => {
  const services: IpvsService[] = [
    { proto: 'tcp', vaddr: '10.0.0.1:80', scheduler: 'wrr', persistent: 300, netmask: '255.255.255.0' },
    { proto: 'tcp', vaddr: '10.0.0.1:81', scheduler: 'wlc' },
    { proto: 'udp', vaddr: '[2001:db8::1]:53', scheduler: 'rr', persistent: 120, netmask: '64' },
    { proto: 'fwm', vaddr: '7', ipv6Fwm: true, scheduler: 'sh', schedflags: 'sh-fallback,sh-port' },
    { proto: 'fwm', vaddr: '8', scheduler: 'mh', schedflags: 'mh-port', ops: true },
    { proto: 'udp', vaddr: '10.0.0.2:53', scheduler: 'rr', schedflags: 'flag-1,flag-3' },
  ];
  for (const s of services)
    it(`${s.proto} ${s.vaddr}`, () => {
      expect(decodeService(svcPart(s))).toEqual(s);
    });

  it('drops the default masks (ipvsadm prints no mask for them)', () => {
    expect(decodeService(svcPart({ proto: 'tcp', vaddr: '10.0.0.1:80', scheduler: 'rr', persistent: 60, netmask: '255.255.255.255' }))).toEqual({ proto: 'tcp', vaddr: '10.0.0.1:80', scheduler: 'rr', persistent: 60 });
    expect(decodeService(svcPart({ proto: 'tcp', vaddr: '[::1]:80', scheduler: 'rr', persistent: 60, netmask: '128' }))).toEqual({ proto: 'tcp', vaddr: '[::1]:80', scheduler: 'rr', persistent: 60 });
  });

  it('destinations: every forwarding method, thresholds, IPv6 compressed', () => {
    const dests: IpvsDest[] = [
      { rs: '10.0.0.2:80', forward: 'gate', weight: 1, upperThreshold: 0, lowerThreshold: 0 },
      { rs: '10.0.0.3:8080', forward: 'masq', weight: 0, upperThreshold: 50, lowerThreshold: 5 },
      { rs: '[2001:db8::2]:53', forward: 'ipip', weight: 65535, upperThreshold: 0, lowerThreshold: 0 },
    ];
    for (const d of dests) expect(decodeDest(destPart(d), AF_INET)).toEqual(d);
    // a local-node destination lists as Route (gate) in ipvsadm
    const local = genlPayload(IPVS_CMD.NEW_DEST, 1, [nest(IPVS_CMD_ATTR_DEST, [attr(1, encodeAddr('127.0.0.1')!.bytes), be16(2, 80), u32(3, 1), u32(4, 1)])]);
    expect(decodeDest(local, AF_INET)).toEqual({ rs: '127.0.0.1:80', forward: 'gate', weight: 1, upperThreshold: 0, lowerThreshold: 0 });
  });

  it('destinations: connection counts as ipvsadm lists them (ActiveConn 7, InActConn 8; absent when 0)', () => {
    const busy = genlPayload(IPVS_CMD.NEW_DEST, 1, [nest(IPVS_CMD_ATTR_DEST, [attr(1, encodeAddr('10.0.0.2')!.bytes), be16(2, 80), u32(3, 3), u32(4, 2), u32(7, 12), u32(8, 345)])]);
    expect(decodeDest(busy, AF_INET)).toEqual({ rs: '10.0.0.2:80', forward: 'gate', weight: 2, upperThreshold: 0, lowerThreshold: 0, activeConns: 12, inactConns: 345 });
    const idle = genlPayload(IPVS_CMD.NEW_DEST, 1, [nest(IPVS_CMD_ATTR_DEST, [attr(1, encodeAddr('10.0.0.2')!.bytes), be16(2, 80), u32(3, 3), u32(4, 2), u32(7, 0), u32(8, 0)])]);
    expect(decodeDest(idle, AF_INET)).toEqual({ rs: '10.0.0.2:80', forward: 'gate', weight: 2, upperThreshold: 0, lowerThreshold: 0 });
  });
});

describe('sync daemons', () => {
  it('encodes --start-daemon master --mcast-interface eth0 --syncid 1 byte for byte', () => {
    expect(hex(startDaemonPayload({ role: 'master', ifname: 'eth0', syncid: 1 }))).toBe(
      '09010000' + // genlmsghdr: NEW_DAEMON, version 1
        '20000380' + // IPVS_CMD_ATTR_DAEMON nest (NLA_F_NESTED), 32 bytes
        '08000100' + '01000000' + // STATE master
        '09000200' + '65746830' + '00000000' + // MCAST_IFN "eth0\0" + 3 pad
        '08000300' + '01000000', // SYNC_ID 1
    );
  });

  it('adds the optional settings in ipvsadm\'s order (maxlen, port, ttl, group), all host order', () => {
    const b = startDaemonPayload({ role: 'backup', ifname: 'br0', syncid: 200, maxlen: 1400, group: '239.1.2.3', port: 8849, ttl: 3 });
    const nestAttrs = decodeAttrs(decodeAttrs(b.subarray(4))[0].data);
    expect(nestAttrs.map((a) => [a.type, hex(a.data)])).toEqual([
      [1, '02000000'],
      [2, '62723000'],
      [3, 'c8000000'],
      [4, '7805'], // 1400 LE
      [7, '9122'], // 8849 = 0x2291, LE (unlike a service port)
      [8, '03'],
      [5, 'ef010203'], // the address bytes
    ]);
    const v6 = decodeAttrs(decodeAttrs(startDaemonPayload({ role: 'master', ifname: 'eth0', syncid: 0, group: 'ff02::1:2' }).subarray(4))[0].data);
    expect(v6.map((a) => [a.type, hex(a.data)]).slice(3)).toEqual([[6, 'ff020000000000000000000000010002']]);
  });

  it('stop names only the role (ipvsadm also sends an empty interface and sync id 0); the read is an empty dump request', () => {
    expect(hex(stopDaemonPayload('backup'))).toBe('0a010000' + '1c000380' + '08000100' + '02000000' + '05000200' + '00000000' + '08000300' + '00000000');
    expect(hex(getDaemonsPayload())).toBe('0b010000');
  });

  it('refuses settings the kernel cannot take', () => {
    expect(() => startDaemonPayload({ role: 'master', ifname: '', syncid: 1 })).toThrow(/interface/);
    expect(() => startDaemonPayload({ role: 'master', ifname: 'averyveryverylongname', syncid: 1 })).toThrow(/interface/);
    expect(() => startDaemonPayload({ role: 'master', ifname: 'eth0', syncid: 256 })).toThrow(/sync id/);
    expect(() => startDaemonPayload({ role: 'master', ifname: 'eth0', syncid: 1, port: 0 })).toThrow(/port/);
    expect(() => startDaemonPayload({ role: 'master', ifname: 'eth0', syncid: 1, ttl: 256 })).toThrow(/ttl/);
    expect(() => startDaemonPayload({ role: 'master', ifname: 'eth0', syncid: 1, group: 'mcast.example' })).toThrow(/group/);
    expect(() => startDaemonPayload({ role: 'slave' as 'master', ifname: 'eth0', syncid: 1 })).toThrow(/role/);
  });

  it('decodes the kernel\'s answer (nest without NLA_F_NESTED, defaults filled in) as ipvsadm -L --daemon lists it', () => {
    const part = (attrs: ReturnType<typeof u32>[]) => genlPayload(IPVS_CMD.NEW_DAEMON, 1, [attr(IPVS_CMD_ATTR_DAEMON, encodeAttrs(attrs))]);
    expect(decodeDaemon(part([u32(1, 1), str(2, 'eth0'), u32(3, 7), u16(4, 1472), u16(7, 8848), u8(8, 1), attr(5, Buffer.from([224, 0, 0, 81]))]))).toEqual({
      role: 'master',
      ifname: 'eth0',
      syncid: 7,
      maxlen: 1472,
      group: '224.0.0.81',
      port: 8848,
      ttl: 1,
    });
    // an older kernel: state, interface and sync id only
    expect(decodeDaemon(part([u32(1, 2), str(2, 'br0'), u32(3, 0)]))).toEqual({ role: 'backup', ifname: 'br0', syncid: 0 });
    expect(decodeDaemon(part([u32(1, 2), str(2, 'br0'), u32(3, 0), attr(6, encodeAddr('ff02::9')!.bytes)])).group).toBe('ff02::9');
    expect(() => decodeDaemon(part([u32(1, 4), str(2, 'br0'), u32(3, 0)]))).toThrow(/state 4/);
  });
});

describe('kernel errors read as ipvsadm reports them', () => {
  it('by operation and errno', () => {
    expect(ipvsadmMessage('add-service', 17)).toBe('Service already exists');
    expect(ipvsadmMessage('add-service', 2)).toBe('Scheduler or persistence engine not found');
    expect(ipvsadmMessage('edit-service', 3)).toBe('No such service');
    expect(ipvsadmMessage('delete-service', 3)).toBe('No such service');
    expect(ipvsadmMessage('add-dest', 3)).toBe('Service not defined');
    expect(ipvsadmMessage('add-dest', 17)).toBe('Destination already exists');
    expect(ipvsadmMessage('edit-dest', 2)).toBe('No such destination');
    expect(ipvsadmMessage('delete-dest', 2)).toBe('No such destination');
    expect(ipvsadmMessage('add-dest', 22)).toBe('Invalid operation.  Possibly wrong module version, address not unicast, ...');
    expect(ipvsadmMessage('add-dest', 34)).toBe('Numerical result out of range');
    expect(ipvsadmMessage('add-service', 1)).toBe('Permission denied (you must be root)');
    expect(ipvsadmMessage('start-daemon', 17)).toBe('Daemon has already run');
    expect(ipvsadmMessage('start-daemon', 19)).toBe('No such device');
    expect(ipvsadmMessage('stop-daemon', 3)).toBe('No daemon is running');
    expect(ipvsadmMessage('add-service', 3)).toBe('No such process');
  });
});
