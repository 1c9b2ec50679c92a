// Free loopback TCP ports for processes that need a fixed port (docker-registry, the agent), and
// test servers of our own on loopback.
import { createServer } from 'node:net';
const handedOut = new Set();
/**
 * A TCP port that is free on `host` right now (bind to port 0, read it, close). Ports already
 * returned by this process are never returned twice, so two helpers started back to back do not
 * collide; another process may still grab it in between (the usual small race).
 */
export async function freePort(host = '127.0.0.1') {
    for (let attempt = 0; attempt < 50; attempt++) {
        const port = await new Promise((resolve, reject) => {
            const srv = createServer();
            srv.unref();
            srv.once('error', reject);
            srv.listen({ host, port: 0, exclusive: true }, () => {
                const addr = srv.address();
                const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
                srv.close(() => resolve(p));
            });
        });
        if (port !== 0 && !handedOut.has(port)) {
            handedOut.add(port);
            return port;
        }
    }
    throw new Error(`no free port on ${host}`);
}
/** Start `server` on 127.0.0.1 at a free port (unref'd, so it never holds a test file open); its port. */
export async function listenLoopback(server) {
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
    });
    server.unref();
    const addr = server.address();
    return typeof addr === 'object' && addr !== null ? addr.port : 0;
}
/** Close an HTTP(S) server and every connection it still has. */
export async function closeServer(server) {
    server.closeAllConnections();
    await new Promise(resolve => server.close(() => resolve()));
}
//# sourceMappingURL=ports.js.map