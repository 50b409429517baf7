/** Ports for tests: never a fixed number, always one the kernel handed out. */
import * as net from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, closed).
 * Only for a program that must be told its port on the command line and binds it right away;
 * a test that can bind its own socket keeps that socket instead.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
