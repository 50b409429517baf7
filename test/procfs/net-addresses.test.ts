/** fib_trie / if_inet6 / route parsers, and the probe-target rule built on them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFibTrieLocal, parseIfInet6, parseRoute } from '../../src/procfs/net-addresses';
import { directlyRoutable, namespaceTargets } from '../../src/probes/netns-targets';
import { LocalAddresses } from '../../src/probes/local-addresses';

// a namespace with lo and a veth at 198.18.7.2/30, as the kernel prints it (Main and Local repeat the leaves)
const FIB_TRIE = `Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 198.18.7.0/30 2 0 2
        |-- 198.18.7.0
           /30 link UNICAST
        |-- 198.18.7.2
           /32 host LOCAL
        |-- 198.18.7.3
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 198.18.7.0/30 2 0 2
        |-- 198.18.7.2
           /32 host LOCAL
`;

test('fib_trie: the /32 host LOCAL leaves, once each; the 127.0.0.0/8 prefix and broadcasts are not addresses', () => {
  assert.deepEqual(parseFibTrieLocal(FIB_TRIE), ['127.0.0.1', '198.18.7.2']);
  assert.deepEqual(parseFibTrieLocal(''), []);
});

test('if_inet6: network-order bytes, hex ifindex, prefix and scope', () => {
  const text = '00000000000000000000000000000001 01 80 10 80       lo\nfe8000000000000008a527fffe86860f 05 40 20 80 ohr-va-n\ngarbage\n';
  assert.deepEqual(parseIfInet6(text), [
    { address: '::1', ifindex: 1, prefixLength: 128, scope: 0x10, ifname: 'lo' },
    { address: 'fe80::8a5:27ff:fe86:860f', ifindex: 5, prefixLength: 64, scope: 0x20, ifname: 'ohr-va-n' },
  ]);
});

const ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
ohr-h\t000712C6\t00000000\t0001\t0\t0\t0\tFCFFFFFF\t0\t0\t0
`;

test('route: little-endian words, mask to prefix length', () => {
  assert.deepEqual(parseRoute(ROUTE), [
    { iface: 'eth0', destination: '0.0.0.0', gateway: '192.0.2.1', prefixLength: 0, flags: 3 },
    { iface: 'eth0', destination: '192.0.2.0', gateway: '0.0.0.0', prefixLength: 24, flags: 1 },
    { iface: 'ohr-h', destination: '198.18.7.0', gateway: '0.0.0.0', prefixLength: 30, flags: 1 },
  ]);
});

test('only a connected route makes a namespace address a probe target, never the default route', () => {
  const routes = parseRoute(ROUTE);
  const rows: Array<[string, boolean, string]> = [
    ['198.18.7.2', true, 'on the veth /30'],
    ['192.0.2.9', true, 'on the LAN /24'],
    ['198.18.9.2', false, 'only the default route carries it: an isolated namespace reusing a range'],
  ];
  for (const [a, want, why] of rows) assert.equal(directlyRoutable(a, routes), want, `${a}: ${why}`);
});

test('targets: wildcard -> the namespace addresses; loopback-only -> none; a host address is never a target', () => {
  const routes = parseRoute(ROUTE);
  const host = new LocalAddresses({ eth0: [{ address: '192.0.2.2', family: 'IPv4', internal: false, netmask: '', mac: '', cidr: null }] });
  const own = ['127.0.0.1', '198.18.7.2'];
  assert.deepEqual(namespaceTargets(['0.0.0.0'], own, routes, host), ['198.18.7.2']);
  assert.deepEqual(namespaceTargets(['::'], own, routes, host), ['198.18.7.2']);
  assert.deepEqual(namespaceTargets(['198.18.7.2'], own, routes, host), ['198.18.7.2']);
  assert.deepEqual(namespaceTargets(['127.0.0.1'], own, routes, host), []);
  assert.deepEqual(namespaceTargets(['0.0.0.0'], ['127.0.0.1'], routes, host), [], 'isolated namespace: only loopback');
  assert.deepEqual(namespaceTargets(['0.0.0.0'], ['127.0.0.1', '192.0.2.2'], routes, host), [], 'same address as the host: would reach the host');
});
