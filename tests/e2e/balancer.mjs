// A TCP load balancer for tests: what HAProxy or nginx in stream mode does in front of
// several nodes. Each new connection goes to the first backend in the balancer's order that
// accepts it (a node that is down is skipped), without stickiness: TLS ends at the node.
import net from 'node:net';

/**
 * Starts a balancer on a free loopback port.
 * @param {() => string[]} backends the nodes' URLs (https://host:port), in order of preference
 * @returns {Promise<{url: string, close: () => Promise<void>}>}
 */
export async function startBalancer(backends) {
  /** @type {Set<net.Socket>} */
  const open = new Set();
  const track = (/** @type {net.Socket} */ s) => { open.add(s); s.once('close', () => open.delete(s)); };
  const server = net.createServer((client) => {
    track(client);
    client.pause();
    client.on('error', () => {});
    const targets = backends().map((u) => new URL(u));
    const attempt = (/** @type {number} */ i) => {
      if (i >= targets.length || client.destroyed) { client.destroy(); return; }
      const up = net.connect(Number(targets[i].port), targets[i].hostname);
      up.once('error', () => attempt(i + 1));
      up.once('connect', () => {
        track(up);
        up.removeAllListeners('error');
        up.on('error', () => client.destroy());
        up.once('close', () => client.destroy());
        client.once('close', () => up.destroy());
        client.pipe(up);
        up.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', () => res(undefined)));
  const addr = /** @type {net.AddressInfo} */ (server.address());
  return {
    url: `https://127.0.0.1:${addr.port}`,
    async close() {
      for (const s of open) s.destroy();
      await new Promise((res) => server.close(() => res(undefined)));
    },
  };
}
