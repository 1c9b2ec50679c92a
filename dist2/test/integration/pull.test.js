// `layerd pull` (preheat) as a user runs it against a real agent process and a real
// docker-registry behind a counting proxy: every blob of the chosen platforms ends up complete in
// the agent's store (the bytes verify and a later client pull costs the upstream nothing), the
// other platforms' blobs are not fetched, and unknown images, bad references and a missing
// agent each give an exit code and a one-line reason.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeTempDir, run, stopAll, haveCommand } from '../helpers/proc.js';
import { freePort } from '../helpers/ports.js';
import { startRegistry } from '../helpers/registry.js';
import { buildImage, pushImage } from '../helpers/images.js';
import { startProxy } from '../helpers/proxy.js';
import { startAgent, AGENT_BIN, REPO_ROOT } from '../helpers/agent.js';
import { rawRequest } from '../helpers/agent-http.js';
import { skopeoCopy, verifyDirBlobs, writeRegistriesConf } from '../helpers/skopeo.js';
after(stopAll);
const MiB = 1 << 20;
const HOST_ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';
const OTHER_ARCH = HOST_ARCH === 'amd64' ? 'arm64' : 'amd64';
const ESC = '\u001b';
async function layerd(args, timeoutMs = 120_000) {
    return await run(process.execPath, [AGENT_BIN, ...args], { timeoutMs, cwd: REPO_ROOT });
}
function lines(s) { return s.split('\n').filter(l => l.trim() !== ''); }
/** Blob bytes the upstream sent for these digests. */
function upstreamBytes(proxy, digests) {
    return digests.reduce((n, d) => n + proxy.bytesFor(d), 0);
}
const dataBlobs = (p) => [{ digest: p.configDigest, size: p.configSize }, ...p.layers];
describe('layerd pull', () => {
    let reg;
    let proxy;
    let img;
    const work = makeTempDir('it-pull');
    const platform = (arch) => img.platforms.find(p => p.architecture === arch);
    const agentFor = async () => await startAgent({ upstreams: { 'upstream.test': proxy.url }, extraArgs: ['--no-p2p'] });
    before(async () => {
        reg = await startRegistry();
        img = await buildImage({ name: 'pull/multi', tag: 'v1', layers: [3 * MiB, 1 * MiB], platforms: ['linux/amd64', 'linux/arm64'], seed: 'it-pull-multi' });
        await pushImage(img, reg.host, 'pull/multi', 'v1');
        proxy = await startProxy(reg.url);
    });
    test('fetches every blob of this machine\'s platform; a client pull then costs the upstream nothing', async () => {
        const agent = await agentFor();
        const mine = platform(HOST_ARCH);
        proxy.reset();
        const r = await layerd(['pull', '--listen', agent.host, 'upstream.test/pull/multi:v1']);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(!r.stdout.includes(ESC) && !r.stderr.includes(ESC), `no escape codes when not a terminal:\n${JSON.stringify(r.stdout)}`);
        // A line per blob as it completes, and the summary.
        for (const b of dataBlobs(mine))
            assert.match(r.stdout, new RegExp(`^${b.digest.slice(0, 19)} .*linux/${HOST_ARCH}$`, 'm'), r.stdout);
        assert.match(lines(r.stdout).at(-1) ?? '', /^pulled upstream\.test\/pull\/multi:v1 \(sha256:[0-9a-f]{12}\): 3 blobs, 4(\.\d)? MiB in .* upstream 4(\.\d)? MiB$/);
        await proxy.idle();
        for (const b of dataBlobs(mine))
            assert.equal(proxy.bytesFor(b.digest), b.size, `${b.digest} fetched once from upstream`);
        assert.equal(upstreamBytes(proxy, dataBlobs(platform(OTHER_ARCH)).map(b => b.digest)), 0, 'nothing of the other platform');
        // Complete in the store: served with the right digest without asking upstream.
        proxy.reset();
        for (const b of dataBlobs(mine)) {
            const got = await rawRequest(agent.url, `/v2/pull/multi/blobs/${b.digest}?ns=upstream.test`);
            assert.equal(got.status, 200);
            assert.equal(`sha256:${got.sha256}`, b.digest);
        }
        const conf = writeRegistriesConf(join(work, 'registries.conf'), { prefix: 'upstream.test', mirror: agent.host });
        const out = join(work, 'skopeo-1');
        const s = await skopeoCopy('upstream.test/pull/multi:v1', out, { registriesConf: conf, arch: HOST_ARCH });
        assert.ok(s.ok, s.stderr);
        const v = await verifyDirBlobs(out);
        assert.deepEqual(v.bad, [], 'every blob skopeo got verifies');
        await proxy.idle();
        assert.equal(upstreamBytes(proxy, dataBlobs(mine).map(b => b.digest)), 0, 'the client pull took no blob byte from upstream');
        const st = JSON.parse((await layerd(['status', '--json', '--listen', agent.host])).stdout);
        assert.equal(st.store.blobs.partial, 0);
        assert.ok(st.store.blobs.complete >= 5, 'config, 2 layers, the index and a manifest are stored');
        assert.ok(st.bytes.local >= mine.layers.reduce((n, l) => n + l.size, 0), `clients were served from the local store: ${JSON.stringify(st.bytes)}`);
        // Again: everything is there already.
        proxy.reset();
        const again = await layerd(['pull', '--listen', agent.host, 'upstream.test/pull/multi:v1']);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /local 4(\.\d)? MiB, peers 0 B, upstream 0 B$/m);
        await proxy.idle();
        assert.equal(upstreamBytes(proxy, dataBlobs(mine).map(b => b.digest)), 0);
        await agent.stop();
    });
    test('--platform picks only that platform\'s blobs; --all-platforms takes every one', async () => {
        const agent = await agentFor();
        proxy.reset();
        const r = await layerd(['pull', '--listen', agent.host, '--platform', `linux/${OTHER_ARCH}`, 'upstream.test/pull/multi:v1']);
        assert.equal(r.code, 0, r.stderr);
        await proxy.idle();
        for (const b of dataBlobs(platform(OTHER_ARCH)))
            assert.equal(proxy.bytesFor(b.digest), b.size, `${b.digest} of linux/${OTHER_ARCH}`);
        assert.equal(upstreamBytes(proxy, dataBlobs(platform(HOST_ARCH)).map(b => b.digest)), 0, `nothing of linux/${HOST_ARCH}`);
        for (const b of dataBlobs(platform(HOST_ARCH)))
            assert.ok(!r.stdout.includes(b.digest.slice(0, 19)), r.stdout);
        proxy.reset();
        const all = await layerd(['pull', '--listen', agent.host, '--all-platforms', 'upstream.test/pull/multi:v1']);
        assert.equal(all.code, 0, all.stderr);
        await proxy.idle();
        for (const b of dataBlobs(platform(HOST_ARCH)))
            assert.equal(proxy.bytesFor(b.digest), b.size);
        assert.equal(upstreamBytes(proxy, dataBlobs(platform(OTHER_ARCH)).map(b => b.digest)), 0, 'what was there is not fetched again');
        assert.match(all.stdout, /^pulling upstream\.test\/pull\/multi:v1 \(linux\/amd64, linux\/arm64\): 6 blobs/m);
        const none = await layerd(['pull', '--listen', agent.host, '--platform', 'linux/s390x', 'upstream.test/pull/multi:v1']);
        assert.equal(none.code, 1);
        assert.equal(lines(none.stderr).length, 1, none.stderr);
        assert.match(none.stderr, /pull\/multi:v1 has no linux\/s390x image \(it has linux\/amd64, linux\/arm64\)/);
        await agent.stop();
    });
    test('an image that does not exist → exit 1 and one line naming it', async () => {
        const agent = await agentFor();
        for (const ref of ['upstream.test/pull/multi:nope', 'upstream.test/pull/absent:v1', `upstream.test/pull/multi@sha256:${'0'.repeat(64)}`]) {
            const r = await layerd(['pull', '--listen', agent.host, ref]);
            assert.equal(r.code, 1, `${ref}: ${r.stderr}`);
            assert.equal(lines(r.stderr).length, 1, r.stderr);
            assert.ok(r.stderr.includes(ref), `names the image: ${r.stderr}`);
            assert.match(r.stderr, /unknown/);
        }
        const unknownRegistry = await layerd(['pull', '--listen', agent.host, 'registry.example.com/app:v1']);
        assert.equal(unknownRegistry.code, 1);
        assert.match(unknownRegistry.stderr, /registry registry\.example\.com is not configured/);
        await agent.stop();
    });
    test('a layer that cannot be fetched → exit 1 naming the image and the blob', async () => {
        const agent = await agentFor();
        const layer = platform(HOST_ARCH).layers[0];
        proxy.failWith({ pathIncludes: layer.digest, status: 404, times: Infinity, body: JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }] }) });
        try {
            const r = await layerd(['pull', '--listen', agent.host, 'upstream.test/pull/multi:v1']);
            assert.equal(r.code, 1, r.stdout);
            assert.equal(lines(r.stderr).length, 1, r.stderr);
            assert.match(r.stderr, /^layerd: pull upstream\.test\/pull\/multi:v1 failed: 1 blob failed: sha256:/);
            assert.ok(r.stderr.includes(layer.digest), r.stderr);
        }
        finally {
            proxy.clearFaults();
        }
        await agent.stop();
    });
    test('no agent at --listen → exit 1 at once; a bad reference → exit 2 before asking anyone', async () => {
        const port = await freePort();
        const r = await layerd(['pull', '--listen', `127.0.0.1:${port}`, 'upstream.test/pull/multi:v1'], 20_000);
        assert.equal(r.code, 1);
        assert.equal(lines(r.stderr).length, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`no agent answering on 127\\.0\\.0\\.1:${port}`));
        // Bounded well below any request timeout (node's start is most of it; timing is noisy here).
        assert.ok(r.ms < 5000, `took ${Math.round(r.ms)} ms`);
        for (const bad of ['Upper/Case:v1', 'a//b', 'repo:bad tag', 'repo@sha256:xyz', ':v1', '']) {
            const b = await layerd(['pull', '--listen', `127.0.0.1:${port}`, bad]);
            assert.equal(b.code, 2, `${JSON.stringify(bad)}: ${b.stderr}`);
            assert.equal(lines(b.stderr).length, 1, b.stderr);
            assert.match(b.stderr, /invalid image reference/);
        }
        const p = await layerd(['pull', '--listen', `127.0.0.1:${port}`, '--platform', 'linux', 'busybox']);
        assert.equal(p.code, 2);
        assert.match(p.stderr, /invalid platform "linux"/);
    });
    test('on a terminal: live progress bars, and the same exit code', { skip: !haveCommand('script') }, async () => {
        const agent = await agentFor();
        const cmd = [process.execPath, AGENT_BIN, 'pull', '--listen', agent.host, '--platform', `linux/${OTHER_ARCH}`, 'upstream.test/pull/multi:v1'].map(a => `'${a}'`).join(' ');
        const r = await run('script', ['-qec', cmd, '/dev/null'], { timeoutMs: 120_000, cwd: REPO_ROOT, env: { ...process.env, COLUMNS: '140', TERM: 'xterm' } });
        assert.equal(r.code, 0, r.stdout);
        assert.ok(r.stdout.includes('█'), `a progress bar:\n${r.stdout}`);
        assert.match(r.stdout, /total/);
        assert.match(r.stdout, /pulled upstream\.test\/pull\/multi:v1/);
        await agent.stop();
    });
    test('docker.io names: busybox is docker.io/library/busybox', async () => {
        const hub = await buildImage({ name: 'library/layerd-pull', tag: 'v1', layers: [256 * 1024], seed: 'it-pull-hub' });
        await pushImage(hub, reg.host, 'library/layerd-pull', 'v1');
        const agent = await startAgent({ upstreams: { 'docker.io': proxy.url }, extraArgs: ['--no-p2p'] });
        const r = await layerd(['pull', '--listen', agent.host, 'layerd-pull:v1']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^pulling docker\.io\/library\/layerd-pull:v1/m);
        const byDigest = await layerd(['pull', '--listen', agent.host, `docker.io/layerd-pull@${hub.topDigest}`]);
        assert.equal(byDigest.code, 0, byDigest.stderr);
        assert.match(byDigest.stdout, /local 256(\.\d+)? KiB, peers 0 B, upstream 0 B$/m);
        await agent.stop();
    });
});
//# sourceMappingURL=pull.test.js.map