// The upstream rate cap: body bytes are paid for in one token bucket before more are read, so the
// cap holds across transfers, and the sender is held back by TCP (the server cannot hand the
// kernel much more than the client consumed) instead of the agent buffering what it has not paid for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collect, makeBlob, makeClient, serveBlob, sleep, startServer } from './fixtures.js';
const MiB = 1024 * 1024;
const REPO = 'lib/app';
test('rate: two transfers together stay under the cap', async (t) => {
    const blob = makeBlob(2 * MiB);
    const server = await startServer((req, res) => { serveBlob(req, res, blob.data); });
    const { upstream } = makeClient([{ name: 'r.test', url: server.url }], { bytesPerSecond: 2 * MiB });
    t.after(async () => { await upstream.close(); await server.close(); });
    const started = Date.now();
    const bodies = await Promise.all([0, 1].map(async () => await collect((await upstream.fetchBlob('r.test', REPO, blob.digest, { start: 0 })).body)));
    const seconds = (Date.now() - started) / 1000;
    for (const b of bodies)
        assert.ok(b.equals(blob.data));
    // 4 MiB at 2 MiB/s, less the bucket's first half second: at least 1.75 s.
    assert.ok(seconds >= 1.6, `4 MiB under a 2 MiB/s cap took ${seconds.toFixed(2)} s`);
});
test('rate: an unpaid-for body is not read: the server cannot get far ahead of the cap', async (t) => {
    const total = 256 * MiB;
    const piece = Buffer.alloc(MiB, 7);
    let handed = 0; // bytes the server's kernel accepted
    const server = await startServer((req, res) => {
        res.writeHead(200, { 'content-length': String(total) });
        const pump = () => {
            while (handed < total) {
                const ok = res.write(piece, () => { handed += piece.length; });
                if (!ok) {
                    res.once('drain', pump);
                    return;
                }
            }
            res.end();
        };
        pump();
    });
    const { upstream } = makeClient([{ name: 'r.test', url: server.url }], { bytesPerSecond: 4 * MiB });
    const abort = new AbortController();
    t.after(async () => { abort.abort(); await upstream.close(); await server.close(); });
    const started = Date.now();
    const r = await upstream.fetchBlob('r.test', REPO, 'sha256:' + 'a'.repeat(64), { start: 0, signal: abort.signal });
    let received = 0;
    const reading = (async () => { for await (const c of r.body)
        received += c.length; })().catch(() => { });
    await sleep(2000);
    const seconds = (Date.now() - started) / 1000;
    const at = { received, handed };
    abort.abort();
    await reading;
    // The bucket starts with a quarter second of tokens; a chunk may overdraw it once.
    const allowed = (0.25 + seconds) * 4 * MiB + MiB;
    assert.ok(at.received <= allowed, `received ${at.received} bytes in ${seconds} s under a 4 MiB/s cap`);
    // Unpaced, loopback carries all 256 MiB in this time. What the server handed over and we did
    // not read sits in the two sockets' buffers, not in the agent.
    assert.ok(at.handed - at.received < 32 * MiB, `the server handed ${at.handed} bytes to the kernel while ${at.received} were read`);
});
//# sourceMappingURL=rate.test.js.map