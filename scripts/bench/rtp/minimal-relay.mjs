// The baseline of the benchmark: the smallest Node relay that could carry these streams. Per stream one
// socket on the LAN address (the phone sends to it) and one on the WAN address (the far side sends to
// it); each forwards every datagram on 'message' to the fixed endpoint of the other side. No latching,
// no counters, no checks, no connect(): what a first "dgram relay" looks like.
//
// argv[2]: ForwarderConfig as JSON (see protocol.ts; portBase: first local port). Same line protocol
// as sipmasq-forwarder.ts.
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const sockets = [];
const routes = [];

function bind(address, port) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(port, address, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

async function makeStream(i) {
  const port = cfg.portBase + 2 * i;
  const lan = await bind(cfg.lanAddress, port);
  const wan = await bind(cfg.wanAddress, port);
  const phonePort = cfg.phoneBase + 2 * i;
  const farPort = cfg.farBase + 2 * i;
  lan.on('message', (msg) => wan.send(msg, farPort, cfg.farAddress));
  wan.on('message', (msg) => lan.send(msg, phonePort, cfg.phoneAddress));
  sockets.push(lan, wan);
  return { i, phoneDst: [cfg.lanAddress, port], farDst: [cfg.wanAddress, port], path: 'minimal' };
}

function reply(r) {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

function shutdown() {
  for (const s of sockets) s.close();
  process.exit(0);
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
const lines = createInterface({ input: process.stdin });
lines.on('close', shutdown);
lines.on('line', async (line) => {
  const cmd = JSON.parse(line);
  if (cmd.close) return shutdown();
  try {
    while (routes.length < cmd.grow) routes.push(await makeStream(routes.length));
    reply({ routes: routes.slice(0, cmd.grow) });
  } catch (err) {
    reply({ error: String(err) });
  }
});
reply({ routes: [] });
