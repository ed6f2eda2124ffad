/**
 * The ops of the netlink golden file (golden/netlink-ops.txt): each an ipvsadm command line run under
 * strace in the VM, in this order in one network namespace (so each is accepted), and the IpvsCommand
 * the driver encodes for the same change. The golden file holds, per op, the IPVS request ipvsadm sent
 * (hex, as strace dumped it); netlink-golden.test.ts compares it with the codec's bytes.
 */
import type { IpvsCommand, SyncDaemon } from '../../src/ipvs/types.js';

export interface GoldenOp {
  readonly args: string;
  /** undefined: no single-change equivalent (listings), compared by command only. */
  readonly command?: IpvsCommand;
  /** A sync-daemon op: what the driver's syncDaemons sends for it. */
  readonly daemon?: { readonly start: SyncDaemon } | { readonly stop: SyncDaemon['role'] } | { readonly read: true };
}

/**
 * The interface the sync-daemon ops name: golden.sh makes it (a veth pair, multicast-capable, with an
 * address: the master binds its socket to the interface's address).
 */
export const GOLDEN_SYNC_IF = 'ldtsg0';

const T80 = { proto: 'tcp', vaddr: '10.0.0.1:80' } as const;
const U6 = { proto: 'udp', vaddr: '[2001:db8::1]:53' } as const;

export const GOLDEN_OPS: readonly GoldenOp[] = [
  { args: '-A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.0', command: { op: 'add-service', service: { ...T80, scheduler: 'wrr', persistent: 300, netmask: '255.255.255.0' } } },
  { args: '-E -t 10.0.0.1:80 -s wlc', command: { op: 'edit-service', service: { ...T80, scheduler: 'wlc' } } },
  { args: '-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1', command: { op: 'add-dest', ...T80, dest: { rs: '10.0.0.2:80', forward: 'gate', weight: 1, upperThreshold: 0, lowerThreshold: 0 } } },
  { args: '-e -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 3 -x 100 -y 10', command: { op: 'edit-dest', ...T80, dest: { rs: '10.0.0.2:80', forward: 'gate', weight: 3, upperThreshold: 100, lowerThreshold: 10 } } },
  { args: '-a -t 10.0.0.1:80 -r 10.0.0.3:8080 -m -w 2', command: { op: 'add-dest', ...T80, dest: { rs: '10.0.0.3:8080', forward: 'masq', weight: 2, upperThreshold: 0, lowerThreshold: 0 } } },
  { args: '-a -t 10.0.0.1:80 -r 10.0.0.4:80 -i -w 1', command: { op: 'add-dest', ...T80, dest: { rs: '10.0.0.4:80', forward: 'ipip', weight: 1, upperThreshold: 0, lowerThreshold: 0 } } },
  { args: '-d -t 10.0.0.1:80 -r 10.0.0.3:8080', command: { op: 'delete-dest', ...T80, rs: '10.0.0.3:8080' } },
  { args: '-A -u [2001:db8::1]:53 -s rr -p 120 -M 64', command: { op: 'add-service', service: { ...U6, scheduler: 'rr', persistent: 120, netmask: '64' } } },
  { args: '-a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -m -w 1', command: { op: 'add-dest', ...U6, dest: { rs: '[2001:db8::2]:53', forward: 'masq', weight: 1, upperThreshold: 0, lowerThreshold: 0 } } },
  { args: '-A -f 7 -6 -s sh -b sh-fallback,sh-port', command: { op: 'add-service', service: { proto: 'fwm', vaddr: '7', ipv6Fwm: true, scheduler: 'sh', schedflags: 'sh-fallback,sh-port' } } },
  { args: '-a -f 7 -6 -r [2001:db8::9]:0 -g -w 4', command: { op: 'add-dest', proto: 'fwm', vaddr: '7', ipv6Fwm: true, dest: { rs: '[2001:db8::9]:0', forward: 'gate', weight: 4, upperThreshold: 0, lowerThreshold: 0 } } },
  { args: '-A -u 10.0.0.1:53 -s mh -b mh-port -o', command: { op: 'add-service', service: { proto: 'udp', vaddr: '10.0.0.1:53', scheduler: 'mh', schedflags: 'mh-port', ops: true } } },
  { args: '-A -f 9 -s rr', command: { op: 'add-service', service: { proto: 'fwm', vaddr: '9', scheduler: 'rr' } } },
  { args: '-L -n' },
  { args: '-D -f 7 -6', command: { op: 'delete-service', proto: 'fwm', vaddr: '7', ipv6Fwm: true } },
  { args: '-D -t 10.0.0.1:80', command: { op: 'delete-service', ...T80 } },
  { args: `--start-daemon master --mcast-interface ${GOLDEN_SYNC_IF} --syncid 1`, daemon: { start: { role: 'master', ifname: GOLDEN_SYNC_IF, syncid: 1 } } },
  {
    args: `--start-daemon backup --mcast-interface ${GOLDEN_SYNC_IF} --syncid 2 --sync-maxlen 1400 --mcast-group 239.1.2.3 --mcast-port 8849 --mcast-ttl 3`,
    daemon: { start: { role: 'backup', ifname: GOLDEN_SYNC_IF, syncid: 2, maxlen: 1400, group: '239.1.2.3', port: 8849, ttl: 3 } },
  },
  { args: '-L -n --daemon', daemon: { read: true } },
  { args: '--stop-daemon master', daemon: { stop: 'master' } },
  { args: '--stop-daemon backup', daemon: { stop: 'backup' } },
];

/** One op's record in the golden file: its args and the IPVS requests ipvsadm sent (hex, whole messages). */
export interface GoldenRecord {
  readonly args: string;
  readonly messages: string[];
}

/**
 * Parses strace's `-e write=` hex dumps (lines ` | 00000  54 00 00 00 ...  T...|`) of one run into
 * the netlink messages sent, keeping those of the given family (nlmsg_type), in order.
 */
export function messagesFromStrace(trace: string, family?: number): Buffer[] {
  const out: Buffer[] = [];
  let cur: number[] | undefined;
  const flush = () => {
    if (cur && cur.length) out.push(Buffer.from(cur));
    cur = undefined;
  };
  for (const line of trace.split('\n')) {
    // fixed columns: offset at 3-7, the 16 bytes' hex at 10-58, then the ASCII column
    const m = /^ \| ([0-9a-f]{5})  /.exec(line);
    if (!m) {
      flush();
      continue;
    }
    if (m[1] === '00000') flush();
    cur ??= [];
    for (const h of line.slice(10, 59).match(/[0-9a-f]{2}/g) ?? []) cur.push(parseInt(h, 16));
  }
  flush();
  // a datagram may hold several messages: split them
  const msgs: Buffer[] = [];
  for (const d of out) {
    let off = 0;
    while (off + 16 <= d.length) {
      const len = d.readUInt32LE(off);
      if (len < 16 || off + len > d.length) break;
      msgs.push(d.subarray(off, off + len));
      off += (len + 3) & ~3;
    }
  }
  return family === undefined ? msgs : msgs.filter((m) => m.readUInt16LE(4) === family);
}

export function formatGoldenOps(records: readonly GoldenRecord[], header: string): string {
  return header + records.map((r) => `@@ ${r.args}\n${r.messages.map((m) => `${m}\n`).join('')}`).join('');
}

export function parseGoldenOps(text: string): GoldenRecord[] {
  const out: { args: string; messages: string[] }[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    if (line.startsWith('@@ ')) out.push({ args: line.slice(3), messages: [] });
    else out[out.length - 1]?.messages.push(line.trim());
  }
  return out;
}
