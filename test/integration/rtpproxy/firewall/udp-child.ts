/**
 * UDP sockets inside a test namespace. argv[2]: JSON [{ address, port }]. Prints `ready`, then one
 * `recv` line per datagram; stdin: `send <socket index> <host> <port> <text>`.
 */
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';

const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const specs = JSON.parse(process.argv[2] ?? '[]') as { address: string; port: number }[];
const sockets = await Promise.all(
  specs.map(
    (s, i) =>
      new Promise<dgram.Socket>((resolve, reject) => {
        const sock = dgram.createSocket('udp4');
        sock.once('error', reject);
        sock.on('message', (msg, r) =>
          say({ event: 'recv', sock: i, from: r.address, port: r.port, text: msg.toString() }),
        );
        sock.bind(s.port, s.address, () => resolve(sock));
      }),
  ),
);
say({ event: 'ready' });
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, idx, host, port, text] = line.trim().split(' ');
  if (cmd === 'send') sockets[Number(idx)]?.send(text ?? '', Number(port), host ?? '');
  if (cmd === 'exit') process.exit(0);
}
