import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Logger, MemorySink } from '../../../../common/logger.ts';
import { type TcpPart, TransportSet, type UdpPart } from '../../../../proxy/transport/sip-transport.ts';
import type { TcpStatus } from '../../../../proxy/transport/tcp-transport.ts';
import type { Side } from '../../../../rtpproxy/control.ts';

type Sent = [Side, string, string, number, boolean | undefined];

function fakes(flows: string[]) {
  const udpSent: Sent[] = [];
  const tcpSent: string[] = [];
  const udp: UdpPart = {
    onDatagram: () => {},
    listen: async () => {},
    send: (side, data, address, port, intercepted) =>
      void udpSent.push([side, data.toString(), address, port, intercepted]),
    close: async () => {},
  };
  const tcp: TcpPart = {
    onMessage: () => {},
    listen: async () => {},
    has: (a, p) => flows.includes(`${a}:${p}`),
    send: (data, a, p) => flows.includes(`${a}:${p}`) && tcpSent.push(data.toString()) > 0,
    connections: () => ({ count: flows.length }) as TcpStatus,
    close: async () => {},
  };
  const set = new TransportSet(udp, tcp, Logger.root('error', new MemorySink()));
  return { set, udpSent, tcpSent };
}

describe('TransportSet.send', () => {
  it('goes on the TCP flow when there is one, without touching UDP', () => {
    const { set, udpSent, tcpSent } = fakes(['192.168.1.10:40000']);
    assert.equal(set.send('lan', Buffer.from('a'), '192.168.1.10', 40000, 'tcp', true), true);
    assert.deepEqual(tcpSent, ['a']);
    assert.deepEqual(udpSent, []);
  });

  it('falls back to UDP out of the intercept socket when asked, counting the fallback', () => {
    const { set, udpSent } = fakes([]);
    assert.equal(set.send('lan', Buffer.from('b'), '192.168.1.10', 5060, 'tcp', true), false);
    assert.deepEqual(udpSent, [['lan', 'b', '192.168.1.10', 5060, true]]);
    assert.equal(set.fallbacks, 1);
  });

  it('sends the WAN side over UDP even when TCP is asked for', () => {
    const { set, udpSent, tcpSent } = fakes(['203.0.113.5:5060']);
    set.send('wan', Buffer.from('c'), '203.0.113.5', 5060, 'tcp');
    assert.deepEqual(tcpSent, []);
    assert.deepEqual(udpSent, [['wan', 'c', '203.0.113.5', 5060, undefined]]);
  });

  it('sends UDP by default, from the ordinary socket unless intercepted', () => {
    const { set, udpSent } = fakes([]);
    assert.equal(set.send('lan', Buffer.from('d'), '192.168.1.10', 5060), true);
    set.send('lan', Buffer.from('e'), '192.168.1.10', 5060, 'udp', true);
    assert.deepEqual(udpSent, [
      ['lan', 'd', '192.168.1.10', 5060, undefined],
      ['lan', 'e', '192.168.1.10', 5060, true],
    ]);
  });

  it('reports flows and sends nothing once closed', async () => {
    const { set, udpSent } = fakes(['192.168.1.10:40000']);
    assert.equal(set.hasFlow('192.168.1.10', 40000), true);
    assert.equal(set.hasFlow('192.168.1.10', 40001), false);
    assert.equal(set.tcpStatus()?.count, 1);
    await set.close();
    assert.equal(set.send('lan', Buffer.from('f'), '192.168.1.10', 5060), false);
    assert.deepEqual(udpSent, []);
  });
});
