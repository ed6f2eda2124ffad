/**
 * Golden bytes: what the real ipvsadm sent the kernel for each op of test/kernel/netlink-ops.ts
 * (strace in the VM, test/kernel/golden/netlink-ops.txt) against what the codec encodes for the same
 * change. Headers differ only where they must (sequence numbers, port ids, the family id); the generic
 * netlink header and every attribute must be equal byte for byte.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  IPVS_CMD,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  encodeCommand,
  getDaemonsPayload,
  getDestsPayload,
  getServicesPayload,
  startDaemonPayload,
  stopDaemonPayload,
} from '../../src/ipvs/netlink/codec.js';
import { GOLDEN_OPS, parseGoldenOps } from '../kernel/netlink-ops.js';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '../kernel/golden/netlink-ops.txt');
const records = parseGoldenOps(readFileSync(GOLDEN, 'utf8'));

const msg = (h: string) => {
  const b = Buffer.from(h, 'hex');
  return { len: b.readUInt32LE(0), flags: b.readUInt16LE(6), cmd: b[16], payload: b.subarray(16) };
};

describe('the codec sends what ipvsadm sends (golden file from the VM)', () => {
  it('the golden file has every op', () => {
    expect(records.map((r) => r.args)).toEqual(GOLDEN_OPS.map((o) => o.args));
  });

  GOLDEN_OPS.forEach((op, i) => {
    if (!op.command) return;
    it(`ipvsadm ${op.args}`, () => {
      const { cmd, payload } = encodeCommand(op.command!);
      // ipvsadm first asks GET_INFO (its init); the op is its request with the op's command
      const sent = records[i].messages.map(msg).filter((m) => m.cmd === cmd);
      expect(sent, `no request with command ${cmd} in ${JSON.stringify(records[i].messages)}`).toHaveLength(1);
      expect(sent[0].flags).toBe(NLM_F_REQUEST | NLM_F_ACK);
      expect(payload.toString('hex')).toBe(sent[0].payload.toString('hex'));
      expect(sent[0].len).toBe(16 + payload.length);
    });
  });

  GOLDEN_OPS.forEach((op, i) => {
    const dm = op.daemon;
    if (!dm) return;
    it(`ipvsadm ${op.args} (sync daemon)`, () => {
      const [cmd, payload, flags] =
        'start' in dm
          ? [IPVS_CMD.NEW_DAEMON, startDaemonPayload(dm.start), NLM_F_REQUEST | NLM_F_ACK]
          : 'stop' in dm
            ? [IPVS_CMD.DEL_DAEMON, stopDaemonPayload(dm.stop), NLM_F_REQUEST | NLM_F_ACK]
            : [IPVS_CMD.GET_DAEMON, getDaemonsPayload(), NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP];
      const sent = records[i].messages.map(msg).filter((m) => m.cmd === cmd);
      expect(sent, `no request with command ${cmd} in ${JSON.stringify(records[i].messages)}`).toHaveLength(1);
      expect(sent[0].flags).toBe(flags);
      expect(payload.toString('hex')).toBe(sent[0].payload.toString('hex'));
    });
  });

  it('ipvsadm -L -n: the GET_SERVICE dump and one GET_DEST dump per service, as the read back sends them', () => {
    const i = GOLDEN_OPS.findIndex((o) => o.args === '-L -n');
    const sent = records[i].messages.map(msg);
    const svc = sent.filter((m) => m.cmd === IPVS_CMD.GET_SERVICE);
    expect(svc).toHaveLength(1);
    expect(svc[0].flags).toBe(NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
    expect(svc[0].payload.toString('hex')).toBe(getServicesPayload().toString('hex'));
    // the table at that point, in the kernel's order
    const refs = [
      { proto: 'tcp', vaddr: '10.0.0.1:80' },
      { proto: 'udp', vaddr: '10.0.0.1:53' },
      { proto: 'udp', vaddr: '[2001:db8::1]:53' },
      { proto: 'fwm', vaddr: '7', ipv6Fwm: true },
      { proto: 'fwm', vaddr: '9' },
    ] as const;
    const dests = sent.filter((m) => m.cmd === IPVS_CMD.GET_DEST);
    expect(dests.map((m) => m.flags)).toEqual(refs.map(() => NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP));
    expect(dests.map((m) => m.payload.toString('hex'))).toEqual(refs.map((r) => getDestsPayload(r).toString('hex')));
  });
});
