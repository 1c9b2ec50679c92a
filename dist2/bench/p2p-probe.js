// Diagnostic for figure 4: the same bytes over the peer network's fetchRange, fetched the way
// the agent's fetch session does it (4 MiB pieces, each its own stream, buffered, sha256'd,
// N in flight) versus one stream for the whole range. Two processes on loopback, no agent, no
// disk. Shows whether the per-piece request pattern or the transport itself is the limit.
//
//   npm run build && node dist/bench/p2p-probe.js [MiB=256] [runs=3]
import '../src/polyfill.js';
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { FakeLocal, cleanupDirs, random, startNode, waitFor } from '../test/unit/p2p/fixtures.js';
import { PIECE_SIZE } from '../src/p2p/types.js';
import { median } from './lib.js';
const MiB = 1024 * 1024;
async function serve(mib) {
    const data = random(mib * MiB);
    const local = new FakeLocal();
    local.chunkSize = 256 * 1024;
    const digest = local.add(data);
    const n = await startNode({ local, maxUploadsPerPeer: 16, maxUploadsTotal: 16 });
    process.send({ addr: n.addr, peerId: n.net.peerId, digest });
    process.on('message', () => { void n.net.stop().then(() => { cleanupDirs(); process.exit(0); }); });
}
async function main() {
    const mib = Number(process.argv[2] ?? 256);
    const runs = Number(process.argv[3] ?? 3);
    const child = fork(new URL(import.meta.url).pathname, ['serve', String(mib)]);
    const info = await new Promise(resolve => child.once('message', m => resolve(m)));
    const b = await startNode({ peers: [info.addr] });
    await waitFor(() => b.net.router.holders(info.digest).length === 1, 10_000, 'inventory');
    const size = mib * MiB;
    const rate = (ms) => size / 1e6 / (ms / 1000);
    const whole = async () => {
        const t0 = performance.now();
        const h = createHash('sha256');
        let n = 0;
        for await (const c of b.net.transfers.fetchRange(info.peerId, info.digest, 0, size)) {
            h.update(c);
            n += c.byteLength;
        }
        if (n !== size || 'sha256:' + h.digest('hex') !== info.digest)
            throw new Error('whole: bad bytes');
        return rate(performance.now() - t0);
    };
    // Like FetchSession.startPeer with piece hashes: a piece per stream, buffered, hashed, k in flight.
    const pieces = async (k, pieceSize) => {
        const t0 = performance.now();
        let next = 0;
        const worker = async () => {
            while (next < size) {
                const start = next;
                next = Math.min(size, next + pieceSize);
                const buf = Buffer.allocUnsafe(next - start);
                let off = 0;
                for await (const c of b.net.transfers.fetchRange(info.peerId, info.digest, start, start + buf.length)) {
                    buf.set(c, off);
                    off += c.byteLength;
                }
                if (off !== buf.length)
                    throw new Error('piece: short');
                createHash('sha256').update(buf).digest();
            }
        };
        await Promise.all(Array.from({ length: k }, worker));
        return rate(performance.now() - t0);
    };
    const cases = [
        ['1 stream, whole range, sha256', whole],
        [`${PIECE_SIZE / MiB} MiB pieces, 1 in flight`, async () => await pieces(1, PIECE_SIZE)],
        [`${PIECE_SIZE / MiB} MiB pieces, 2 in flight (agent default)`, async () => await pieces(2, PIECE_SIZE)],
        [`${PIECE_SIZE / MiB} MiB pieces, 4 in flight`, async () => await pieces(4, PIECE_SIZE)],
        ['16 MiB pieces, 2 in flight', async () => await pieces(2, 16 * MiB)],
    ];
    const results = {};
    for (let i = 0; i < runs; i++) {
        for (const [name, fn] of cases)
            (results[name] ??= []).push(await fn());
    }
    console.log(`fetchRange probe: ${mib} MiB, loopback, 2 processes, median of ${runs} (MB/s)`);
    for (const [name] of cases) {
        const xs = results[name];
        console.log(`  ${name.padEnd(44)} ${median(xs).toFixed(0).padStart(6)}   [${xs.map(x => x.toFixed(0)).join(' ')}]`);
    }
    if (process.env.P2P_PROBE_JSON === '1') {
        process.stdout.write('P2P_PROBE ' + JSON.stringify(Object.fromEntries(cases.map(([name]) => [name, median(results[name])]))) + '\n');
    }
    child.send('stop');
    await b.net.stop();
    cleanupDirs();
}
if (process.argv[2] === 'serve')
    await serve(Number(process.argv[3]));
else
    await main();
//# sourceMappingURL=p2p-probe.js.map