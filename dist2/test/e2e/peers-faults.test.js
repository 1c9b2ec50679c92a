// Issue B, peer scenarios 4–7, end to end, in test-made network namespaces (mDNS on, 1 s
// interval); the upstream docker-registry is behind the test's counting proxy on a 50 Mbit/s link.
//
// 4. A peer is killed (-9) while it serves B: B's pull completes correctly from upstream.
// 6. An agent with another office secret gets nothing from and serves nothing to the office.
// 7. A bare libp2p peer (office secret, no layerd logic) sends malformed and oversized inventory,
//    range and pieces frames to A, and answers A's own requests with garbage: A stays up, its pull
//    completes, and it keeps serving its peers.
// 5. A peer that uploads corrupted bytes (test/helpers/corrupting-layerd.ts) is banned by B, whose pull
//    completes with correct data; nothing bad is marked complete. (Runs last: bans last 10 min.)
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stopAll, waitFor, killAndWait } from '../helpers/proc.js';
import { buildImage, pushImage, blobPath } from '../helpers/images.js';
import { writeConfig } from '../helpers/agent-http.js';
import { CORRUPTING_BIN } from '../helpers/corrupting-layerd.js';
import { startOffice, dumpOffice, waitForMesh, waitForHolder, completeSeen, imageBytes, imageBlobs, assertPulled, ratio, REPO_ROOT } from '../helpers/office.js';
after(stopAll);
const MiB = 1 << 20;
const PIECE = 4 * MiB;
function officePrologueHex(secretFile) {
    // docs/PROTOCOL.md: prologue = sha256("layerd/office-secret/v1" || secret); the agent trims the file.
    const secret = Buffer.from(readFileSync(secretFile, 'utf8').trim(), 'utf8');
    return createHash('sha256').update('layerd/office-secret/v1').update(secret).digest('hex');
}
// The bare libp2p test peer (run with `node --input-type=module -e`, cwd = repo root, inside a test
// namespace). It prints one JSON line per event.
const RAW_PEER = `
import '${pathToFileURL(join(REPO_ROOT, 'dist/src/polyfill.js')).href}'
import { createHash } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import { StreamReader } from '${pathToFileURL(join(REPO_ROOT, 'dist/src/p2p/frames.js')).href}'

const cfg = JSON.parse(process.env.RAWPEER_CONFIG)
const INV = '/layerd/inventory/1.0.0', RANGE = '/layerd/range/1.0.0', PIECES = '/layerd/pieces/1.0.0'
const out = (o) => console.log(JSON.stringify(o))
const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))
const hdr = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b }
const frame = (v) => { const body = Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)); return Buffer.concat([hdr(body.length), body]) }
setTimeout(() => { out({ event: 'lifetime over' }); process.exit(0) }, cfg.lifetimeMs)

const node = await createLibp2p({
  addresses: { listen: ['/ip4/' + cfg.ip + '/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise({ prologueBytes: Buffer.from(cfg.prologueHex, 'hex') })],
  streamMuxers: [yamux()],
  services: { identify: identify() }
})

const closedWithin = (stream, ms) => new Promise(resolve => {
  if (stream.status !== 'open') { resolve('closed-before'); return }
  const timer = setTimeout(() => resolve('still-open'), ms)
  stream.addEventListener('close', (e) => { clearTimeout(timer); resolve(e.error != null ? 'reset: ' + (e.error.message ?? e.error) : 'closed') }, { once: true })
})

// --- serving side: every answer is garbage -----------------------------------------------------
const rangeAnswers = [
  ['oversized-header', async (s) => { s.send(Buffer.concat([hdr(0x7fffffff), Buffer.alloc(1024, 0x41)])) }],
  ['not-json', async (s) => { s.send(frame('this is { not json')) }],
  ['ok-not-boolean', async (s) => { s.send(frame({ ok: 'yes' })) }],
  ['header-over-4096', async (s) => { s.send(Buffer.concat([hdr(5000), Buffer.alloc(5000, 0x20)])) }],
  ['no-answer', async (s) => {}],
  ['json-array', async (s) => { s.send(frame('[true]')) }],
]
const piecesAnswers = [
  ['wrong-piece-size', async (s, req) => { s.send(frame({ ok: true, pieceSize: 1, count: 5 })) }],
  ['too-many-pieces', async (s, req) => { s.send(Buffer.concat([frame({ ok: true, pieceSize: 4194304, count: 2 ** 21 }), Buffer.alloc(64)])) }],
  ['count-mismatch', async (s, req) => { s.send(Buffer.concat([frame({ ok: true, pieceSize: 4194304, count: 1 }), Buffer.alloc(32)])) }],
  ['oversized-header', async (s, req) => { s.send(Buffer.concat([hdr(0xffffffff), Buffer.alloc(256)])) }],
  ['truncated-hashes', async (s, req) => { s.send(Buffer.concat([frame({ ok: true, pieceSize: 4194304, count: 4 }), Buffer.alloc(10)])) }],
]
let nRange = 0, nPieces = 0
const serve = (name, answers, counter) => async (stream) => {
  const i = counter() % answers.length
  const reader = new StreamReader(stream)
  let req
  try { const b = await reader.readFrame(4096, { idleTimeoutMs: 5000 }); req = b === null ? null : JSON.parse(Buffer.from(b).toString()) } catch (e) { req = 'unreadable: ' + e.message }
  reader.detach()
  out({ served: name, variant: answers[i][0], req })
  try {
    await answers[i][1](stream, req)
    await sleep(200)
    await stream.close({ signal: AbortSignal.timeout(2000) }).catch(() => {})
  } catch (e) { stream.abort(e) }
  if (await closedWithin(stream, 3000) === 'still-open') stream.abort(new Error('done'))
}
await node.handle(INV, (stream) => { stream.addEventListener('message', () => {}) }, { maxInboundStreams: 8 })
await node.handle(RANGE, serve('range', rangeAnswers, () => nRange++), { maxInboundStreams: 64 })
await node.handle(PIECES, serve('pieces', piecesAnswers, () => nPieces++), { maxInboundStreams: 16 })
await node.start()
out({ event: 'started', peerId: node.peerId.toString() })

// --- requesting side: garbage frames to the agent -----------------------------------------------
const target = multiaddr(cfg.target)
await node.dial(target, { signal: AbortSignal.timeout(10000) })
await sleep(500) // identify: the agent now knows we speak layerd

async function probe (name, proto, data, opts = {}) {
  const t0 = Date.now()
  let stream
  try { stream = await node.dialProtocol(target, proto, { signal: AbortSignal.timeout(5000) }) } catch (e) { out({ probe: name, proto, error: 'open: ' + e.message }); return }
  const reader = new StreamReader(stream)
  const closed = closedWithin(stream, 6000)
  try { if (data.length > 0) stream.send(data) } catch (e) {}
  if (opts.halfClose) await stream.close({ signal: AbortSignal.timeout(2000) }).catch(() => {})
  let answer
  try { const b = await reader.readFrame(4096, { idleTimeoutMs: 5000 }); answer = b === null ? null : JSON.parse(Buffer.from(b).toString()) } catch (e) { answer = 'error: ' + e.message }
  let how = await closed
  if (how === 'still-open' && !opts.halfClose) { await stream.close({ signal: AbortSignal.timeout(2000) }).catch(() => {}); how = 'still-open' }
  if (stream.status === 'open') stream.abort(new Error('probe done'))
  reader.detach()
  out({ probe: name, proto, answer, how, ms: Date.now() - t0 })
}

const d = cfg.valid.digest
const entry = (o) => ({ digest: d, size: 100, complete: false, fetching: false, ranges: [[0, 10]], ...o })
const manyRanges = []; for (let i = 0; i < 9000; i++) manyRanges.push([2 * i, 2 * i + 1])

// inventory (the agent only reads: every bad frame must get the stream closed)
await probe('inv-oversized-2MiB', INV, Buffer.concat([hdr(2 * 1024 * 1024), Buffer.alloc(64 * 1024, 0x7b)]))
await probe('inv-header-0xffffffff', INV, hdr(0xffffffff))
await probe('inv-zero-length', INV, hdr(0))
await probe('inv-not-json', INV, frame('{"type":"inventory","done":true,"entries":[{"digest":"sha256:xyz"'))
await probe('inv-json-array', INV, frame('[1,2,3]'))
await probe('inv-bad-digest', INV, frame({ type: 'inventory', done: true, entries: [entry({ digest: 'sha256:xyz' })] }))
await probe('inv-overlapping-ranges', INV, frame({ type: 'inventory', done: true, entries: [entry({ ranges: [[0, 50], [40, 60]] })] }))
await probe('inv-range-past-size', INV, frame({ type: 'inventory', done: true, entries: [entry({ ranges: [[0, 1000]] })] }))
await probe('inv-complete-but-partial', INV, frame({ type: 'inventory', done: true, entries: [entry({ complete: true, ranges: [[0, 10]] })] }))
await probe('inv-negative-size', INV, frame({ type: 'inventory', done: true, entries: [entry({ size: -5 })] }))
await probe('inv-huge-size', INV, frame({ type: 'inventory', done: true, entries: [entry({ size: 2 ** 60, ranges: [[0, 2 ** 60]] })] }))
await probe('inv-too-many-ranges', INV, frame({ type: 'inventory', done: true, entries: [entry({ size: 20000, ranges: manyRanges })] }))
await probe('inv-update-before-snapshot', INV, frame({ type: 'update', entries: [entry({})] }))
await probe('inv-unknown-type', INV, frame({ type: 'gimme', entries: [] }))
await probe('inv-snapshot-twice', INV, Buffer.concat([frame({ type: 'inventory', done: true, entries: [] }), frame({ type: 'inventory', done: true, entries: [] })]))
await probe('inv-truncated', INV, Buffer.concat([hdr(1000), Buffer.from('{"type":"inv')]), { halfClose: true })

// range and pieces requests
await probe('range-header-over-4096', RANGE, Buffer.concat([hdr(5000), Buffer.alloc(5000, 0x20)]))
await probe('range-header-0xffffffff', RANGE, hdr(0xffffffff))
await probe('range-not-json', RANGE, frame('nope'), { halfClose: true })
await probe('range-bad-digest', RANGE, frame({ digest: 'sha256:zz', offset: 0, length: 10 }), { halfClose: true })
await probe('range-negative-offset', RANGE, frame({ digest: d, offset: -1, length: 10 }), { halfClose: true })
await probe('range-unsafe-length', RANGE, frame({ digest: d, offset: 1, length: 2 ** 53 }), { halfClose: true })
await probe('range-out-of-bounds', RANGE, frame({ digest: d, offset: 1e15, length: 1 }), { halfClose: true })
await probe('range-string-length', RANGE, frame({ digest: d, offset: 0, length: '10' }), { halfClose: true })
await probe('range-truncated', RANGE, Buffer.concat([hdr(100), Buffer.from('{"dig')]), { halfClose: true })
await probe('range-nothing', RANGE, Buffer.alloc(0), { halfClose: true })
await probe('pieces-oversized', PIECES, Buffer.concat([hdr(100000), Buffer.alloc(8192)]))
await probe('pieces-bad-digest', PIECES, frame({ digest: 42 }), { halfClose: true })
// a burst of garbage requests at once (bounded)
await Promise.all(Array.from({ length: 24 }, (_, i) => probe('range-burst-' + i, RANGE, frame('[' + i + ']'), { halfClose: true })))

// a valid request on a new stream still works
{
  const t0 = Date.now()
  const s = await node.dialProtocol(target, RANGE, { signal: AbortSignal.timeout(5000) })
  const reader = new StreamReader(s)
  s.send(frame({ digest: d, offset: 0, length: cfg.valid.length }))
  await s.close({ signal: AbortSignal.timeout(2000) }).catch(() => {})
  let result
  try {
    const h = JSON.parse(Buffer.from(await reader.readFrame(4096, { idleTimeoutMs: 10000 })).toString())
    if (h.ok === true) {
      const data = await reader.readExact(cfg.valid.length, { idleTimeoutMs: 10000 })
      result = { header: h, sha256: data === null ? null : createHash('sha256').update(data).digest('hex') }
    } else result = { header: h }
  } catch (e) { result = { error: e.message } }
  reader.detach()
  out({ valid: result, ms: Date.now() - t0 })
}

// finally a well-formed inventory: we "hold" these blobs complete (we serve only garbage)
const inv = await node.dialProtocol(target, INV, { signal: AbortSignal.timeout(5000) })
inv.send(frame({ type: 'inventory', done: true, entries: cfg.advertise.map(b => ({ digest: b.digest, size: b.size, complete: true, ranges: [[0, b.size]], fetching: false })) }))
out({ event: 'advertised' })
`;
describe('issue B: peer faults (scenarios 4-7)', { timeout: 280_000 }, () => {
    let office;
    let A, B, C, D;
    const imgs = {};
    before(async () => {
        office = await startOffice({ hosts: 5, rate: '50mbit' }); // A B C, D (other secret), E (raw peer)
        const specs = [
            ['s4', [16 * MiB, 16 * MiB, 16 * MiB]],
            ['s5', [8 * MiB, 8 * MiB, 8 * MiB]],
            ['s6', [8 * MiB, 8 * MiB]],
            ['s7', [8 * MiB, 8 * MiB, 8 * MiB]],
        ];
        for (const [k, layers] of specs) {
            const img = await buildImage({ name: `e2e/faults-${k}`, tag: 'v1', layers, seed: `e2e-peers-faults-${k}` });
            await pushImage(img, office.registry.host, `e2e/faults-${k}`, 'v1');
            imgs[k] = img;
        }
        const otherSecret = writeConfig(join(office.dir, 'other.secret'), randomBytes(32).toString('hex'));
        [A, B, C, D] = await Promise.all([
            office.startAgent(1), office.startAgent(2), office.startAgent(3),
            office.startAgent(4, { secretFile: otherSecret, extraArgs: ['--log-level', 'debug'] }),
        ]);
        await waitForMesh([A, B, C]);
    });
    after(async () => {
        for (const a of [A, B, C, D])
            if (a !== undefined && a.agent.alive())
                await a.agent.stop({ keepData: true });
        await office?.stop();
    });
    test('4. a peer killed while serving: the pull completes correctly from upstream', async (t) => {
        const img = imgs.s4;
        const total = imageBytes(img);
        const layerBytes = img.layers.reduce((n, l) => n + l.size, 0);
        const seen = await completeSeen(B, A);
        assertPulled(await office.pull(1, 'e2e/faults-s4:v1', { timeoutMs: 60_000 }), img, 'A');
        await waitForHolder(B, A, seen + imageBlobs(img).length);
        // A serves slowly enough to be killed mid-way.
        await office.net.shape(A.host, { rate: '40mbit' });
        office.proxy.reset();
        const fromA0 = await B.metric('layerd_peer_bytes_received_total', { peer: A.peerId });
        const pullB = office.pull(2, 'e2e/faults-s4:v1', { timeoutMs: 60_000 });
        await waitFor(async () => await B.metric('layerd_peer_bytes_received_total', { peer: A.peerId }) - fromA0 >= layerBytes * 0.35, { timeoutMs: 60_000, intervalMs: 100, what: 'B to get a third of the image from A' });
        const atKill = await B.metric('layerd_peer_bytes_received_total', { peer: A.peerId }) - fromA0;
        const tKill = performance.now();
        await A.agent.kill9();
        const rb = await pullB;
        const afterKillMs = performance.now() - tKill;
        if (!rb.skopeo.ok)
            dumpOffice(t, office, [A, B]);
        assertPulled(rb, img, 'B');
        await office.proxy.idle();
        const blobs = office.blobBytes(img);
        const fromA = await B.metric('layerd_peer_bytes_received_total', { peer: A.peerId }) - fromA0;
        t.diagnostic(`scenario 4: A killed after serving ${atKill} bytes to B (${ratio(atKill, total)}x); B finished ${afterKillMs.toFixed(0)} ms later; ` +
            `B's upstream blob bytes ${blobs} (${ratio(blobs, total)}x), from A ${fromA}; upstream+peer ${ratio(blobs + fromA, total)}x`);
        assert.ok(fromA < total, 'B did not get everything from A');
        assert.ok(blobs > 0, 'the rest came from upstream');
        assert.ok(blobs <= total - fromA + img.layers.length * PIECE, `B refetched too much upstream: ${blobs}`);
        await office.net.unshape(A.host);
        await A.agent.restart();
        await waitForMesh([A, B, C]);
    });
    test('6. an agent with another office secret gets nothing from and serves nothing to the office', async (t) => {
        const img = imgs.s6;
        const total = imageBytes(img);
        // The office holds the image (A pulls it); D has been up since the start, mDNS every second.
        const seen = await completeSeen(B, A);
        assertPulled(await office.pull(1, 'e2e/faults-s6:v1'), img, 'A');
        await waitForHolder(B, A, seen + imageBlobs(img).length);
        const office3 = [A, B, C];
        const check = async (when) => {
            const dv = await D.peers();
            assert.deepEqual(dv.peers, [], `${when}: D's peer list is empty`);
            assert.equal(await D.metric('layerd_peers_connected'), 0, `${when}: D has no peer connected`);
            for (const a of office3) {
                const v = await a.peers();
                assert.ok(!v.peers.some(p => p.peerId === D.peerId), `${when}: ${a.host.ns} does not list D`);
                assert.equal(await a.metric('layerd_peer_bytes_sent_total', { peer: D.peerId }), 0, `${when}: ${a.host.ns} sent nothing to D`);
                assert.equal(await a.metric('layerd_peer_bytes_received_total', { peer: D.peerId }), 0, `${when}: ${a.host.ns} got nothing from D`);
            }
        };
        await check('before D pulls');
        // Not vacuous: D did discover the office with mDNS and its dials failed (noise prologue).
        await waitFor(() => D.agent.logs().includes('dialling discovered peer failed'), { timeoutMs: 10_000, what: 'D to try dialling the office' });
        const dialFailures = D.agent.logLines().filter(l => l.msg === 'dialling discovered peer failed');
        office.proxy.reset();
        const peer0 = await D.metric('layerd_bytes_by_source_total', { source: 'peer' });
        const up0 = await D.metric('layerd_bytes_by_source_total', { source: 'upstream' });
        const rd = await office.pull(4, 'e2e/faults-s6:v1', { timeoutMs: 60_000 });
        if (!rd.skopeo.ok)
            dumpOffice(t, office, [D]);
        assertPulled(rd, img, 'D');
        await office.proxy.idle();
        const blobs = office.blobBytes(img);
        const peerD = await D.metric('layerd_bytes_by_source_total', { source: 'peer' }) - peer0;
        const upD = await D.metric('layerd_bytes_by_source_total', { source: 'upstream' }) - up0;
        t.diagnostic(`scenario 6: D's pull took ${blobs} upstream blob bytes (${ratio(blobs, total)}x), D's metrics: upstream ${upD}, peer ${peerD}; ` +
            `D logged ${dialFailures.length} failed dials, e.g. ${JSON.stringify(dialFailures[0] ?? {}).slice(0, 300)}`);
        assert.equal(peerD, 0, 'D got nothing from peers');
        assert.equal(blobs, total, 'D\'s pull came from upstream, whole');
        await check('after D pulled');
    });
    test('7. malformed and oversized frames from a bare libp2p peer: the agent stays up and keeps serving', async (t) => {
        const img = imgs.s7;
        const held = imgs.s4; // A holds it complete (scenario 4)
        const l0 = held.layers[0];
        assert.ok(l0 !== undefined && office.secretFile !== undefined);
        const validLen = 1 * MiB;
        const validSha = createHash('sha256').update(readFileSync(blobPath(held.layoutDir, l0.digest)).subarray(0, validLen)).digest('hex');
        const E = office.agentHosts[4];
        assert.ok(E !== undefined);
        const failures0 = await A.metric('layerd_peer_failures_total');
        const raw = office.net.spawn(E, process.execPath, ['--input-type=module', '-e', RAW_PEER], {
            name: 'raw-peer',
            cwd: REPO_ROOT,
            env: {
                ...process.env,
                RAWPEER_CONFIG: JSON.stringify({
                    ip: E.ip,
                    target: A.multiaddr,
                    prologueHex: officePrologueHex(office.secretFile),
                    valid: { digest: l0.digest, length: validLen },
                    advertise: imageBlobs(img),
                    lifetimeMs: 150_000,
                }),
            },
        });
        try {
            await raw.waitForLine(l => l.includes('"advertised"'), 120_000);
        }
        catch (err) {
            throw new Error(`raw peer: ${String(err)}\n${raw.output().slice(-4000)}`);
        }
        const lines = () => raw.output().split('\n').filter(l => l.startsWith('{')).map(l => { try {
            return JSON.parse(l);
        }
        catch {
            return {};
        } });
        const rawId = String(lines().find(l => l.event === 'started')?.peerId ?? '');
        assert.ok(rawId !== '', 'raw peer id');
        const probes = lines().filter(l => l.probe !== undefined);
        t.diagnostic(`scenario 7: ${probes.length} garbage streams: ` + probes.filter(p => !String(p.probe).startsWith('range-burst-')).map(p => `${String(p.probe)} → ${typeof p.answer === 'object' && p.answer !== null ? String(p.answer.code ?? JSON.stringify(p.answer)) : String(p.answer)} / ${String(p.how)}`).join('; '));
        assert.ok(A.agent.alive(), `A died: ${A.agent.logs().slice(-3000)}`);
        // Every garbage stream was closed by the agent (none left hanging).
        for (const p of probes) {
            assert.ok(p.error === undefined, `${String(p.probe)}: ${String(p.error)}`);
            assert.notEqual(p.how, 'still-open', `${String(p.probe)}: the agent left the stream open`);
            if (String(p.probe).startsWith('inv-'))
                assert.ok(p.answer === null || String(p.answer).startsWith('error'), `${String(p.probe)}: the agent does not answer on inventory`);
        }
        for (const name of ['range-not-json', 'range-bad-digest', 'range-negative-offset', 'range-unsafe-length', 'range-string-length', 'pieces-bad-digest', 'range-burst-0']) {
            const p = probes.find(x => x.probe === name);
            const code = typeof p?.answer === 'object' && p?.answer !== null ? p.answer.code : undefined;
            assert.ok(code === 'BAD_REQUEST', `${name}: expected BAD_REQUEST, got ${JSON.stringify(p?.answer)}`);
        }
        const oob = probes.find(x => x.probe === 'range-out-of-bounds')?.answer;
        assert.ok(oob?.code === 'OUT_OF_BOUNDS' || oob?.code === 'BAD_REQUEST', `range-out-of-bounds: ${JSON.stringify(oob)}`);
        // A valid request on a new stream from the same peer is still served, correctly.
        const valid = lines().find(l => l.valid !== undefined)?.valid;
        assert.equal(valid?.header?.ok, true, `valid range request: ${JSON.stringify(valid)}`);
        assert.equal(valid?.sha256, validSha, 'valid range bytes');
        const m = await A.metricsText();
        const reasons = {};
        for (const r of ['frame-oversized', 'frame-malformed', 'frame-truncated', 'timeout'])
            reasons[r] = (await A.metric('layerd_peer_failures_total', { peer: rawId, reason: r }));
        t.diagnostic(`A's failures for the raw peer by reason: ${JSON.stringify(reasons)}; total failures +${(await A.metric('layerd_peer_failures_total')) - failures0}`);
        assert.ok((reasons['frame-oversized'] ?? 0) >= 3, 'oversized frames counted');
        assert.ok((reasons['frame-malformed'] ?? 0) >= 10, 'malformed frames counted');
        assert.ok((reasons['frame-truncated'] ?? 0) >= 1, 'truncated frames counted');
        assert.ok(m.includes('layerd_peer_failures_total'));
        // The raw peer's last, well-formed inventory was accepted: A sees it holding img s7.
        await waitForHolder(A, { peerId: rawId, host: E }, imageBlobs(img).length);
        // A pulls an image the raw peer claims to hold: it must not get stuck on it.
        office.proxy.reset();
        const failBefore = await A.metric('layerd_peer_failures_total', { peer: rawId });
        const ra = await office.pull(1, 'e2e/faults-s7:v1', { timeoutMs: 60_000 });
        if (!ra.skopeo.ok)
            dumpOffice(t, office, [A]);
        assertPulled(ra, img, 'A');
        assert.ok(A.agent.alive());
        const served = lines().filter(l => l.served !== undefined);
        const failAfter = await A.metric('layerd_peer_failures_total', { peer: rawId });
        t.diagnostic(`A's pull with a garbage-serving holder took ${ra.ms.toFixed(0)} ms; the raw peer answered ${served.length} requests with garbage (${served.map(s => `${String(s.served)}:${String(s.variant)}`).join(', ')}); A counted ${failAfter - failBefore} more failures`);
        assert.ok(served.length >= 1, 'A did ask the raw peer (the test is not vacuous)');
        // A keeps serving its peers: C takes the image from A.
        const fromA0 = await C.metric('layerd_peer_bytes_received_total', { peer: A.peerId });
        await waitFor(async () => ((await C.peers()).peers.find(p => p.peerId === A.peerId)?.completeBlobs ?? 0) >= imageBlobs(img).length, { timeoutMs: 15_000, what: 'C to see A holding s7' });
        const rc = await office.pull(3, 'e2e/faults-s7:v1', { timeoutMs: 60_000 });
        assertPulled(rc, img, 'C');
        const fromA = await C.metric('layerd_peer_bytes_received_total', { peer: A.peerId }) - fromA0;
        t.diagnostic(`C took ${fromA} bytes from A after the garbage; upstream blob bytes for s7 over both pulls ${office.blobBytes(img)} (${ratio(office.blobBytes(img), imageBytes(img))}x)`);
        assert.ok(fromA > 0, 'A still serves peers');
        assert.ok(A.agent.alive());
        await killAndWait(raw, { timeoutMs: 5000 });
    });
    test('5. a peer that uploads corrupted bytes is banned; the pull completes with correct data', async (t) => {
        const img = imgs.s5;
        const total = imageBytes(img);
        const n = imageBlobs(img).length;
        const seen = await completeSeen(B, A);
        const seenCB = await completeSeen(C, B);
        const idA = A.peerId;
        assertPulled(await office.pull(1, 'e2e/faults-s5:v1'), img, 'A');
        await waitForHolder(B, A, seen + n);
        // A restarts as a corrupting uploader (same store, same peer id).
        await A.agent.stop({ keepData: true });
        const bad = await office.startAgent(1, { dataDir: A.dataDir, bin: CORRUPTING_BIN });
        A = bad;
        assert.equal(bad.peerId, idA, 'same peer id after the restart');
        await waitForMesh([bad, B, C]);
        await waitForHolder(B, bad, seen + n);
        const vf0 = await B.metric('layerd_verification_failures_total', { source: 'peer' });
        const bp0 = await B.metric('layerd_peer_failures_total', { peer: bad.peerId, reason: 'bad-piece' });
        office.proxy.reset();
        const rb = await office.pull(2, 'e2e/faults-s5:v1', { timeoutMs: 60_000 });
        if (!rb.skopeo.ok)
            dumpOffice(t, office, [A, B]);
        assertPulled(rb, img, 'B');
        await office.proxy.idle();
        const vf = await B.metric('layerd_verification_failures_total', { source: 'peer' }) - vf0;
        const bp = await B.metric('layerd_peer_failures_total', { peer: bad.peerId, reason: 'bad-piece' }) - bp0;
        const view = (await B.peers()).peers.find(p => p.peerId === bad.peerId);
        const banLines = B.agent.logLines().filter(l => l.msg === 'peer banned' || l.msg === 'peer sent a bad piece: banned, piece fetched elsewhere');
        const blobs = office.blobBytes(img);
        t.diagnostic(`scenario 5: B's pull ${rb.ms.toFixed(0)} ms, upstream blob bytes ${blobs} (${ratio(blobs, total)}x); B verification failures (peer) +${vf}, bad-piece failures for A +${bp}; ` +
            `B's view of A: ${JSON.stringify(view)}; log: ${banLines.map(l => String(l.msg)).join(' | ')}`);
        assert.ok(vf >= 1, 'B counted a verification failure from a peer');
        assert.ok(bp >= 1, 'B counted a bad piece from A');
        assert.ok(view?.bannedUntil !== undefined && view.bannedUntil > Date.now(), 'B lists A as banned');
        assert.ok(banLines.some(l => l.msg === 'peer banned'), 'B logged the ban');
        // Nothing bad was marked complete: what B's store serves hashes to the digests.
        for (const b of imageBlobs(img)) {
            const r = await office.net.run(B.host, 'sh', ['-c', `curl -sS -m 30 http://127.0.0.1:5000/v2/e2e/faults-s5/blobs/${b.digest} | sha256sum`], { timeoutMs: 40_000 });
            assert.equal(`sha256:${r.stdout.trim().split(/\s+/)[0] ?? ''}`, b.digest, `B's stored ${b.digest}`);
        }
        // ...and C, which can take it from B (and is offered A's corrupted bytes too), gets it right.
        await waitForHolder(C, B, seenCB + n);
        const fromB0 = await C.metric('layerd_peer_bytes_received_total', { peer: B.peerId });
        const rc = await office.pull(3, 'e2e/faults-s5:v1', { timeoutMs: 60_000 });
        assertPulled(rc, img, 'C');
        const fromB = await C.metric('layerd_peer_bytes_received_total', { peer: B.peerId }) - fromB0;
        t.diagnostic(`C took ${fromB} bytes from B; C verification failures (peer) ${await C.metric('layerd_verification_failures_total', { source: 'peer' })}`);
        assert.ok(fromB > 0, 'C took bytes from B');
    });
});
//# sourceMappingURL=peers-faults.test.js.map