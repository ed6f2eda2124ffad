/**
 * The uid of the process at the other end of an accepted unix socket, without SO_PEERCRED (Node has no
 * API for it) and without building native code: the kernel's sock_diag netlink interface (the one `ss -x`
 * uses), spoken through the prebuilt `netlink` package.
 *
 *   1. fstat(our fd).st_ino is our socket's inode;
 *   2. SOCK_DIAG_BY_FAMILY(AF_UNIX, ino, UDIAG_SHOW_PEER) gives the peer socket's inode;
 *   3. SOCK_DIAG_BY_FAMILY(AF_UNIX, peer ino, UDIAG_SHOW_UID) gives the uid that created the peer socket.
 *
 * That uid is the peer's effective uid when it created its socket (as SO_PEERCRED's is when it
 * connected). When sock_diag is not there (no unix_diag in the kernel, the package does not load), the
 * answer is undefined and the socket's mode (0600, root) is the only enforcement; the caller logs that.
 */
import { fstatSync } from 'node:fs';
import type { Socket } from 'node:net';

const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 1;
const NLMSG_ERROR = 2;
const AF_UNIX = 1;
const UDIAG_SHOW_PEER = 0x04;
const UDIAG_SHOW_UID = 0x40;
const UNIX_DIAG_PEER = 2;
const UNIX_DIAG_UID = 7;

interface RawSocket {
  on(ev: 'message', f: (msg: Buffer) => void): void;
  on(ev: 'error', f: (e: Error) => void): void;
  send(msg: Uint8Array): void;
  close(): void;
}
type RawCtor = new (protocol: number) => RawSocket;

let ctor: Promise<RawCtor | undefined> | undefined;

function loadNetlink(): Promise<RawCtor | undefined> {
  // The raw socket module only (the package's index loads its route, nl80211 and wireguard layers: ~12 MB).
  ctor ??= import('netlink/dist/raw.js').then(
    (m) => {
      const x = m as unknown as { RawNetlinkSocket?: RawCtor; default?: { RawNetlinkSocket?: RawCtor } };
      return x.RawNetlinkSocket ?? x.default?.RawNetlinkSocket;
    },
    () => undefined,
  );
  return ctor;
}

/** One unix_diag query by inode; the attributes of the answer by type, or undefined. */
async function query(ino: number, show: number, timeoutMs: number): Promise<Map<number, Buffer> | undefined> {
  const Raw = await loadNetlink();
  if (!Raw) return undefined;
  return await new Promise((resolve) => {
    let s: RawSocket;
    try {
      s = new Raw(NETLINK_SOCK_DIAG);
    } catch {
      resolve(undefined);
      return;
    }
    let done = false;
    const finish = (v: Map<number, Buffer> | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        s.close();
      } catch {
        /* closed */
      }
      resolve(v);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    s.on('error', () => finish(undefined));
    s.on('message', (m: Buffer) => {
      if (m.length < 32 || m.readUInt16LE(4) === NLMSG_ERROR) return finish(undefined);
      const attrs = new Map<number, Buffer>();
      let off = 16 + 16; // nlmsghdr + unix_diag_msg
      while (off + 4 <= m.length) {
        const len = m.readUInt16LE(off);
        if (len < 4 || off + len > m.length) break;
        attrs.set(m.readUInt16LE(off + 2), m.subarray(off + 4, off + len));
        off += (len + 3) & ~3;
      }
      finish(attrs);
    });
    const b = Buffer.alloc(16 + 24);
    b.writeUInt32LE(b.length, 0);
    b.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
    b.writeUInt16LE(NLM_F_REQUEST, 6);
    b.writeUInt32LE(1, 8);
    b.writeUInt8(AF_UNIX, 16); // sdiag_family; sdiag_protocol, pad = 0
    b.writeUInt32LE(0xffffffff, 20); // udiag_states: any
    b.writeUInt32LE(ino >>> 0, 24);
    b.writeUInt32LE(show, 28);
    b.writeUInt32LE(0xffffffff, 32); // cookie: none
    b.writeUInt32LE(0xffffffff, 36);
    try {
      s.send(b);
    } catch {
      finish(undefined);
    }
  });
}

/** The uid of the peer of an accepted unix socket, or undefined when it cannot be known. */
export async function peerUid(socket: Socket, timeoutMs = 1000): Promise<number | undefined> {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  let ino: number;
  try {
    ino = fstatSync(fd).ino;
  } catch {
    return undefined;
  }
  const mine = await query(ino, UDIAG_SHOW_PEER, timeoutMs);
  const peer = mine?.get(UNIX_DIAG_PEER);
  if (!peer || peer.length < 4) return undefined;
  const theirs = await query(peer.readUInt32LE(0), UDIAG_SHOW_UID, timeoutMs);
  const uid = theirs?.get(UNIX_DIAG_UID);
  return uid && uid.length >= 4 ? uid.readUInt32LE(0) : undefined;
}
