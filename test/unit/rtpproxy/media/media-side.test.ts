import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../../common/clock.ts';
import { isSipmasqError } from '../../../../common/errors.ts';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { nodeSocketFactory } from '../../../../common/socket-factory.ts';
import type { MediaSideOptions } from '../../../../rtpproxy/control.ts';
import { createMediaSide } from '../../../../rtpproxy/media-side.ts';
import { endpoint, request, stream } from '../../../integration/rtpproxy/relay-fixture.ts';
import { fail, RecordingRunner } from '../firewall/fake-backend.ts';

function opts(over: Partial<MediaSideOptions> = {}): MediaSideOptions {
  const base = 20_000 + Math.floor(Math.random() * 10_000) * 2;
  return {
    lanAddress: '127.0.0.1',
    wanAddress: '127.0.0.1',
    publicAddress: () => '198.51.100.2',
    lanDevice: 'br-lan',
    wanDevice: 'wan',
    sipPort: 5060,
    portMin: base,
    portMax: base + 99,
    idleTimeoutMs: 30_000,
    holdTimeoutMs: 600_000,
    mediaPath: 'auto',
    firewall: 'none',
    ...over,
  };
}

const deps = (runner = new RecordingRunner()) => ({
  clock: new ManualClock(),
  sockets: nodeSocketFactory,
  logger: Logger.root('debug', new MemorySink()),
  runner,
});

describe('createMediaSide', () => {
  it('with firewall none relays every stream, runs no command and reports backend none', async () => {
    const runner = new RecordingRunner();
    const side = await createMediaSide(opts(), deps(runner));
    const [offer] = await side.media.update(request('lan', [stream(0, endpoint('192.168.1.10', 4000))]));
    const [answer] = await side.media.update(request('wan', [stream(0, endpoint('203.0.113.7', 7000))]));
    assert.equal(offer?.path, 'relay');
    assert.equal(answer?.path, 'relay');
    assert.equal(answer?.addr, '127.0.0.1');
    assert.equal(side.network.status().backend, 'none');
    assert.deepEqual(await side.reconcile(new Set()), { adopted: [], removed: 0 });
    await assert.rejects(side.network.setRedirects([{ proto: 'udp', port: 5060, toPort: 5060 }]), (e) =>
      isSipmasqError(e, 'SMQ_ERR_FIREWALL'),
    );
    await side.close();
    await side.close();
    assert.equal(runner.calls.length, 0);
  });

  it('auto without any usable firewall falls back to none, relay only', async () => {
    const runner = new RecordingRunner().on(
      () => true,
      () => fail('not found', 127),
    );
    const side = await createMediaSide(opts({ firewall: 'auto' }), deps(runner));
    assert.equal(side.network.status().backend, 'none');
    assert.match(side.network.status().reason, /unavailable/);
    const [g] = await side.media.update(request('wan', [stream(0, endpoint('203.0.113.7', 7000))]));
    assert.equal(g?.path, 'relay');
    await side.close();
  });

  it('refuses bad options before touching anything', async () => {
    const runner = new RecordingRunner();
    await assert.rejects(createMediaSide(opts({ wanDevice: 'wan"; drop' }), deps(runner)), (e) =>
      isSipmasqError(e, 'SMQ_ERR_FIREWALL'),
    );
    await assert.rejects(createMediaSide(opts({ wanAddress: 'router.lan' }), deps(runner)), TypeError);
    await assert.rejects(createMediaSide(opts({ sipPort: 0 }), deps(runner)), TypeError);
    assert.equal(runner.calls.length, 0);
  });
});
