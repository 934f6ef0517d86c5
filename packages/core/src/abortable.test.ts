import { describe, expect, it, vi } from 'vitest';
import { abortable } from './abortable.js';

describe('abortable', () => {
  const cancelled = () => new Error('cancelled');

  it('passes the outcome through while the signal stays quiet', async () => {
    await expect(abortable(Promise.resolve(7), new AbortController().signal, cancelled)).resolves.toBe(7);
    const refused = Object.assign(new Error('refused'), { code: 'X' });
    await expect(abortable(Promise.reject(refused), new AbortController().signal, cancelled)).rejects.toBe(refused);
  });

  it('rejects at once on abort, runs onAbort, and ignores a late outcome', async () => {
    const ac = new AbortController();
    let finish: (v: number) => void = () => undefined;
    const onAbort = vi.fn();
    const call = abortable(new Promise<number>((r) => (finish = r)), ac.signal, cancelled, onAbort);
    ac.abort();
    await expect(call).rejects.toThrow('cancelled');
    expect(onAbort).toHaveBeenCalledOnce();
    finish(1);
    await expect(call).rejects.toThrow('cancelled');
  });

  it('rejects at once when the signal was aborted before the call', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(abortable(new Promise(() => undefined), ac.signal, cancelled)).rejects.toThrow('cancelled');
  });
});
