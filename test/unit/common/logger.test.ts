import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLogLevel, Logger, MemorySink } from '../../../common/logger.ts';

describe('Logger', () => {
  it('writes `level name: message [key:value ...]` lines', () => {
    const sink = new MemorySink();
    const log = Logger.root('debug', sink);
    log.info('call ended', { call: 'abc@host', reason: 'bye', n: 3, ok: true, none: null });
    assert.deepEqual(sink.lines, [
      'info sipmasq: call ended [call:abc@host reason:bye n:3 ok:true none:null]',
    ]);
  });

  it('leaves out the brackets without fields, and fields whose value is undefined', () => {
    const sink = new MemorySink();
    const log = Logger.root('debug', sink);
    log.warn('plain');
    log.warn('empty', {});
    log.warn('skip', { a: undefined });
    log.warn('some', { a: undefined, b: 1 });
    assert.deepEqual(sink.lines, [
      'warn sipmasq: plain',
      'warn sipmasq: empty',
      'warn sipmasq: skip',
      'warn sipmasq: some [b:1]',
    ]);
  });

  it('quotes values holding whitespace or a closing bracket so the line stays readable', () => {
    const sink = new MemorySink();
    Logger.root('debug', sink).error('x', { error: 'two words', br: 'a]b', plain: 'a[b' });
    assert.equal(sink.lines[0], 'error sipmasq: x [error:"two words" br:"a]b" plain:a[b]');
  });

  it('names children after their parent and shares the level and sink', () => {
    const sink = new MemorySink();
    const root = Logger.root('info', sink);
    const child = root.child('core').child('register');
    assert.equal(child.name, 'sipmasq:core:register');
    child.debug('hidden');
    child.info('shown');
    root.setLevel('debug');
    child.debug('now shown');
    assert.deepEqual(sink.lines, [
      'info sipmasq:core:register: shown',
      'debug sipmasq:core:register: now shown',
    ]);
  });

  it('filters by level: only messages at or above the set level are written', () => {
    const cases = [
      ['debug', ['debug', 'info', 'warn', 'error']],
      ['info', ['info', 'warn', 'error']],
      ['warn', ['warn', 'error']],
      ['error', ['error']],
    ] as const;
    for (const [level, shown] of cases) {
      const sink = new MemorySink();
      const log = Logger.root(level, sink);
      log.debug('m');
      log.info('m');
      log.warn('m');
      log.error('m');
      assert.deepEqual(
        sink.lines.map((l) => l.split(' ')[0]),
        [...shown],
        `level ${level}`,
      );
      for (const l of ['debug', 'info', 'warn', 'error'] as const)
        assert.equal(log.enabled(l), (shown as readonly string[]).includes(l));
    }
  });

  it('recognises the four level names and nothing else', () => {
    for (const l of ['debug', 'info', 'warn', 'error']) assert.ok(isLogLevel(l));
    for (const l of ['trace', 'INFO', '', 10, null, 'toString', 'constructor'])
      assert.ok(!isLogLevel(l), String(l));
  });
});
