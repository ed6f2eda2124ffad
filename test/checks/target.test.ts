import { describe, expect, it } from 'vitest';
import { checkPort, checkTarget, realIdString } from '../../src/checks/target.js';
import { makeReal, makeVirtual } from './helpers.js';

describe('checkTarget (ld_setup / ld_checkport)', () => {
  it('checkport wins, then the real port, then the service port', () => {
    const v = makeVirtual({ service: 'http', port: 8080 });
    expect(checkPort(v, makeReal({ port: 81 }))).toBe(81);
    expect(checkPort(v, makeReal({ port: 0 }))).toBe(80); // not the virtual's 8080
    expect(checkPort({ ...v, checkport: 9000 }, makeReal({ port: 81 }))).toBe(9000);
    expect(checkPort(makeVirtual({ service: 'simpletcp' }), makeReal({ port: 0 }))).toBe(0);
    expect(checkPort(makeVirtual({ service: 'ldaps' }), makeReal())).toBe(636);
  });

  it('builds the URL from the real address, check port and request', () => {
    const v = makeVirtual({ service: 'https', request: '/health.html', receive: 'OK' });
    const t = checkTarget(v, makeReal({ ip: '10.0.0.5', port: 8443 }));
    expect(t.url).toBe('https://10.0.0.5:8443/health.html');
    expect(t.request).toBe('/health.html');
    expect(t.receive).toBe('OK');
    const t6 = checkTarget({ ...v, service: 'http' }, makeReal({ ip: 'fd00::5', port: 0 }));
    expect(t6.url).toBe('http://[fd00::5]:80/health.html');
    expect(t6.ip).toBe('fd00::5');
    expect(t6.family).toBe(6);
  });

  it('per-real request and receive; an absolute per-real URL is used verbatim', () => {
    const v = makeVirtual({ service: 'http', request: '/v', receive: 'vr' });
    const t = checkTarget(v, makeReal({ port: 80, request: '/r.html', receive: 'rr' }));
    expect([t.url, t.request, t.receive]).toEqual(['http://127.0.0.1:80/r.html', '/r.html', 'rr']);
    const abs = checkTarget(v, makeReal({ port: 80, request: '/http://other:81/x', receive: 'rr' }));
    expect(abs.url).toBe('http://other:81/x');
    // a per-real request without receive: the virtual's URL and receive (the original's ld_setup)
    const half = checkTarget(v, makeReal({ port: 80, request: '/r.html' }));
    expect([half.url, half.request, half.receive]).toEqual(['http://127.0.0.1:80/v', '/r.html', 'vr']);
  });

  it('http_proxy fetches the virtual request as an absolute URL', () => {
    const v = makeVirtual({ service: 'http_proxy', request: '/http://www.example.org/', receive: 'x' });
    expect(checkTarget(v, makeReal({ port: 3128 })).url).toBe('http://www.example.org/');
  });
});

describe('realIdString (get_real_id_str)', () => {
  it('matches the original format with quotemeta', () => {
    const v = makeVirtual({ service: 'http', request: '/a.html', receive: 'O.K', virtualhost: 'www', checkport: 81 });
    expect(realIdString(v, makeReal({ ip: '10.0.0.1', port: 80, weight: 2, forward: 'masq' }))).toBe(
      'negotiate:http:tcp:10.0.0.1:80:www:81:2:masq:\\/a\\.html:O\\.K',
    );
    const e = makeVirtual({ checktype: 'external', checkcommand: '/bin/chk', protocol: 'udp' });
    expect(realIdString(e, makeReal({ ip: 'fd00::1', port: 53 }))).toBe('external:/bin/chk:udp:[fd00::1]:53:::1:gate:\\/:');
    expect(realIdString(makeVirtual({ checktype: 'connect' }), makeReal())).toBe('connect:tcp:127.0.0.1:0:::1:gate:\\/:');
  });
});
