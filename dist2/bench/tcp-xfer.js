// The plain-TCP baseline for the peer range transfer: a sender that streams a file to every
// connection (256 KiB chunks, from the page cache like the agent's store) and a receiver that
// sha256-hashes what it gets. Separate processes, loopback only.
//
//   node dist/bench/tcp-xfer.js send FILE        → prints {"port":N}; serves until stdin closes
//   node dist/bench/tcp-xfer.js recv PORT SIZE   → prints {"bytes","sha256","ms"} and exits
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { connect, createServer } from 'node:net';
const CHUNK = 256 * 1024;
async function send(file) {
    const server = createServer(sock => {
        sock.on('error', () => { });
        const rs = createReadStream(file, { highWaterMark: CHUNK });
        rs.pipe(sock);
    });
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    process.stdout.write(JSON.stringify({ port: typeof addr === 'object' && addr !== null ? addr.port : 0 }) + '\n');
    process.stdin.resume();
    process.stdin.on('end', () => { server.close(); process.exit(0); });
}
async function recv(port, size) {
    const h = createHash('sha256');
    let bytes = 0;
    const t0 = performance.now();
    await new Promise((resolve, reject) => {
        const c = connect(port, '127.0.0.1');
        c.on('data', (b) => { bytes += b.length; h.update(b); });
        c.on('end', resolve);
        c.on('error', reject);
    });
    const ms = performance.now() - t0;
    process.stdout.write(JSON.stringify({ bytes, expected: size, sha256: h.digest('hex'), ms }) + '\n');
}
const [mode, a, b] = process.argv.slice(2);
if (mode === 'send' && a !== undefined)
    await send(a);
else if (mode === 'recv' && a !== undefined && b !== undefined)
    await recv(Number(a), Number(b));
else {
    process.stderr.write('usage: tcp-xfer send FILE | recv PORT SIZE\n');
    process.exit(2);
}
//# sourceMappingURL=tcp-xfer.js.map