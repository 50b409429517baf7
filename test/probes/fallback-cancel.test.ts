/**
 * The all-interface-addresses fallback (issue 10): the first successful
 * connect wins at once; connects still in flight to other addresses are
 * dropped rather than waited for until their timeout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type * as os from 'node:os';
import { probeTcpPort } from '../../src/probes/tcp';
import { LocalAddresses } from '../../src/probes/local-addresses';
import { startStalledListener, type OddListener } from '../helpers/odd-listeners';

const TIMEOUT_MS = 10_000;
let good: net.Server;
let stalled: OddListener;
let port: number;

before(async () => {
  // the same port on two loopback addresses: 127.0.0.2 accepts, 127.0.0.3 drops every SYN
  good = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => good.listen(0, '127.0.0.2', () => r()));
  port = (good.address() as net.AddressInfo).port;
  stalled = await startStalledListener('ohr-fallback', '127.0.0.3', port);
});

after(async () => {
  good?.close();
  await stalled?.stop();
});

test('fallback: the first success returns without waiting for a hung address to time out', async () => {
  const iface = (address: string): os.NetworkInterfaceInfo =>
    ({ address, netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: `${address}/8` }) as os.NetworkInterfaceInfo;
  // the hung address comes first, so it is in flight when the good one answers
  const local = new LocalAddresses({ a: [iface('127.0.0.3')], b: [iface('127.0.0.2')] });
  const started = Date.now();
  // bound to nothing specific: 127.0.0.1, 0.0.0.0, ::1 and :: refuse, then the interface addresses run in parallel
  const r = await probeTcpPort(port, [], undefined, local, TIMEOUT_MS, 8);
  const took = Date.now() - started;
  assert.equal(r.ok, true);
  assert.equal(r.address, '127.0.0.2');
  // generous: well below the timeout the hung connect would have run to
  assert.ok(took < TIMEOUT_MS / 2, `took ${took} ms`);
});
