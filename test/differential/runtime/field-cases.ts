/**
 * The "every field after every transition" cases, as data: one definition run by two suites.
 * - test/differential/runtime/runtime.test.ts: the Perl original vs ours, each on its own fake ipvsadm.
 * - test/kernel/fields.ts (the kernel suite's fields.test.ts, its own VM boot): the Perl original and
 *   ours on the ipvsadm driver on the real kernel, plus ours on the netlink driver with
 *   LDIRECTORD_KERNEL_FIELDS=1 (npm run test:kernel:fields).
 * Each case is a config (`127.0.N.` = the side's own /24 block, @DIR@ = the side's directory), real
 * servers `[host byte, port, listening at start]` on 127.0.N.<host>, and steps that each change the table.
 */

export type FieldOp =
  | { readonly kind: 'kill' | 'revive'; readonly host: number }
  | { readonly kind: 'maint'; readonly file: string; readonly present: boolean }
  | { readonly kind: 'reload'; readonly cf: string };

export interface FieldStep {
  readonly name: string;
  readonly op: FieldOp;
  /** Time to let the daemons react on the host before waiting for them to agree. */
  readonly minMs: number;
}

export interface FieldCase {
  readonly name: string;
  readonly cf: string;
  readonly reals: readonly (readonly [number, number, boolean])[];
  readonly steps: readonly FieldStep[];
}

const G = 'checktimeout=1\ncheckinterval=1\n';
const kill = (host: number): FieldStep => ({ name: `kill real ${host}`, op: { kind: 'kill', host }, minMs: 4000 });
const revive = (host: number): FieldStep => ({ name: `start real ${host}`, op: { kind: 'revive', host }, minMs: 3000 });
const maint = (file: string, present: boolean): FieldStep => ({ name: present ? `maintenance ${file}` : 'end of maintenance', op: { kind: 'maint', file, present }, minMs: 3000 });
const reload = (name: string, cf: string): FieldStep => ({ name, op: { kind: 'reload', cf }, minMs: 5000 });

export const FIELD_CASES: readonly FieldCase[] = [
  {
    // Item by item, every field of every entry (weight, forwarding, upper/lower threshold, tunnel) after
    // quiesce, restore, fallback in and out and maintenance: the original's `-e ... -w 0` carries no
    // -x/-y, and the kernel resets what an edit leaves out.
    name: 'every field through quiesce, restore, fallback and maintenance: thresholds on masq, gate and ipip reals',
    cf: `${G}quiescent=yes\nmaintenancedir=@DIR@/maint\nvirtual=127.0.N.100:8000\n\treal=127.0.N.2:8000 masq 2 l:10 u:100\n\treal=127.0.N.3:8000 gate 3 l:5 u:50\n\treal=127.0.N.4:8000 ipip 1 l:1 u:20\n\tfallback=127.0.N.9:8000 gate\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, true], [4, 8000, false]],
    steps: [kill(2), kill(3), revive(4), maint('127.0.N.4', true), revive(3), maint('127.0.N.4', false), revive(2)],
  },
  {
    name: 'every field through reload edits: thresholds, forwarding and weight changed on up and quiesced reals, quiescent turned off',
    cf: `${G}quiescent=yes\nvirtual=127.0.N.100:8000\n\treal=127.0.N.2:8000 masq 2 l:10 u:100\n\treal=127.0.N.3:8000 masq 3 l:5 u:50\n\treal=127.0.N.4:8000 gate 1\n\tchecktype=connect\n`,
    reals: [[2, 8000, true], [3, 8000, false], [4, 8000, true]],
    steps: [
      reload(
        'reload: thresholds, forwarding and weight edited',
        `${G}quiescent=yes\nvirtual=127.0.N.100:8000\n\treal=127.0.N.2:8000 gate 4 l:20 u:200\n\treal=127.0.N.3:8000 ipip 3 u:60\n\treal=127.0.N.4:8000 masq 1 l:2 u:3\n\tchecktype=connect\n`,
      ),
      revive(3),
      kill(4),
      reload('reload: quiescent=no, thresholds dropped', `${G}quiescent=no\nvirtual=127.0.N.100:8000\n\treal=127.0.N.2:8000 gate 4\n\treal=127.0.N.3:8000 ipip 3\n\treal=127.0.N.4:8000 masq 1\n\tchecktype=connect\n`),
    ],
  },
];
