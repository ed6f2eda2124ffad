// onAbort: the listener helper the check path uses on the cycle's signal (one listener per check in flight).
import { describe, it, expect } from 'vitest';
import { onAbort } from '../../src/util/abort.js';
import { builtUrl, runScript } from '../support/built.js';

describe('onAbort', () => {
  it('calls what was added, once, in the order it was added; what was removed is not called', () => {
    const ac = new AbortController();
    const calls: string[] = [];
    const fns = ['a', 'b', 'c', 'd'].map((n) => () => calls.push(n));
    const offs = fns.map((f) => onAbort(ac.signal, f));
    offs[1]!();
    offs[1]!(); // twice does nothing
    ac.abort();
    ac.abort();
    expect(calls).toEqual(['a', 'c', 'd']);
  });

  it('the same function added twice is called once, as with addEventListener', () => {
    const ac = new AbortController();
    let n = 0;
    const f = (): void => void n++;
    onAbort(ac.signal, f);
    onAbort(ac.signal, f);
    ac.abort();
    expect(n).toBe(1);
  });

  it('nothing is called for a signal already aborted; signals do not share their lists', () => {
    const done = AbortSignal.abort();
    let n = 0;
    onAbort(done, () => void n++)();
    const a = new AbortController();
    const b = new AbortController();
    onAbort(a.signal, () => void (n += 10));
    onAbort(b.signal, () => void (n += 100));
    a.abort();
    expect(n).toBe(10);
    b.abort();
    expect(n).toBe(110);
  });

  it('a function that throws does not keep the later ones from being called; its error is uncaught, as a listener error is', () => {
    // In a child of the built module: the error reaches uncaughtException.
    const script = `
      import { onAbort } from ${builtUrl('util/abort.js')};
      const ac = new AbortController(); const seen = [];
      process.on('uncaughtException', (e) => { seen.push('uncaught ' + e.message); setTimeout(() => console.log(seen.join(',')), 10); });
      onAbort(ac.signal, () => { seen.push('first'); throw new Error('boom'); });
      onAbort(ac.signal, () => seen.push('second'));
      ac.abort();`;
    const r = runScript(script);
    expect(r.stdout.trim()).toBe('first,second,uncaught boom');
  });
});
