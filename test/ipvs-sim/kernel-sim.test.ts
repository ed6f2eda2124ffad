import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { emptyState, formatList, formatSave, runIpvsadm, setEtcHostsLoader, setEtcServicesLoader, toIpvsTable } from '../../src/ipvs-sim/index.js';
import { loadTranscripts } from '../ipvs/transcripts.js';

const haveEtcServices = existsSync('/etc/services');
setEtcServicesLoader(() => (haveEtcServices ? readFileSync('/etc/services', 'utf8') : ''));

describe('kernel-sim reproduces the captured ipvsadm 1.31 transcripts byte for byte', () => {
  for (const session of loadTranscripts()) {
    describe(session.name, () => {
      const state = emptyState();
      session.steps.forEach((step, i) => {
        // Listings that print service names need /etc/services as the capture machine had it.
        const needsNames = (step.argv.length === 0 || (step.argv.includes('-S') && !step.argv.includes('-n')));
        it.skipIf(needsNames && !haveEtcServices)(`#${i} ipvsadm ${step.cmd}`, () => {
          const r = runIpvsadm(state, step.argv, { stdin: step.stdin });
          expect({ stdout: r.stdout, stderr: r.stderr, rc: r.exitCode }).toEqual({
            stdout: step.stdout,
            stderr: step.stderr,
            rc: step.rc,
          });
        });
      });
    });
  }
});

function run(state: ReturnType<typeof emptyState>, line: string | string[], stdin?: string) {
  return runIpvsadm(state, typeof line === 'string' ? line.split(' ').filter(Boolean) : line, { stdin });
}

describe('kernel-sim semantics beyond the transcripts', () => {
  it('-p without a value is ipvsadm 1.31 IPVS_SVC_PERSISTENT_TIMEOUT (360) on -A and -E', () => {
    const s = emptyState();
    expect(run(s, '-A -t 10.0.0.1:80 -s rr -p').exitCode).toBe(0);
    expect(formatSave(s)).toBe('-A -t 10.0.0.1:80 -s rr -p 360\n');
    expect(run(s, '-E -t 10.0.0.1:80 -s rr').exitCode).toBe(0);
    expect(formatSave(s)).toBe('-A -t 10.0.0.1:80 -s rr\n');
  });

  it('-R: the exit status is the last line\'s; a refused last line gives 255', () => {
    const s = emptyState();
    const r = run(s, '-R', '-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.1:80 -s rr\n');
    expect(r).toEqual({ stdout: '', stderr: 'Service already exists\n', exitCode: 255 });
  });

  it('-R: a command-line error inside a line ends the restore with exit 2', () => {
    const s = emptyState();
    const r = run(s, '-R', '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2 -w x\n-A -t 10.0.0.3:80 -s rr\n');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe('illegal weight specified\n');
    expect(formatSave(s)).toBe('-A -t 10.0.0.1:80 -s rr\n');
  });

  it('-R runs listing lines too (one process can write and read back)', () => {
    const s = emptyState();
    const r = run(s, '-R', '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -x 9 -y 3\n-L -n\n-L -n --thresholds\n');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('IP Virtual Server version').length).toBe(3);
    expect(r.stdout).toContain(`  -> ${'10.0.0.2:80'.padEnd(28)} 9          3          0          0         \n`);
  });

  it('orders services by fwmark, family, protocol, address (with ipvsadm\'s wrapping int compare), port', () => {
    const s = emptyState();
    for (const l of ['-A -f 5 -s rr', '-A -u 10.0.0.1:53 -s rr', '-A -t [::1]:80 -s rr', '-A -t 10.0.0.2:80 -s rr',
      '-A -t 10.0.0.1:81 -s rr', '-A -t 10.0.0.1:80 -s rr', '-A -f 2 -s rr', '-A -f 2 -6 -s rr']) {
      expect(run(s, l).exitCode).toBe(0);
    }
    expect(formatSave(s)).toBe([
      '-A -t 10.0.0.1:80 -s rr', '-A -t 10.0.0.1:81 -s rr', '-A -t 10.0.0.2:80 -s rr', '-A -u 10.0.0.1:53 -s rr',
      '-A -t [::1]:80 -s rr', '-A -f 2 -s rr', '-A -f 2 -6 -s rr', '-A -f 5 -s rr', '',
    ].join('\n'));
    // 1.0.0.1 - 200.0.0.1 overflows a C int: ipvsadm lists 200.0.0.1 first.
    const t = emptyState();
    run(t, '-A -t 1.0.0.1:80 -s rr');
    run(t, '-A -t 200.0.0.1:80 -s rr');
    expect(formatSave(t)).toBe('-A -t 200.0.0.1:80 -s rr\n-A -t 1.0.0.1:80 -s rr\n');
  });

  it('the first option must be a command; later popt errors print "<opt>: unknown option" exit 255', () => {
    const s = emptyState();
    expect(run(s, '-t 10.0.0.1:80 -A')).toEqual({
      stdout: '', stderr: "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n", exitCode: 255,
    });
    expect(run(s, '-A -t 10.0.0.1:80 --bogus')).toEqual({ stdout: '', stderr: '--bogus: unknown option\n', exitCode: 255 });
    expect(run(s, '-A -t 10.0.0.1:80 -s rr extra')).toEqual({ stdout: '', stderr: 'unexpected argument extra\n', exitCode: 2 });
    expect(run(s, '-a -t 10.0.0.1:80 -r 10.0.0.2 -g -m').stderr).toBe("multiple 'forwarding-method' options specified\n");
  });

  it('fwm IPv6 services (-6 after -f), IPv6 canonical addresses, sched flags and ops', () => {
    const s = emptyState();
    expect(run(s, '-A -6 -f 7 -s rr').stderr).toBe('-6 used before -f\n\n');
    expect(run(s, '-A -f 7 -6 -s rr -p 30 -M 64').exitCode).toBe(0);
    expect(run(s, '-a -f 7 -6 -r [2001:db8:0:0::5]:8080 -m -w 3').exitCode).toBe(0);
    expect(run(s, '-A -u 10.0.0.1:53 -s sh -b sh-port,sh-fallback -o').exitCode).toBe(0);
    expect(run(s, '-A -t 10.0.0.1:53 -s rr -b sh-port').stderr).toBe("incompatible scheduler flag `sh-port'\n");
    expect(run(s, '-L -n').stdout).toBe([
      'IP Virtual Server version 1.2.1 (size=4096)',
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
      'UDP  10.0.0.1:53 sh (sh-fallback,sh-port) ops',
      'FWM  7 IPv6 rr persistent 30 mask 64',
      '  -> [2001:db8::5]:8080           Masq    3      0          0         ',
      '',
    ].join('\n'));
    expect(formatSave(s)).toBe('-A -u 10.0.0.1:53 -s sh -o -b sh-fallback,sh-port\n-A -f 7 -6 -s rr -p 30 -M 64\n-a -f 7 -6 -r [2001:db8::5]:8080 -m -w 3\n');
    const table = toIpvsTable(s);
    expect(table.services[1].service).toEqual({ proto: 'fwm', vaddr: '7', ipv6Fwm: true, scheduler: 'rr', persistent: 30, netmask: '64' });
    expect(table.services[0].service).toEqual({ proto: 'udp', vaddr: '10.0.0.1:53', scheduler: 'sh', schedflags: 'sh-fallback,sh-port', ops: true });
  });
});

describe('kernel-sim: the kernel\'s address-type check on a new destination (ip_vs_new_dest)', () => {
  const EINVAL = 'Invalid operation.  Possibly wrong module version, address not unicast, ...\n';

  it('refuses a link-local IPv6 real server with exit 255 and leaves the table unchanged', () => {
    const s = emptyState();
    expect(run(s, '-A -t [::1]:8090 -s wlc').exitCode).toBe(0);
    const before = formatSave(s);
    const r = run(s, '-a -t [::1]:8090 -x 20 -y 3 -r [fe80::1]:8093 -m -w 4');
    expect(r).toEqual({ stdout: '', stderr: EINVAL, exitCode: 255 });
    expect(formatSave(s)).toBe(before);
  });

  it('refuses ::, multicast, link-local and IPv4-mapped IPv6; accepts ::1, global, ULA, site-local, v4-compatible', () => {
    for (const [addr, ok] of [
      ['::', false], ['ff02::1', false], ['fe80::1', false], ['febf::1', false], ['::ffff:10.0.0.1', false],
      ['::1', true], ['2001:db8::10', true], ['fd00::1', true], ['fec0::1', true], ['::10.0.0.1', true],
    ] as const) {
      const s = emptyState();
      run(s, '-A -t [2001:db8::1]:80 -s rr');
      const r = run(s, `-a -t [2001:db8::1]:80 -r [${addr}]:80 -m -w 1`);
      expect([addr, r.exitCode, r.stderr]).toEqual([addr, ok ? 0 : 255, ok ? '' : EINVAL]);
      expect(s.services[0].dests.length).toBe(ok ? 1 : 0);
    }
  });

  it('refuses IPv4 broadcast, zero-net and multicast real servers; accepts unicast and loopback', () => {
    for (const [addr, ok] of [
      ['0.0.0.0', false], ['0.1.2.3', false], ['255.255.255.255', false], ['224.0.0.1', false],
      ['239.255.255.255', false], ['127.255.255.255', false],
      ['127.0.0.1', true], ['10.0.0.2', true], ['223.255.255.255', true], ['240.0.0.1', true],
    ] as const) {
      const s = emptyState();
      run(s, '-A -t 10.0.0.1:80 -s rr');
      const r = run(s, `-a -t 10.0.0.1:80 -r ${addr}:80 -m -w 1`);
      expect([addr, r.exitCode, r.stderr]).toEqual([addr, ok ? 0 : 255, ok ? '' : EINVAL]);
    }
  });

  it('checks the destination\'s own family (an IPv6 tunnel real of an IPv4 service); -R goes on after the refusal', () => {
    const s = emptyState();
    const r = run(s, '-R', '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r [fe80::2]:80 -i -w 1\n-a -t 10.0.0.1:80 -r [2001:db8::2]:80 -i -w 1\n');
    expect(r.stderr).toBe(EINVAL);
    expect(r.exitCode).toBe(0);
    expect(formatSave(s)).toBe('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r [2001:db8::2]:80 -i -w 1 --tun-type ipip\n');
  });

  it('a threshold error (ERANGE) comes before the address check (EINVAL)', () => {
    const s = emptyState();
    run(s, '-A -t [::1]:80 -s rr');
    expect(run(s, '-a -t [::1]:80 -r [fe80::1]:80 -m -x 1 -y 2').stderr).toBe('Numerical result out of range\n');
  });
});

describe('kernel-sim: host and service names on input (gethostbyname / getservbyname)', () => {
  const SERVICES = 'http\t\t80/tcp\t\twww\t# WorldWideWeb HTTP\ndomain\t\t53/tcp\ndomain\t\t53/udp\n' +
    'https\t\t443/tcp\nkerberos\t88/tcp\t\tkerberos5 krb5\nonlyudp\t\t7777/udp\n';
  const HOSTS = '# comment\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.0.1 runsc\n' +
    '10.0.0.7  Web7 web7.example  # a comment\n10.0.0.8 web7\n';
  const withNames = <T>(f: () => T): T => {
    setEtcServicesLoader(() => SERVICES);
    setEtcHostsLoader(() => HOSTS);
    try {
      return f();
    } finally {
      setEtcServicesLoader(() => (haveEtcServices ? readFileSync('/etc/services', 'utf8') : ''));
      setEtcHostsLoader(() => '');
    }
  };

  it('a service name is the port of its protocol; an alias works too; another protocol\'s name does not', () => {
    withNames(() => {
      const s = emptyState();
      expect(run(s, '-A -t 127.0.0.1:80 -s rr').exitCode).toBe(0);
      expect(run(s, '-A -t 127.0.0.1:http -s rr')).toEqual({ stdout: '', stderr: 'Service already exists\n', exitCode: 255 });
      expect(run(s, '-A -t 127.0.0.1:www -s rr').stderr).toBe('Service already exists\n');
      expect(run(s, '-A -t 127.0.0.1:krb5 -s rr').exitCode).toBe(0);
      expect(run(s, '-A -u 127.0.0.1:domain -s rr').exitCode).toBe(0);
      expect(run(s, '-A -u 127.0.0.1:http -s rr')).toEqual({ stdout: '', stderr: 'illegal virtual server address[:port] specified\n', exitCode: 2 });
      expect(run(s, '-A -t 127.0.0.1:onlyudp -s rr').exitCode).toBe(2);
      expect(run(s, '-A -t 127.0.0.1:HTTP -s rr').exitCode).toBe(2);
      expect(formatSave(s)).toBe('-A -t 127.0.0.1:80 -s rr\n-A -t 127.0.0.1:88 -s rr\n-A -u 127.0.0.1:53 -s rr\n');
    });
  });

  it('a real server\'s port name is looked up with the service\'s protocol; IPv6 ports take names too', () => {
    withNames(() => {
      const s = emptyState();
      run(s, '-A -u 10.0.0.1:53 -s rr');
      expect(run(s, '-a -u 10.0.0.1:domain -r 10.0.0.2:domain -m').exitCode).toBe(0);
      expect(run(s, '-a -u 10.0.0.1:domain -r 10.0.0.3:https -m').exitCode).toBe(2);
      expect(run(s, '-A -t [2001:db8::1]:https -s rr').exitCode).toBe(0);
      expect(formatSave(s)).toBe('-A -u 10.0.0.1:53 -s rr\n-a -u 10.0.0.1:53 -r 10.0.0.2:53 -m -w 1\n-A -t [2001:db8::1]:443 -s rr\n');
    });
  });

  it('a host name is the first IPv4 line of /etc/hosts naming it (case-insensitive, aliases too); unknown names are illegal', () => {
    withNames(() => {
      const s = emptyState();
      expect(run(s, '-A -t localhost:http -s rr').exitCode).toBe(0);
      expect(run(s, '-a -t localhost:80 -r WEB7:8080 -m -w 2').exitCode).toBe(0);
      expect(run(s, '-a -t localhost:80 -r web7.example:8081 -m -w 2').exitCode).toBe(0);
      expect(run(s, '-A -t ip6-localhost:80 -s rr')).toEqual({ stdout: '', stderr: 'illegal virtual server address[:port] specified\n', exitCode: 2 });
      expect(run(s, '-a -t localhost:80 -r nosuchhost:80 -m')).toEqual({ stdout: '', stderr: 'illegal real server address[:port] specified\n', exitCode: 2 });
      expect(formatSave(s)).toBe('-A -t 127.0.0.1:80 -s rr\n-a -t 127.0.0.1:80 -r 10.0.0.7:8080 -m -w 2\n-a -t 127.0.0.1:80 -r 10.0.0.7:8081 -m -w 2\n');
    });
  });

  it('inside brackets only an IPv6 address keeps its port (ipvsadm looks for the port again)', () => {
    withNames(() => {
      const s = emptyState();
      expect(run(s, '-A -t [127.0.0.1]:80 -s rr -p 60').exitCode).toBe(0);
      expect(run(s, '-A -t [localhost]:80 -s rr').stderr).toBe('Zero port specified for non-persistent service\n');
      expect(formatSave(s)).toBe('-A -t 127.0.0.1:0 -s rr -p 60\n');
    });
  });
});

describe('kernel-sim: listings without -n print names (gethostbyaddr / getservbyport)', () => {
  const HOSTS = '127.0.0.1\tlocalhost\n127.0.0.1 runsc\n::1 localhost ip6-localhost\n10.0.0.7 web7 web7.example\n';
  const SERVICES = 'http\t\t80/tcp\t\twww\nhttps\t\t443/tcp\ndomain\t\t53/udp\n';
  const setup = () => {
    setEtcHostsLoader(() => HOSTS);
    setEtcServicesLoader(() => SERVICES);
    const s = emptyState();
    for (const l of [
      '-A -t 127.0.0.1:80 -s wrr -p 300', '-a -t 127.0.0.1:80 -r 127.0.0.2:80 -g -w 0',
      '-a -t 127.0.0.1:80 -r 10.0.0.7:80 -g -w 1', '-A -u 10.0.0.7:53 -s rr',
      '-A -t [::1]:443 -s rr', '-a -t [::1]:443 -r 127.0.0.1:443 -i -w 1', '-A -f 5 -s rr',
    ]) expect(run(s, l).exitCode).toBe(0);
    return s;
  };
  const restore = () => {
    setEtcHostsLoader(() => '');
    setEtcServicesLoader(() => (haveEtcServices ? readFileSync('/etc/services', 'utf8') : ''));
  };

  it('-S: IPv4 addresses by their first /etc/hosts name, IPv6 always numeric, ports by service name', () => {
    try {
      const s = setup();
      expect(run(s, '-S').stdout).toBe([
        '-A -t localhost:http -s wrr -p 300',
        '-a -t localhost:http -r web7:http -g -w 1',
        '-a -t localhost:http -r 127.0.0.2:http -g -w 0',
        '-A -u web7:domain -s rr',
        '-A -t [::1]:https -s rr',
        '-a -t [::1]:https -r localhost:https -i -w 1 --tun-type ipip',
        '-A -f 5 -s rr',
        '',
      ].join('\n'));
      // -n is unchanged.
      expect(run(s, '-S -n').stdout).toBe(formatSave(s));
      expect(formatSave(s).startsWith('-A -t 127.0.0.1:80 -s wrr -p 300\n')).toBe(true);
    } finally {
      restore();
    }
  });

  it('-L and no argument: the same names in the listing columns', () => {
    try {
      const s = setup();
      const l = run(s, '-L').stdout;
      expect(l).toContain('TCP  localhost:http wrr persistent 300\n  -> web7:http                    Route   1      0          0         \n' +
        '  -> 127.0.0.2:http               Route   0      0          0         \n');
      expect(l).toContain('TCP  [::1]:https rr\n  -> localhost:https              Tunnel  1      0          0         \n');
      expect(l).toContain('UDP  web7:domain rr\n');
      expect(run(s, []).stdout).toBe(l);
      expect(run(s, '-L -n').stdout).toBe(formatList(s, { numeric: true }));
      expect(run(s, '-L -n').stdout).toContain('TCP  127.0.0.1:80 wrr persistent 300\n');
    } finally {
      restore();
    }
  });
});
