import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { Keepalive } from '../../../../proxy/core/keepalive.ts';
import { quietLogger, RecordingSender, T0 } from './fixtures.ts';

function setup(targets: string[]) {
  const clock = new ManualClock(T0);
  const sender = new RecordingSender();
  const ka = new Keepalive(() => targets, sender, clock, quietLogger().log);
  return { clock, sender, ka };
}

describe('Keepalive', () => {
  it('sends a double CRLF to each registrar on the WAN side every interval', () => {
    const { clock, sender, ka } = setup(['198.51.100.77:5060', '198.51.100.78:5080']);
    ka.start(20);
    clock.advance(19_999);
    assert.equal(sender.sent.length, 0);
    clock.advance(1);
    assert.deepEqual(
      sender.take().map((s) => [s.side, s.data.toString(), s.address, s.port]),
      [
        ['wan', '\r\n\r\n', '198.51.100.77', 5060],
        ['wan', '\r\n\r\n', '198.51.100.78', 5080],
      ],
    );
    clock.advance(40_000);
    assert.equal(sender.take().length, 4);
    assert.equal(ka.sent, 6);
  });

  it('asks for the targets each time, so new registrations are kept alive too', () => {
    const targets: string[] = [];
    const clock = new ManualClock(T0);
    const sender = new RecordingSender();
    const ka = new Keepalive(() => targets, sender, clock, quietLogger().log);
    ka.start(10);
    clock.advance(10_000);
    assert.equal(sender.take().length, 0);
    targets.push('198.51.100.77:5060');
    clock.advance(10_000);
    assert.equal(sender.take().length, 1);
  });

  it('is off with an interval of 0 (or less)', () => {
    const { clock, sender, ka } = setup(['198.51.100.77:5060']);
    ka.start(0);
    clock.advance(3600_000);
    ka.start(-5);
    clock.advance(3600_000);
    assert.equal(sender.sent.length, 0);
  });

  it('stops on stop(), and a restart replaces the old timer instead of adding one', () => {
    const { clock, sender, ka } = setup(['198.51.100.77:5060']);
    ka.start(10);
    ka.start(10);
    clock.advance(10_000);
    assert.equal(sender.take().length, 1);
    ka.stop();
    ka.stop();
    clock.advance(100_000);
    assert.equal(sender.sent.length, 0);
  });

  it('reaches IPv6 registrars and skips malformed targets', () => {
    const { sender, ka } = setup([
      '2001:db8::7:5060',
      '[2001:db8::8]:5070',
      'nonsense',
      ':5060',
      '198.51.100.77:0',
    ]);
    ka.tick();
    assert.deepEqual(
      sender.take().map((s) => [s.address, s.port]),
      [
        ['2001:db8::7', 5060],
        ['2001:db8::8', 5070],
      ],
    );
  });
});
