import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { exitQuietlyOnClosedStdout } from '../src/stdout-pipe.js';

describe('a closed stdout (bifrost schema | head)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('exits 0 on EPIPE instead of crashing with a stack trace', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const stream = new EventEmitter() as NodeJS.WriteStream;
    exitQuietlyOnClosedStdout(stream);
    stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(exit).toHaveBeenCalledWith(0);
  });

  it('lets any other stream error through', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const stream = new EventEmitter() as NodeJS.WriteStream;
    exitQuietlyOnClosedStdout(stream);
    expect(() => stream.emit('error', Object.assign(new Error('disk'), { code: 'EIO' }))).toThrow('disk');
    expect(exit).not.toHaveBeenCalled();
  });
});
