import { describe, expect, it } from 'vitest';
import { WriteGate } from '../src/pipeline/write-gate.js';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('WriteGate', () => {
  it('lets shared writes run together and an exclusive one alone, first come first served', async () => {
    const gate = new WriteGate();
    const events: string[] = [];
    const leaveA = await gate.enter(false);
    const leaveB = await gate.enter(false);
    events.push('a', 'b');
    const exclusive = gate.enter(true).then((leave) => {
      events.push('x');
      return leave;
    });
    // Queued behind the exclusive write: waits for it even though only shared writes run now.
    const late = gate.enter(false).then((leave) => {
      events.push('c');
      return leave;
    });
    await tick();
    expect(events).toEqual(['a', 'b']);
    leaveA();
    await tick();
    expect(events).toEqual(['a', 'b']);
    leaveB();
    const leaveX = await exclusive;
    await tick();
    expect(events).toEqual(['a', 'b', 'x']);
    leaveX();
    leaveX(); // leaving twice changes nothing
    (await late)();
    expect(events).toEqual(['a', 'b', 'x', 'c']);
    const again = await gate.enter(true);
    again();
  });
});
