/** Builders of model values and small servers for the checks' tests. */
import net from 'node:net';
import type { RealServer, VirtualService } from '../../src/model/config.js';

export function makeReal(p: Partial<RealServer> = {}): RealServer {
  const ip = p.ip ?? '127.0.0.1';
  return {
    ip,
    family: p.family ?? (ip.includes(':') ? 6 : 4),
    port: 0,
    forward: 'gate',
    weight: 1,
    upperThreshold: 0,
    lowerThreshold: 0,
    source: `${ip}`,
    pos: { file: 'test.cf', line: 2 },
    ...p,
  };
}

export function makeVirtual(p: Partial<VirtualService> = {}): VirtualService {
  const ip = p.ip ?? '127.0.0.1';
  const port = p.port ?? 80;
  return {
    keyword: 'virtual',
    family: 4,
    protocol: 'tcp',
    ip,
    port,
    vaddr: `${ip}:${port}`,
    vid: `tcp:${ip}:${port}`,
    reals: [],
    checktype: 'negotiate',
    service: 'none',
    serviceExplicit: false,
    checkcommand: '/bin/true',
    checktimeout: 5,
    negotiatetimeout: 30,
    checkinterval: 10,
    checkcount: 1,
    failurecount: 1,
    request: '/',
    receive: '',
    httpmethod: 'GET',
    login: '',
    passwd: '',
    database: '',
    secret: '',
    scheduler: 'wrr',
    ops: false,
    quiescent: false,
    cleanstop: true,
    emailalert: '',
    emailalertfreq: 0,
    emailalertstatus: [],
    pos: { file: 'test.cf', line: 1 },
    ...p,
  };
}

/** listen starts a TCP server on host:0 and returns it with its port. */
export async function listen(
  handler: (s: net.Socket) => void,
  host = '127.0.0.1',
): Promise<{ server: net.Server; port: number; sockets: Set<net.Socket>; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    handler(s);
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, host, () => res());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    sockets,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}

/** A port on host that nothing listens on (bound then closed). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const l = await listen(() => {}, host);
  await l.close();
  return l.port;
}

import { spawn, type ChildProcess } from 'node:child_process';

/**
 * synDroppers starts `count` listeners on host that never accept, with a backlog of 0, and fills each
 * accept queue: the kernel then drops further SYNs silently (a connect to them times out). Uses perl
 * (a listening socket that never accepts cannot be made with node:net).
 */
export async function synDroppers(
  count: number,
  host = '127.0.0.1',
): Promise<{ ports: number[]; close: () => void; child: ChildProcess; fillers: net.Socket[] }> {
  const script = `
    use Socket; $| = 1; my @s;
    for my $i (1..$ARGV[0]) {
      socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
      bind($s, sockaddr_in(0, inet_aton($ARGV[1]))) or die "bind: $!";
      listen($s, 0) or die "listen: $!";
      my ($port) = sockaddr_in(getsockname($s)); print "$port\\n"; push @s, $s;
    }
    print "ready\\n"; sleep 3600;`;
  const child = spawn('perl', ['-e', script, String(count), host], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports: number[] = [];
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.once('error', reject);
    child.once('exit', (c) => reject(new Error(`perl exited ${c}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'ready') resolve();
        else ports.push(Number(line));
      }
    });
  });
  child.removeAllListeners('exit');
  // Fill each accept queue (backlog 0 holds one connection); later SYNs are dropped.
  const fillers: net.Socket[] = [];
  await Promise.all(
    ports.map(
      (port) =>
        new Promise<void>((resolve) => {
          const s = net.connect({ host, port }, () => resolve());
          s.on('error', () => resolve());
          fillers.push(s);
        }),
    ),
  );
  return {
    ports,
    child,
    fillers,
    close: () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}
