/**
 * tcpHandles: the TCP handle under net.Socket (Node's tcp_wrap binding), for the connect check alone.
 *
 * A connect check opens a connection and closes it: it never reads or writes. A net.Socket does that
 * through a Duplex stream (two stream states, an event emitter, its nextTick emits and destroy steps),
 * and at 200 reals a second those objects were most of what our checks cost over the connect and close
 * system calls themselves, in JS and in the collector (bench/README.md, "CPU per check"). The handle does
 * the same system calls as net.connect does for an IP address: socket, connect, then close once the
 * connect completes or is given up (a FIN when connected, as the original's close($sock)).
 *
 * It is not a public API, so it is taken only when it is there and looks as expected, and never where
 * asking for it would print something: process.binding warns under --pending-deprecation (DEP0111) and
 * throws under the permission model. Otherwise, and with LDIRECTORD_TCP_CONNECT=net, the connect check
 * uses net.connect, with the same results and messages (test/checks/tcp-handle.test.ts runs both).
 */

/** The connect request: `oncomplete(status)` is called once, with 0 or a negative libuv error number. */
export interface TcpConnectReq {
  oncomplete: ((status: number) => void) | null;
}

/** The few methods of a TCP handle the connect check uses. Each connect returns 0 or a negative libuv error. */
export interface TcpHandle {
  connect(req: TcpConnectReq, ip: string, port: number): number;
  connect6(req: TcpConnectReq, ip: string, port: number): number;
  close(): void;
}

export interface TcpHandles {
  newHandle(): TcpHandle;
  newConnectReq(): TcpConnectReq;
}

interface TcpWrapBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => TcpConnectReq;
  constants: { SOCKET: number };
}

function pendingDeprecation(env: NodeJS.ProcessEnv, execArgv: readonly string[]): boolean {
  return execArgv.includes('--pending-deprecation') || /(^|\s)--pending-deprecation(\s|$)/.test(env.NODE_OPTIONS ?? '') || env.NODE_PENDING_DEPRECATION === '1';
}

/** The handles when they can be used here (see above); undefined means net.connect. Exported for the tests. */
export function loadTcpHandles(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): TcpHandles | undefined {
  if (env.LDIRECTORD_TCP_CONNECT === 'net' || pendingDeprecation(env, execArgv)) return undefined;
  const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
  if (typeof binding !== 'function') return undefined;
  let b: Partial<TcpWrapBinding>;
  try {
    b = binding.call(process, 'tcp_wrap') as Partial<TcpWrapBinding>;
  } catch {
    return undefined; // the permission model, or a Node without it
  }
  const { TCP, TCPConnectWrap, constants } = b;
  if (typeof TCP !== 'function' || typeof TCPConnectWrap !== 'function' || typeof constants?.SOCKET !== 'number') return undefined;
  const proto = TCP.prototype as Partial<TcpHandle>;
  if (typeof proto.connect !== 'function' || typeof proto.connect6 !== 'function' || typeof proto.close !== 'function') return undefined;
  const SOCKET = constants.SOCKET;
  return { newHandle: () => new TCP(SOCKET), newConnectReq: () => new TCPConnectWrap() };
}

let loaded: { handles: TcpHandles | undefined } | undefined;

/** The process's handles, looked up once, on the first connect check. */
export function tcpHandles(): TcpHandles | undefined {
  loaded ??= { handles: loadTcpHandles() };
  return loaded.handles;
}
