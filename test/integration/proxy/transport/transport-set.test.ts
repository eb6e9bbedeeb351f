/**
 * TransportSet over a real UdpTransport and TcpTransport on 127.0.0.1 (random ports): one handler for
 * both, TCP on the LAN when asked, UDP as the fallback and for the WAN.
 */
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { afterEach, describe, it } from 'node:test';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { nodeSocketFactory, type SocketFactory } from '../../../../common/socket-factory.ts';
import type { SipPacket } from '../../../../proxy/transport/sip-transport.ts';
import { TransportSet } from '../../../../proxy/transport/sip-transport.ts';
import { TcpTransport } from '../../../../proxy/transport/tcp-transport.ts';
import { UdpTransport } from '../../../../proxy/transport/udp-transport.ts';
import { UdpPeer } from '../../../helpers/udp-peer.ts';
import { eventually, TcpPeer } from './tcp-peer.ts';

const LAN = '127.0.0.1';
const OPTIONS =
  'OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-o\r\nFrom: <sip:a@x>;tag=1\r\n' +
  'To: <sip:b@x>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';

/** A UdpTransport on 127.0.0.1, random port, no intercept socket. */
function udpTransport(sockets: SocketFactory, logger: Logger): UdpTransport {
  // Built apart from the call: the options grow while transparent mode is being added (interceptPort).
  const opts = {
    lanAddress: LAN,
    wanAddress: LAN,
    port: 0,
    interceptPort: null,
    isLanSource: () => true,
    sockets,
    logger,
  };
  return new UdpTransport(opts);
}

describe('TransportSet on loopback', () => {
  const open: Array<{ close(): unknown }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  async function start(withTcp = true) {
    const sink = new MemorySink();
    const log = Logger.root('debug', sink);
    const udpSockets: dgram.Socket[] = [];
    const sockets: SocketFactory = {
      udp: (family) => {
        const s = nodeSocketFactory.udp(family);
        udpSockets.push(s);
        return s;
      },
    };
    const udp = udpTransport(sockets, log.child('udp'));
    const tcp = withTcp
      ? new TcpTransport({ address: LAN, port: 0, isLanSource: () => true, logger: log.child('tcp') })
      : null;
    const set = new TransportSet(udp, tcp, log.child('transport'));
    open.push(set);
    const received: SipPacket[] = [];
    set.onMessage((p) => received.push(p));
    await set.listen();
    return {
      set,
      sink,
      received,
      udpPort: udpSockets[0]!.address().port,
      tcpPort: tcp?.address()?.port ?? 0,
    };
  }

  it('delivers UDP datagrams and TCP messages to one handler, tagged with their transport', async () => {
    const { received, udpPort, tcpPort } = await start();
    const u = await UdpPeer.bind(LAN);
    open.push(u);
    const p = await TcpPeer.connect(tcpPort);
    open.push(p);
    u.send(OPTIONS, LAN, udpPort);
    await eventually(() => received.length === 1, 'udp datagram');
    p.send(OPTIONS);
    await eventually(() => received.length === 2, 'tcp message');
    assert.deepEqual(
      received.map((r) => [r.transport, r.side, r.port]),
      [
        ['udp', 'lan', u.port],
        ['tcp', 'lan', p.localPort],
      ],
    );
  });

  it('sends on the TCP connection when asked for tcp on the LAN side', async () => {
    const { set, received, tcpPort } = await start();
    const p = await TcpPeer.connect(tcpPort);
    open.push(p);
    p.send(OPTIONS);
    await eventually(() => received.length === 1, 'tcp message');
    const r = received[0]!;
    assert.equal(set.hasFlow(r.address, r.port), true);
    assert.equal(set.send('lan', Buffer.from('SIP/2.0 200 OK\r\n\r\n'), r.address, r.port, 'tcp'), true);
    await p.receive('SIP/2.0 200 OK');
    assert.equal(set.tcpStatus()?.count, 1);
  });

  it('falls back to UDP (and logs it) when no TCP connection exists', async () => {
    const { set, sink } = await start();
    const u = await UdpPeer.bind(LAN);
    open.push(u);
    assert.equal(set.hasFlow(LAN, u.port), false);
    assert.equal(set.send('lan', Buffer.from('ping-1'), LAN, u.port, 'tcp'), false);
    assert.equal((await u.next()).text, 'ping-1');
    assert.equal(set.fallbacks, 1);
    assert.ok(sink.lines.some((l) => l.includes('sent over UDP instead of TCP')));
  });

  it('uses UDP for the WAN side, and by default', async () => {
    const { set } = await start();
    const u = await UdpPeer.bind(LAN);
    open.push(u);
    set.send('wan', Buffer.from('to-wan'), LAN, u.port, 'tcp');
    assert.equal((await u.next()).text, 'to-wan');
    assert.equal(set.send('lan', Buffer.from('plain'), LAN, u.port), true);
    assert.equal((await u.next()).text, 'plain');
  });

  it('works without TCP: tcp sends go over UDP, no status', async () => {
    const { set } = await start(false);
    const u = await UdpPeer.bind(LAN);
    open.push(u);
    set.send('lan', Buffer.from('udp-only'), LAN, u.port, 'tcp');
    assert.equal((await u.next()).text, 'udp-only');
    assert.equal(set.tcpStatus(), null);
  });

  it('close() closes both transports and is idempotent', async () => {
    const { set, tcpPort } = await start();
    const p = await TcpPeer.connect(tcpPort);
    open.push(p);
    await Promise.all([set.close(), set.close()]);
    await p.waitClosed();
    assert.equal(set.send('lan', Buffer.from('x'), LAN, 1, 'udp'), false);
  });

  it('closes UDP again when TCP cannot listen', async () => {
    const { tcpPort } = await start();
    const log = Logger.root('error', new MemorySink());
    const udpSockets: dgram.Socket[] = [];
    const sockets: SocketFactory = {
      udp: (f) => {
        const s = nodeSocketFactory.udp(f);
        udpSockets.push(s);
        return s;
      },
    };
    const udp = udpTransport(sockets, log);
    const tcp = new TcpTransport({ address: LAN, port: tcpPort, isLanSource: () => true, logger: log });
    const set = new TransportSet(udp, tcp, log);
    open.push(set);
    await assert.rejects(set.listen(), (err: Error & { code?: string }) => err.code === 'SMQ_ERR_BIND');
    assert.throws(() => udpSockets[0]!.address(), /ERR_SOCKET_DGRAM_NOT_RUNNING|Not running/);
  });
});
