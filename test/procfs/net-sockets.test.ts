import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAddress, parseSocketLine, parseSocketTable } from '../../src/procfs/net-sockets';

test('decodeAddress reads the kernel byte order', () => {
  const cases: Array<[string, string | undefined]> = [
    ['0100007F', '127.0.0.1'],
    ['00000000', '0.0.0.0'],
    ['0101A8C0', '192.168.1.1'],
    ['00000000000000000000000001000000', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['0000000000000000FFFF00000100007F', '::ffff:127.0.0.1'],
    ['B80D0120000000000000000001000000', '2001:db8::1'],
    ['0100007', undefined], // truncated
    ['ZZ00007F', undefined],
  ];
  for (const [hex, want] of cases) assert.equal(decodeAddress(hex), want, hex);
});

test('parseSocketLine parses a LISTEN tcp line and a bound udp6 line', () => {
  const tcp = parseSocketLine('tcp', '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41235 1 0000000000000000 100 0 0 10 0');
  assert.deepEqual(tcp, {
    protocol: 'tcp', localAddress: '127.0.0.1', localPort: 8080, remoteAddress: '0.0.0.0', remotePort: 0, state: 10, uid: 1000, inode: 41235,
  });
  const udp6 = parseSocketLine('udp6', '  12: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 777 2 0000000000000000 0');
  assert.equal(udp6?.localAddress, '::');
  assert.equal(udp6?.localPort, 53);
  assert.equal(udp6?.state, 7);
  assert.equal(udp6?.inode, 777);
});

test('parseSocketTable skips the header and malformed or truncated lines', () => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41235 1 0',
    '   1: 0100007F:1F9', // truncated mid-line
    'garbage',
    '   2: XXXXXXXX:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0',
    '',
  ].join('\n');
  const rows = parseSocketTable('tcp', text);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.localPort, 8080);
});

test("the 'listening' fast path selects exactly what a full parse and filter selects", () => {
  const hdr = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
  const v4 = (st: string, remote: string, inode: number): string =>
    `${String(inode).padStart(4)}: 0100007F:1F90 ${remote} ${st} 00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0`;
  const z6 = '00000000000000000000000000000000';
  const v6 = (st: string, remotePort: string, inode: number): string =>
    `${String(inode).padStart(4)}: ${z6}:0050 ${z6}:${remotePort} ${st} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0`;
  const tcp = [hdr, v4('0A', '00000000:0000', 1), v4('01', '0100007F:C350', 2), v4('06', '0100007F:C351', 3), v4('0a', '00000000:0000', 4)].join('\n');
  const tcp6 = [hdr, v6('0A', '0000', 5), v6('01', '1234', 6)].join('\n');
  const udp = [hdr, v4('07', '00000000:0000', 7), v4('01', '08080808:0035', 8)].join('\n');
  const udp6 = [hdr, v6('07', '0000', 9), v6('01', '0035', 10)].join('\n');
  const cases: Array<[Parameters<typeof parseSocketTable>[0], string, (s: { state: number; remotePort: number }) => boolean]> = [
    ['tcp', tcp, (s) => s.state === 10],
    ['tcp6', tcp6, (s) => s.state === 10],
    ['udp', udp, (s) => s.remotePort === 0],
    ['udp6', udp6, (s) => s.remotePort === 0],
  ];
  for (const [proto, text, rule] of cases) {
    const fast = parseSocketTable(proto, text, 'listening').map((s) => s.inode);
    const slow = parseSocketTable(proto, text).filter(rule).map((s) => s.inode);
    assert.deepEqual(fast, slow, proto);
    assert.ok(fast.length > 0, proto);
  }
});
