/**
 * A real process that listens, for tests. Run as
 *   node dist/test/helpers/listener-child.js <mode> <host> <port> <title>
 * modes: http (answers HTTP; SIGUSR1 makes it hang: accept, never answer),
 * banner (non-HTTP: writes a line and closes), hung (accepts, never answers),
 * udp (binds a UDP socket), many:<n> (n TCP listeners on consecutive ports
 * starting at <port>, or random ports when <port> is 0).
 * Options after <title>: --udp also binds a UDP socket on <host> (its port is
 * reported last), --busy-ms=<n> burns n ms of CPU every 100 ms (so the
 * process' CPU counters move).
 * Prints "ready <port>[,<port>...]" on stdout once listening; sets
 * process.title so its comm (process_name) is <title>.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as dgram from 'node:dgram';

const [mode = 'http', host = '127.0.0.1', portArg = '0', title = 'ohr-child', ...options] = process.argv.slice(2);
process.title = title;
const port = Number(portArg);
const keep: unknown[] = [];
const alsoUdp = options.includes('--udp');
const busyMs = Number(options.find((o) => o.startsWith('--busy-ms='))?.slice('--busy-ms='.length) ?? 0);

async function bindUdp(p: number): Promise<number> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => sock.bind(p, host, () => resolve()));
  keep.push(sock);
  return sock.address().port;
}

async function ready(ports: number[]): Promise<void> {
  if (alsoUdp) ports.push(await bindUdp(0));
  if (busyMs > 0) {
    setInterval(() => {
      const t = Date.now();
      while (Date.now() - t < busyMs) {
        // burn CPU
      }
    }, 100);
  }
  process.stdout.write(`ready ${ports.join(',')}\n`);
}

async function listenTcp(server: net.Server, p: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: p }, () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

async function main(): Promise<void> {
  if (mode === 'http') {
    let hung = false;
    const server = http.createServer((req, res) => {
      if (hung) return; // keep the socket, never answer
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : 'ok\n');
    });
    process.on('SIGUSR1', () => {
      hung = true;
    });
    await ready([await listenTcp(server, port)]);
  } else if (mode === 'banner') {
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      s.end('SSH-2.0-notreally\r\n');
    });
    await ready([await listenTcp(server, port)]);
  } else if (mode === 'hung') {
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      keep.push(s);
    });
    await ready([await listenTcp(server, port)]);
  } else if (mode === 'udp') {
    await ready([await bindUdp(port)]);
  } else if (mode.startsWith('many:')) {
    const n = Number(mode.slice(5));
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const server = net.createServer((s) => {
        s.on('error', () => undefined);
        s.destroy();
      });
      keep.push(server);
      ports.push(await listenTcp(server, port === 0 ? 0 : port + i));
    }
    await ready(ports);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
