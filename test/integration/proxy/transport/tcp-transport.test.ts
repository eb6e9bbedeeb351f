/**
 * TcpTransport with real TCP on 127.0.0.1 (random ports). 127.0.0.2 plays a non-LAN source.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { parseMessage } from '../../../../proxy/sip/parse.ts';
import {
  type TcpMessage,
  TcpTransport,
  type TcpTransportOptions,
} from '../../../../proxy/transport/tcp-transport.ts';
import { delay, eventually, TcpPeer } from './tcp-peer.ts';

const LAN = '127.0.0.1';
const OUTSIDER = '127.0.0.2';

function register(port: number, body = ''): string {
  return [
    'REGISTER sip:example.com SIP/2.0',
    `Via: SIP/2.0/TCP 192.168.1.10:${port};branch=z9hG4bK-reg-1;rport`,
    'Max-Forwards: 70',
    'To: <sip:100@example.com>',
    'From: <sip:100@example.com>;tag=abc',
    'Call-ID: reg-1@192.168.1.10',
    'CSeq: 1 REGISTER',
    'Contact: <sip:100@192.168.1.10;transport=tcp>;reg-id=1;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

const OK = 'SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK-reg-1\r\nContent-Length: 0\r\n\r\n';

describe('TcpTransport on loopback', () => {
  const open: Array<{ close(): unknown }> = [];
  let sink: MemorySink;

  async function start(opts: Partial<TcpTransportOptions> = {}) {
    sink = new MemorySink();
    const t = new TcpTransport({
      address: LAN,
      port: 0,
      isLanSource: (a) => a === LAN,
      logger: Logger.root('debug', sink).child('tcp'),
      ...opts,
    });
    open.push(t);
    const received: TcpMessage[] = [];
    t.onMessage((m) => received.push(m));
    await t.listen();
    return { t, received, port: t.address()!.port };
  }

  async function phone(port: number, localAddress?: string): Promise<TcpPeer> {
    const p = await TcpPeer.connect(port, LAN, localAddress);
    open.push(p);
    return p;
  }

  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  it('emits a REGISTER with the connection remote address and port, and answers on the same connection', async () => {
    const { t, received, port } = await start();
    const p = await phone(port);
    p.send(register(p.localPort));
    await eventually(() => received.length === 1, 'REGISTER delivered');
    const m = received[0]!;
    assert.equal(m.side, 'lan');
    assert.equal(m.transport, 'tcp');
    assert.equal(m.address, LAN);
    assert.equal(m.port, p.localPort);
    assert.equal(m.data.toString(), register(p.localPort));
    assert.ok(parseMessage(m.data).ok);
    assert.equal(t.has(m.address, m.port), true);
    assert.equal(t.send(Buffer.from(OK), m.address, m.port), true);
    await p.receive('SIP/2.0 200 OK');
    assert.equal(p.text, OK);
  });

  it('frames messages written in pieces and several in one write', async () => {
    const { received, port } = await start();
    const p = await phone(port);
    const msg = register(p.localPort, 'body');
    p.send(msg.slice(0, 10));
    await delay(20);
    p.send(msg.slice(10, msg.length - 2));
    await delay(20);
    p.send(msg.slice(msg.length - 2) + msg + msg);
    await eventually(() => received.length === 3, 'three messages');
    for (const m of received) assert.equal(m.data.toString(), msg);
  });

  it('answers a CRLF ping with a CRLF pong (RFC 5626)', async () => {
    const { t, port } = await start();
    const p = await phone(port);
    p.send('\r\n\r\n');
    await p.receive('\r\n');
    assert.equal(p.text, '\r\n');
    assert.equal(t.connections().list[0]?.pings, 1);
  });

  it('refuses connections from a non-LAN source', async () => {
    const { t, received, port } = await start();
    const p = await phone(port, OUTSIDER);
    p.send(register(p.localPort));
    await p.waitClosed();
    assert.equal(received.length, 0);
    assert.equal(t.connections().count, 0);
    assert.equal(t.counters.refusedNotLan, 1);
    assert.ok(sink.lines.some((l) => l.includes('non-LAN source refused') && l.includes(OUTSIDER)));
  });

  it('limits connections per source address', async () => {
    const { t, received, port } = await start({ maxConnectionsPerSource: 2 });
    const a = await phone(port);
    const b = await phone(port);
    await eventually(() => t.connections().count === 2, 'two accepted');
    const c = await phone(port);
    await c.waitClosed();
    assert.equal(t.counters.refusedLimit, 1);
    assert.deepEqual(t.connections().perSource, { [LAN]: 2 });
    a.send(register(a.localPort));
    b.send(register(b.localPort));
    await eventually(() => received.length === 2, 'both still served');
    a.close();
    await eventually(() => t.connections().count === 1, 'closed one forgotten');
    const d = await phone(port);
    d.send('\r\n\r\n');
    await d.receive('\r\n');
    assert.deepEqual(t.connections().perSource, { [LAN]: 2 });
  });

  it('limits connections in total', async () => {
    const { t, port } = await start({ maxConnections: 1 });
    await phone(port);
    await eventually(() => t.connections().count === 1, 'one accepted');
    const second = await phone(port);
    await second.waitClosed();
    assert.equal(t.counters.refusedLimit, 1);
  });

  it('closes a connection idle for the timeout; keep-alives keep it open', async () => {
    const { t, port } = await start({ idleTimeoutMs: 500 });
    const quiet = await phone(port);
    const chatty = await phone(port);
    for (let i = 0; i < 8; i++) {
      chatty.send('\r\n\r\n');
      await delay(100);
    }
    await quiet.waitClosed(2000);
    assert.equal(chatty.closed, false, 'pinged connection stays open');
    await chatty.waitClosed(2000);
    await eventually(() => t.connections().count === 0, 'table empty');
    assert.equal(t.counters.closedIdle, 2);
  });

  it('send to an unknown address:port returns false', async () => {
    const { t, port } = await start();
    const p = await phone(port);
    await eventually(() => t.connections().count === 1, 'accepted');
    assert.equal(t.send(Buffer.from(OK), LAN, p.localPort + 1), false);
    assert.equal(t.send(Buffer.from(OK), '192.0.2.1', p.localPort), false);
    p.close();
    await eventually(() => t.connections().count === 0, 'forgotten');
    assert.equal(t.send(Buffer.from(OK), LAN, p.localPort), false);
  });

  it('answers a request without Content-Length with 400 and closes the connection', async () => {
    const { t, received, port } = await start();
    const p = await phone(port);
    p.send(register(p.localPort).replace(/Content-Length: 0\r\n/, ''));
    await p.receive('SIP/2.0 400 ');
    await p.waitClosed();
    assert.match(p.text, /^SIP\/2.0 400 missing Content-Length/);
    assert.match(p.text, /Call-ID: reg-1@192.168.1.10/);
    assert.equal(received.length, 0);
    await eventually(() => t.counters.framingErrors === 1, 'counted');
  });

  it('closes on junk without a head end once past the size limit, without an answer', async () => {
    const { t, port } = await start({ maxMessageSize: 2000 });
    const p = await phone(port);
    p.send(Buffer.alloc(5000, 'x'));
    await p.waitClosed();
    assert.equal(p.text, '');
    await eventually(() => t.counters.framingErrors === 1, 'counted');
  });

  it('drops a peer that does not read instead of queueing without limit', async () => {
    const { t, port } = await start({ maxWriteBuffer: 65536 });
    const p = await phone(port);
    p.socket.pause();
    await eventually(() => t.connections().count === 1, 'accepted');
    const chunk = Buffer.alloc(32768, 'a');
    let writes = 0;
    while (t.send(chunk, LAN, p.localPort) && writes < 4000) writes++;
    assert.ok(writes < 4000, 'send refused once the queue is full');
    assert.equal(t.has(LAN, p.localPort), false);
    await eventually(() => t.connections().count === 0, 'dropped');
  });

  it('listens on the intercept port too, tagging its messages as intercepted', async () => {
    const probe = await start();
    const free = probe.port;
    await probe.t.close();
    const { t, received, port } = await start({ interceptPort: free });
    assert.equal(t.address(true)?.port, free);
    const direct = await phone(port);
    const redirected = await phone(free);
    direct.send(register(direct.localPort));
    await eventually(() => received.length === 1, 'direct message');
    redirected.send(register(redirected.localPort));
    await eventually(() => received.length === 2, 'intercepted message');
    assert.equal(received[0]!.intercepted, undefined);
    assert.equal(received[1]!.intercepted, true);
    assert.equal(received[1]!.port, redirected.localPort);
    assert.deepEqual(
      t.connections().list.map((c) => c.intercepted),
      [false, true],
    );
    assert.equal(t.send(Buffer.from(OK), LAN, redirected.localPort), true);
    await redirected.receive('SIP/2.0 200 OK');
  });

  it('closes the SIP listener again when the intercept port cannot be bound', async () => {
    const { port: busy } = await start();
    const t = new TcpTransport({
      address: LAN,
      port: 0,
      interceptPort: busy,
      isLanSource: () => true,
      logger: Logger.root('error', new MemorySink()),
    });
    open.push(t);
    await assert.rejects(t.listen(), (err: Error & { code?: string }) => err.code === 'SMQ_ERR_BIND');
    assert.equal(t.address(), null);
  });

  it('close() closes every connection and the listener, and is idempotent', async () => {
    const { t, port } = await start();
    const a = await phone(port);
    const b = await phone(port);
    await eventually(() => t.connections().count === 2, 'accepted');
    await Promise.all([t.close(), t.close()]);
    await a.waitClosed();
    await b.waitClosed();
    assert.equal(t.connections().count, 0);
    await assert.rejects(TcpPeer.connect(port), /ECONNREFUSED/);
    await assert.rejects(t.listen(), TypeError);
  });

  it('fails to listen on a port in use with SMQ_ERR_BIND', async () => {
    const { port } = await start();
    const second = new TcpTransport({
      address: LAN,
      port,
      isLanSource: () => true,
      logger: Logger.root('error', new MemorySink()),
    });
    open.push(second);
    await assert.rejects(second.listen(), (err: Error & { code?: string }) => err.code === 'SMQ_ERR_BIND');
  });
});
