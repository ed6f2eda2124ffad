/**
 * The kernel harness: boots Debian's kernel (linux-image-amd64, which ships the ip_vs modules) under
 * qemu with software emulation, with a small busybox initramfs whose /init loads the IPVS modules with
 * insmod (there is no modprobe inside), brings up lo, mounts the host's root read-only over 9p, puts
 * tmpfs on /tmp and /run, chroots into it and runs a payload script. The payload's stdout and stderr come
 * back base64-encoded on the serial console between markers; the VM powers itself off.
 *
 * Nothing is installed here: test/setup/install-debian.sh installs the packages listed in
 * test/setup/debian-packages.txt. kernelHarnessMissing() says why the harness cannot run.
 * Build outputs (vmlinux, initramfs) are cached under os.tmpdir()/ldirectord-ts-kernel/<kernel version>.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync, chmodSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Schedulers loaded into the VM's kernel (a scheduler not loaded answers "not found"). */
export const VM_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh'];

/** Modules /init loads first, by name, in this order (their dependencies from modules.dep come before them). */
const WANTED = [
  'crc32c_generic',
  'libcrc32c',
  'nf_defrag_ipv4',
  'nf_defrag_ipv6',
  'nf_conntrack',
  'ip_vs',
  ...VM_SCHEDULERS.map((s) => `ip_vs_${s}`),
  'virtio_pci',
  '9pnet',
  '9pnet_virtio',
  '9p',
];

const QEMU = '/usr/bin/qemu-system-x86_64';
/** The project checkout: the daemon and node_modules the payloads run inside the VM. */
const CHECKOUT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUSYBOX = '/bin/busybox';

function which(p: string): string | undefined {
  for (const c of [p, `/usr${p}`]) if (existsSync(c)) return c;
  return undefined;
}

/** The newest /boot/vmlinuz-* that has its /lib/modules/<version>/kernel/net/netfilter/ipvs. */
export function findKernel(): { version: string; vmlinuz: string; modules: string } | undefined {
  if (!existsSync('/boot')) return undefined;
  const found = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => ({ version: f.slice('vmlinuz-'.length), vmlinuz: join('/boot', f) }))
    .map((k) => ({ ...k, modules: join('/lib/modules', k.version) }))
    .filter((k) => existsSync(join(k.modules, 'kernel/net/netfilter/ipvs/ip_vs.ko')) || existsSync(join(k.modules, 'kernel/net/netfilter/ipvs/ip_vs.ko.xz')) || existsSync(join(k.modules, 'kernel/net/netfilter/ipvs/ip_vs.ko.zst')))
    .sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }));
  return found[0];
}

/** Why the harness cannot run here (undefined when it can). */
export function kernelHarnessMissing(): string | undefined {
  if (process.env.LDIRECTORD_KERNEL_NO_VM === '1') return 'LDIRECTORD_KERNEL_NO_VM=1';
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs linux/x64 (this is ${process.platform}/${process.arch})`;
  const missing: string[] = [];
  if (!existsSync(QEMU)) missing.push('qemu-system-x86 (no /usr/bin/qemu-system-x86_64)');
  if (!which(BUSYBOX)) missing.push('busybox-static (no /bin/busybox)');
  else if (!isStatic(which(BUSYBOX)!)) missing.push('busybox-static (/bin/busybox is dynamically linked)');
  if (!findKernel()) missing.push('linux-image-amd64 (no /boot/vmlinuz-* with ip_vs modules)');
  if (!existsSync('/usr/sbin/ipvsadm') && !existsSync('/sbin/ipvsadm')) missing.push('ipvsadm');
  if (missing.length) return `Debian packages missing: ${missing.join(', ')} (test/setup/install-debian.sh installs them as root)`;
  return undefined;
}

function isStatic(path: string): boolean {
  // A static ELF has no PT_INTERP program header; look for the usual interpreter path in the first bytes.
  const head = readFileSync(path).subarray(0, 4096).toString('latin1');
  return !head.includes('/lib64/ld-linux') && !head.includes('/lib/ld-linux');
}

/** The cache directory of one kernel version's build outputs. */
export function cacheDir(version: string): string {
  const d = join(process.env.LDIRECTORD_KERNEL_CACHE ?? join(tmpdir(), 'ldirectord-ts-kernel'), version);
  mkdirSync(d, { recursive: true });
  return d;
}

const MAGICS: { magic: Buffer; cmd: string[] }[] = [
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), cmd: ['xz', '-dc'] },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), cmd: ['zstd', '-dc'] },
  { magic: Buffer.from([0x1f, 0x8b, 0x08]), cmd: ['gzip', '-dc'] },
];

/**
 * extractVmlinux finds the compressed payload inside a bzImage (as the kernel's scripts/extract-vmlinux
 * does: try each offset of a known magic, decompress, keep the first ELF) and returns the uncompressed
 * vmlinux, which qemu boots directly (PVH entry) and faster than the bzImage. Undefined when not found.
 */
export function extractVmlinux(vmlinuz: string, out: string): string | undefined {
  if (existsSync(out) && statSync(out).size > 0) return out;
  const img = readFileSync(vmlinuz);
  for (const { magic, cmd } of MAGICS) {
    let at = img.indexOf(magic);
    let tries = 0;
    while (at >= 0 && tries++ < 8) {
      const r = spawnSync(cmd[0], cmd.slice(1), { input: img.subarray(at), maxBuffer: 512 * 1024 * 1024 });
      if (r.stdout && r.stdout.length > 1024 && r.stdout.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
        const tmp = `${out}.${process.pid}.tmp`;
        writeFileSync(tmp, r.stdout);
        renameSync(tmp, out);
        return out;
      }
      at = img.indexOf(magic, at + 1);
    }
  }
  return undefined;
}

/** The module files to load, dependencies first, each once, from modules.dep. */
export function moduleOrder(modulesDir: string, wanted = WANTED): string[] {
  const dep = new Map<string, string[]>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m) dep.set(m[1], m[2].split(/\s+/).filter(Boolean));
  }
  const byName = new Map<string, string>();
  for (const k of dep.keys()) byName.set(k.replace(/^.*\//, '').replace(/\.ko(\.xz|\.zst|\.gz)?$/, ''), k);
  const builtin = existsSync(join(modulesDir, 'modules.builtin'))
    ? new Set(readFileSync(join(modulesDir, 'modules.builtin'), 'utf8').split('\n').map((l) => l.replace(/^.*\//, '').replace(/\.ko$/, '')))
    : new Set<string>();
  const order: string[] = [];
  const visit = (path: string) => {
    if (order.includes(path)) return;
    // modules.dep lists a module's dependencies with the deepest last; load those first.
    for (const d of [...(dep.get(path) ?? [])].reverse()) visit(d);
    order.push(path);
  };
  for (const w of wanted) {
    const p = byName.get(w) ?? byName.get(w.replace(/-/g, '_'));
    if (p) visit(p);
    else if (!builtin.has(w)) throw new Error(`kernel module ${w} not found in ${modulesDir}`);
  }
  return order;
}

function decompressModule(src: string): Buffer {
  if (src.endsWith('.xz')) return spawnSync('xz', ['-dc', src], { maxBuffer: 64 << 20 }).stdout;
  if (src.endsWith('.zst')) return spawnSync('zstd', ['-dc', src], { maxBuffer: 64 << 20 }).stdout;
  if (src.endsWith('.gz')) return spawnSync('gzip', ['-dc', src], { maxBuffer: 64 << 20 }).stdout;
  return readFileSync(src);
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /lib/modules/$m 2>/dev/null || echo "@@@INSMOD_FAILED $m"; done
ip link set lo up
mkdir -p /host
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host; then echo "@@@MOUNT_FAILED"; poweroff -f; fi
mkdir -p /payload
cp -r /host$payload/. /payload/
# The checkout (keep=) stays visible at its own path even when it lies under /tmp or /run, which get
# an empty tmpfs: bound aside before, bound back after.
case "$keep" in /tmp/*|/run/*) mkdir -p /keep && mount -o bind "/host$keep" /keep || echo "@@@KEEP_FAILED $keep";; *) keep="";; esac
mount -t tmpfs tmpfs /host/tmp
mount -t tmpfs tmpfs /host/run
if [ -n "$keep" ]; then mkdir -p "/host$keep" && mount -o bind /keep "/host$keep" || echo "@@@KEEP_FAILED $keep"; fi
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
echo "nameserver 127.0.0.53" >/resolv.conf
echo "options timeout:1 attempts:1" >>/resolv.conf
mount --bind /resolv.conf /host/etc/resolv.conf
mkdir -p /host/run/payload
cp -r /payload/. /host/run/payload/
echo "@@@BOOTED"
chroot /host /bin/sh -c 'cd /run/payload && PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LDTS_IN_VM=1 exec /bin/sh ./run.sh' >/host/run/out.txt 2>/host/run/err.txt </dev/null
rc=$?
echo "@@@RC $rc"
echo "@@@STDOUT_BEGIN"
base64 /host/run/out.txt
echo "@@@STDOUT_END"
echo "@@@STDERR_BEGIN"
base64 /host/run/err.txt
echo "@@@STDERR_END"
poweroff -f
`;

/** buildInitramfs returns the cached initramfs (newc cpio) for the kernel, building it when missing. */
export function buildInitramfs(kernel: { version: string; modules: string }): string {
  const dir = cacheDir(kernel.version);
  const out = join(dir, 'initramfs.cpio');
  const stamp = join(dir, 'initramfs.stamp');
  const key = JSON.stringify({ WANTED, INIT });
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) return out;
  const root = join(dir, `root.${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  for (const d of ['bin', 'dev', 'proc', 'sys', 'lib/modules', 'host', 'payload', 'tmp']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(which(BUSYBOX)!, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  symlinkSync('busybox', join(root, 'bin/sh'));
  const names: string[] = [];
  for (const rel of moduleOrder(kernel.modules)) {
    const name = rel.replace(/^.*\//, '').replace(/\.(xz|zst|gz)$/, '');
    writeFileSync(join(root, 'lib/modules', name), decompressModule(join(kernel.modules, rel)));
    names.push(name);
  }
  writeFileSync(join(root, 'modules.order'), names.join('\n') + '\n');
  writeFileSync(join(root, 'init'), INIT);
  chmodSync(join(root, 'init'), 0o755);
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync('sh', ['-c', `cd '${root}' && find . | cpio -o -H newc --quiet > '${tmp}'`]);
  if (r.status !== 0) throw new Error(`cpio failed: ${r.stderr.toString()}`);
  renameSync(tmp, out);
  writeFileSync(stamp, key);
  rmSync(root, { recursive: true, force: true });
  return out;
}

export interface VmResult {
  /** The payload's exit status (undefined when the VM did not get that far). */
  exitCode?: number;
  stdout: string;
  /** The payload's stdout as bytes. */
  stdoutBytes: Buffer;
  stderr: string;
  /** The whole serial console. */
  console: string;
  /** Seconds from qemu's start to the payload's start (`@@@BOOTED`). */
  bootSeconds?: number;
  /** Seconds from qemu's start to its exit. */
  totalSeconds: number;
  timedOut: boolean;
  /** Modules /init failed to insmod. */
  insmodFailed: string[];
  kernelVersion: string;
}

export interface RunVmOptions {
  /** Kill qemu after this many ms (default 240 s). */
  timeoutMs?: number;
  memory?: string;
}

let prepared: { kernel: string; initrd: string; version: string } | undefined;

/** prepareVm builds (or finds in the cache) the kernel image and the initramfs. */
export function prepareVm(): { kernel: string; initrd: string; version: string } {
  if (prepared) return prepared;
  const k = findKernel();
  if (!k) throw new Error('no kernel');
  const dir = cacheDir(k.version);
  const vmlinux = process.env.LDIRECTORD_KERNEL_BZIMAGE ? undefined : extractVmlinux(k.vmlinuz, join(dir, 'vmlinux'));
  prepared = { kernel: vmlinux ?? k.vmlinuz, initrd: buildInitramfs(k), version: k.version };
  return prepared;
}

/**
 * runVm boots the VM with a payload directory (on the host; it must hold run.sh, run with sh as root in
 * the chroot of the host's root, cwd = a copy of that directory under /run/payload, /tmp and /run empty
 * tmpfs). Resolves when qemu exits.
 */
export async function runVm(payloadDir: string, opts: RunVmOptions = {}): Promise<VmResult> {
  const { kernel, initrd, version } = prepareVm();
  const abs = resolve(payloadDir);
  if (!existsSync(join(abs, 'run.sh'))) throw new Error(`${abs}/run.sh missing`);
  if (/\s/.test(abs) || /\s/.test(CHECKOUT)) throw new Error('payload and checkout paths must not contain spaces');
  const args = [
    '-accel', 'tcg',
    '-cpu', 'max',
    '-m', opts.memory ?? '512M',
    '-smp', '1',
    '-nographic',
    '-no-reboot',
    '-nodefaults',
    '-serial', 'stdio',
    '-kernel', kernel,
    '-initrd', initrd,
    '-append', `console=ttyS0 loglevel=1 quiet panic=-1 rdinit=/init tsc=reliable no_timer_check payload=${abs} keep=${CHECKOUT}`,
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
  ];
  const start = Date.now();
  const child = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let bootSeconds: number | undefined;
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (s: string) => {
    out += s;
    if (bootSeconds === undefined && out.includes('@@@BOOTED')) bootSeconds = (Date.now() - start) / 1000;
  });
  let qerr = '';
  child.stderr.on('data', (b: Buffer) => (qerr += b.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 240_000);
  await new Promise<void>((res) => child.on('close', () => res()));
  clearTimeout(timer);
  const totalSeconds = (Date.now() - start) / 1000;
  const con = out.replace(/\r\n/g, '\n');
  const section = (name: string) => {
    const m = new RegExp(`@@@${name}_BEGIN\\n([\\s\\S]*?)@@@${name}_END`).exec(con);
    return m ? Buffer.from(m[1].replace(/\s+/g, ''), 'base64') : Buffer.alloc(0);
  };
  const rc = /@@@RC (\d+)/.exec(con);
  return {
    exitCode: rc ? Number(rc[1]) : undefined,
    stdout: section('STDOUT').toString('utf8'),
    stdoutBytes: section('STDOUT'),
    stderr: section('STDERR').toString('utf8'),
    console: con + (qerr ? `\n[qemu stderr]\n${qerr}` : ''),
    bootSeconds,
    totalSeconds,
    timedOut,
    kernelVersion: version,
    insmodFailed: [...con.matchAll(/@@@INSMOD_FAILED (\S+)/g)].map((m) => m[1]),
  };
}
