/** Probes against real loopback servers started in this test process. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { probeHttp } from '../../src/probes/http';
import { candidateAddresses, connectOnce, probeTcpPort } from '../../src/probes/tcp';
import { LocalAddresses } from '../../src/probes/local-addresses';

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
const received: string[] = [];

async function serve(onConn: (s: net.Socket) => void, host = '127.0.0.1'): Promise<number> {
  const srv = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    onConn(s);
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  return (srv.address() as net.AddressInfo).port;
}

let httpPort: number, redirectPort: number, bannerPort: number, hungPort: number, endlessPort: number, v6Port: number;

before(async () => {
  httpPort = await serve((s) =>
    s.once('data', (d: Buffer) => {
      received.push(d.toString('latin1'));
      s.end('HTTP/1.1 204 No Content\r\nServer: t\r\n\r\n');
    }),
  );
  redirectPort = await serve((s) => s.once('data', () => s.end('HTTP/1.0 302 Found\r\nLocation: http://192.0.2.1/\r\n\r\n')));
  bannerPort = await serve((s) => s.end('220 smtp.example ESMTP ready\r\n'));
  hungPort = await serve(() => undefined);
  // a status line, then headers forever: we must not wait for the end of them
  endlessPort = await serve((s) =>
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\n');
      const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write('X-Filler: ' + 'a'.repeat(1000) + '\r\n')), 5);
    }),
  );
  v6Port = await serve((s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\n\r\n')), '::1');
});

after(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});

test('HTTP probe: status line counts as alive; the request is one small HEAD without credentials', async () => {
  assert.deepEqual(await probeHttp('127.0.0.1', httpPort, 1000), { ok: true, status: 204 });
  const req = received[0]!;
  assert.match(req, /^HEAD \/ HTTP\/1\.1\r\n/);
  assert.ok(req.length < 200, `request is ${req.length} bytes`);
  assert.ok(!/authorization|cookie/i.test(req));
  assert.match(req, /\r\nConnection: close\r\n/);
});

test('HTTP probe: a redirect is an answer and is not followed', async () => {
  assert.deepEqual(await probeHttp('127.0.0.1', redirectPort, 1000), { ok: true, status: 302 });
});

test('HTTP probe: non-HTTP, hung and refused services read not alive; an endless header does not hold it', async () => {
  assert.deepEqual(await probeHttp('127.0.0.1', bannerPort, 1000), { ok: false, error: 'not-http' });
  const t0 = Date.now();
  assert.deepEqual(await probeHttp('127.0.0.1', hungPort, 300), { ok: false, error: 'timeout' });
  assert.ok(Date.now() - t0 < 1000);
  const t1 = Date.now();
  assert.deepEqual(await probeHttp('127.0.0.1', endlessPort, 2000), { ok: true, status: 200 });
  assert.ok(Date.now() - t1 < 500, 'returns at the status line');
  const closed = await serve((s) => s.destroy());
  assert.equal((await probeHttp('127.0.0.1', closed, 1000)).ok, false);
});

test('HTTP probe over IPv6 loopback', async () => {
  assert.deepEqual(await probeHttp('::1', v6Port, 1000), { ok: true, status: 200 });
});

test('TCP connect: success with a connect time, refusal, and a hung accept still connects', async () => {
  const ok = await connectOnce('127.0.0.1', hungPort, 1000);
  assert.equal(ok.ok, true);
  assert.ok(ok.seconds > 0 && ok.seconds < 1);
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const freePort = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  assert.deepEqual((await connectOnce('127.0.0.1', freePort, 1000)).error, 'refused');
});

test('address order: last good address, bound specific address, then 127.0.0.1, 0.0.0.0, ::1, ::; never a foreign address', () => {
  const local = new LocalAddresses({ eth0: [{ address: '10.1.2.3', family: 'IPv4', internal: false, netmask: '255.0.0.0', mac: '00:00:00:00:00:00', cidr: '10.1.2.3/8' }] });
  assert.deepEqual(candidateAddresses(['0.0.0.0'], undefined, local), ['127.0.0.1', '0.0.0.0', '::1', '::']);
  assert.deepEqual(candidateAddresses(['10.1.2.3'], undefined, local), ['10.1.2.3', '127.0.0.1', '0.0.0.0', '::1', '::']);
  assert.deepEqual(candidateAddresses(['::'], undefined, local), ['::1', '127.0.0.1', '0.0.0.0', '::']);
  assert.deepEqual(candidateAddresses(['127.0.0.1'], '127.0.0.1', local), ['127.0.0.1', '0.0.0.0', '::1', '::']);
  // an address /proc claims but this host does not have (a fixture, another netns) is never tried
  assert.deepEqual(candidateAddresses(['192.0.2.7'], '198.51.100.1', local), ['127.0.0.1', '0.0.0.0', '::1', '::']);
  assert.equal(local.isLocal('8.8.8.8'), false);
  assert.equal(local.isLocal('127.0.0.53'), true);
  assert.equal(local.isLocal('::ffff:10.1.2.3'), true);
});

test('TCP probe finds a port bound only to IPv6 loopback', async () => {
  const r = await probeTcpPort(v6Port, ['::1'], undefined, new LocalAddresses({}), 1000, 8);
  assert.equal(r.ok, true);
  assert.equal(r.address, '::1');
});
