import net from 'node:net';

/** freePort: a TCP port free on `ip` right now (the kernel's choice, so tests running side by side do not collide). */
export async function freePort(ip = '127.0.0.1'): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, ip, r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}
