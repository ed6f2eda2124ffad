import { describe, expect, it } from 'vitest';
import { SimDriver } from '../../src/ipvs-sim/sim-driver.js';

describe('SimDriver', () => {
  it('preloads from -R text, renders -L -n / --thresholds / -S -n exactly as ipvsadm prints them', async () => {
    const d = new SimDriver({ restore: '-A -t 127.0.0.1:80 -s wrr -p 300\n-a -t 127.0.0.1:80 -r 127.0.0.2:80 -g -w 3\n-a -t 127.0.0.1:80 -r 127.0.0.3:80 -g -w 1 -x 100 -y 10\n' });
    await d.apply([{ op: 'edit-dest', proto: 'tcp', vaddr: '127.0.0.1:80', dest: { rs: '127.0.0.2:80', forward: 'gate', weight: 0, upperThreshold: 0, lowerThreshold: 0 } }]);
    // The captured transcript's table after the same commands.
    expect(d.render()).toBe(
      'IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n' +
        'TCP  127.0.0.1:80 wrr persistent 300\n  -> 127.0.0.2:80                 Route   0      0          0         \n  -> 127.0.0.3:80                 Route   1      0          0         \n',
    );
    expect(d.renderThresholds()).toBe(
      'IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n  -> RemoteAddress:Port\n' +
        'TCP  127.0.0.1:80 wrr persistent 300\n  -> 127.0.0.2:80                 0          0          0          0         \n  -> 127.0.0.3:80                 100        10         0          0         \n',
    );
    expect(d.save()).toBe('-A -t 127.0.0.1:80 -s wrr -p 300\n-a -t 127.0.0.1:80 -r 127.0.0.2:80 -g -w 0\n-a -t 127.0.0.1:80 -r 127.0.0.3:80 -g -w 1\n');
    expect(d.history.map((h) => h.commandLine)).toEqual(['ipvsadm -e -t 127.0.0.1:80 -r 127.0.0.2:80 -g -w 0']);
  });

  it('a preload that ipvsadm refuses throws at construction', () => {
    expect(() => new SimDriver({ restore: '-A -t 127.0.0.1:80 -s nosuch\n' })).toThrow(/Scheduler or persistence engine not found/);
  });

  it('failMatch refuses matching commands (for failure scenarios); others still apply; sync reports 0 processes', async () => {
    const d = new SimDriver({ failMatch: /127\.0\.0\.9/ });
    const r = await d.sync({
      services: [{ service: { proto: 'tcp', vaddr: '127.0.0.1:80', scheduler: 'rr' }, dests: ['127.0.0.8:80', '127.0.0.9:80'].map((rs) => ({ rs, forward: 'gate' as const, weight: 1, upperThreshold: 0, lowerThreshold: 0 })) }],
      remove: [],
    });
    expect(r.processes).toBe(0);
    expect(r.commands.map((c) => [c.ok, c.error ?? null])).toEqual([[true, null], [true, null], [false, 'Operation not permitted']]);
    expect((await d.read()).services[0].dests.map((x) => x.rs)).toEqual(['127.0.0.8:80']);
  });

  it('run() gives ipvsadm\'s answers for any command line', () => {
    const d = new SimDriver();
    expect(d.run(['-D', '-t', '127.0.0.1:81'])).toEqual({ stdout: '', stderr: 'No such service\n', exitCode: 255 });
    expect(d.run(['--version']).stdout).toBe('ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n');
  });
});
