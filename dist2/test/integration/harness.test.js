// Self-test of the real-component test harness (no agent involved): docker-registry, offline OCI
// images, skopeo through the counting/fault-injecting proxy, a token-auth registry, and network
// namespaces.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, stopAll } from '../helpers/proc.js';
import { startRegistry } from '../helpers/registry.js';
import { buildImage, pushImage, blobPath } from '../helpers/images.js';
import { startProxy } from '../helpers/proxy.js';
import { skopeoCopy, verifyDirBlobs, writeRegistriesConf } from '../helpers/skopeo.js';
import { createNetwork, listNamespaces } from '../helpers/netns.js';
import { startContainerd, writeHostsDir } from '../helpers/containerd.js';
import { startDockerd } from '../helpers/dockerd.js';
after(stopAll);
const MiB = 1 << 20;
async function readAll(res) {
    const h = createHash('sha256');
    let bytes = 0;
    try {
        for await (const chunk of res.body) {
            h.update(chunk);
            bytes += chunk.length;
        }
        return { bytes, hash: h.digest('hex') };
    }
    catch (error) {
        return { bytes, error, hash: h.digest('hex') };
    }
}
describe('harness', () => {
    test('registry + image + skopeo through the counting proxy', async (t) => {
        const t0 = performance.now();
        const reg = await startRegistry({ cleanup: t });
        const tReg = performance.now();
        const img = await buildImage({ name: 'harness/app', tag: 'v1', layers: [3 * MiB, 1 * MiB], seed: 'harness-1' });
        const tBuild = performance.now();
        assert.equal(img.layers.length, 2);
        assert.ok(img.layers.every(l => l.size > l.dataBytes), 'gzip of random data is not smaller');
        // Deterministic: the layout's blobs match their names.
        for (const b of img.blobs) {
            const hex = createHash('sha256').update(readFileSync(blobPath(img.layoutDir, b.digest))).digest('hex');
            assert.equal(`sha256:${hex}`, b.digest);
        }
        await pushImage(img, reg.host, 'harness/app', 'v1');
        const tPush = performance.now();
        const proxy = await startProxy(reg.url, { cleanup: t });
        const out = join(makeTempDir('harness-out'), 'img');
        const r = await skopeoCopy(`${proxy.host}/harness/app:v1`, out);
        assert.ok(r.ok, r.stderr);
        const tPull = performance.now();
        const v = await verifyDirBlobs(out);
        assert.ok(v.ok, `bad blobs: ${v.bad.join(',')}`);
        assert.equal(v.manifestDigest, img.topDigest);
        const served = new Set(v.blobs.map(b => b.digest));
        for (const l of img.layers)
            assert.ok(served.has(l.digest), `layer ${l.digest} pulled`);
        assert.ok(served.has(img.configDigest));
        await proxy.idle();
        // Byte accounting: exactly each blob once, the manifest once, and a few bytes of /v2/ bodies.
        for (const b of [...img.layers, { digest: img.configDigest, size: img.platforms[0]?.configSize ?? 0 }]) {
            assert.equal(proxy.bytesFor(b.digest), b.size, `bytes for ${b.digest}`);
        }
        const expected = img.layers.reduce((s, l) => s + l.size, 0) + (img.platforms[0]?.configSize ?? 0) + img.topSize;
        const total = proxy.totalBytes();
        assert.ok(total >= expected && total <= expected + 1024, `total ${total} vs expected ${expected}`);
        const layerGets = proxy.requestsFor(img.layers[0]?.digest ?? 'x', 'GET');
        assert.equal(layerGets.length, 1);
        assert.equal(layerGets[0]?.status, 200);
        // Range passes through.
        const l0 = img.layers[0];
        assert.ok(l0 !== undefined);
        const rr = await fetch(`${proxy.url}/v2/harness/app/blobs/${l0.digest}`, { headers: { range: 'bytes=100-199' } });
        assert.equal(rr.status, 206);
        const part = Buffer.from(await rr.arrayBuffer());
        assert.deepEqual(part, readFileSync(blobPath(img.layoutDir, l0.digest)).subarray(100, 200));
        assert.equal(proxy.requests().at(-1)?.range, 'bytes=100-199');
        t.diagnostic(`registry ${(tReg - t0).toFixed(0)} ms, build ${(tBuild - tReg).toFixed(0)} ms (cached=${String(img.fromCache)}), push ${(tPush - tBuild).toFixed(0)} ms, pull ${(tPull - tPush).toFixed(0)} ms`);
        // Pushing through the proxy: request bodies stream upstream and upload Locations (absolute
        // URLs to the registry) are rewritten to come back through the proxy.
        proxy.reset();
        await pushImage(img, proxy.host, 'harness/via-proxy', 'v1');
        assert.ok(proxy.requests().some(e => e.method === 'PUT' && e.path.includes('/blobs/uploads/')), 'upload finished through the proxy');
        const head = await fetch(`${reg.url}/v2/harness/via-proxy/manifests/v1`, { method: 'HEAD', headers: { accept: img.topMediaType } });
        assert.equal(head.headers.get('docker-content-digest'), img.topDigest);
        // skopeo as a mirror client: a registries.conf prefix whose only working endpoint is the mirror.
        const conf = writeRegistriesConf(join(makeTempDir('harness-conf'), 'registries.conf'), { prefix: 'upstream.test', mirror: proxy.host });
        proxy.reset();
        const out2 = join(makeTempDir('harness-out'), 'img');
        const r2 = await skopeoCopy('upstream.test/harness/app:v1', out2, { registriesConf: conf });
        assert.ok(r2.ok, r2.stderr);
        assert.ok((await verifyDirBlobs(out2)).ok);
        assert.ok(proxy.bytesFor(l0.digest) === l0.size);
    });
    test('proxy faults: cut, corrupt, status, stall', async (t) => {
        const reg = await startRegistry({ cleanup: t });
        const img = await buildImage({ name: 'harness/app', tag: 'v1', layers: [3 * MiB, 1 * MiB], seed: 'harness-1' });
        await pushImage(img, reg.host, 'harness/app', 'v1');
        const proxy = await startProxy(reg.url, { cleanup: t });
        const l0 = img.layers[0];
        assert.ok(l0 !== undefined);
        const blobUrl = `${proxy.url}/v2/harness/app/blobs/${l0.digest}`;
        // Cut: the client gets exactly N bytes, then the body ends early.
        proxy.cutAfter({ pathIncludes: l0.digest, bytes: 100_000, times: 1 });
        const res = await fetch(blobUrl);
        assert.equal(res.status, 200);
        assert.equal(Number(res.headers.get('content-length')), l0.size);
        const got = await readAll(res);
        assert.ok(got.error !== undefined, 'client saw an error');
        assert.equal(got.bytes, 100_000);
        assert.equal(proxy.requestsFor(l0.digest).at(-1)?.incomplete, true);
        // A skopeo pull through a cut fails (skopeo does not resume).
        proxy.cutAfter({ pathIncludes: l0.digest, bytes: 500_000, times: 1 });
        const r = await skopeoCopy(`${proxy.host}/harness/app:v1`, join(makeTempDir('harness-cut'), 'img'));
        assert.equal(r.ok, false);
        // The fault was used up: the next fetch is whole and correct.
        const whole = await readAll(await fetch(blobUrl));
        assert.equal(whole.error, undefined);
        assert.equal(`sha256:${whole.hash}`, l0.digest);
        // Corrupt one byte: same length, wrong digest.
        proxy.corrupt({ pathIncludes: l0.digest, offset: 12345 });
        const bad = await readAll(await fetch(blobUrl));
        assert.equal(bad.bytes, l0.size);
        assert.notEqual(`sha256:${bad.hash}`, l0.digest);
        // Status.
        proxy.failWith({ pathIncludes: '/manifests/', status: 503, times: 2 });
        assert.equal((await fetch(`${proxy.url}/v2/harness/app/manifests/v1`)).status, 503);
        assert.equal((await fetch(`${proxy.url}/v2/harness/app/manifests/v1`, { method: 'HEAD' })).status, 503);
        const ok = await fetch(`${proxy.url}/v2/harness/app/manifests/v1`, { headers: { accept: img.topMediaType } });
        assert.equal(ok.status, 200);
        await ok.arrayBuffer();
        // Stall after some bytes: the transfer takes at least that long and is still correct.
        proxy.stall({ pathIncludes: l0.digest, afterBytes: 1000, ms: 300 });
        const s0 = performance.now();
        const stalled = await readAll(await fetch(blobUrl));
        assert.ok(performance.now() - s0 >= 290);
        assert.equal(`sha256:${stalled.hash}`, l0.digest);
    });
    test('token-auth registry: anonymous pull fails, credentialed pull works', async (t) => {
        const reg = await startRegistry({ auth: 'token', cleanup: t });
        assert.ok(reg.pushCreds !== undefined && reg.pullCreds !== undefined && reg.tokenServer !== undefined);
        const challenge = await fetch(`${reg.url}/v2/`);
        assert.equal(challenge.status, 401);
        assert.match(challenge.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
        const img = await buildImage({ name: 'harness/private', tag: 'v1', layers: [256 * 1024, 128 * 1024], seed: 'harness-token' });
        await assert.rejects(pushImage(img, reg.host, 'harness/private', 'v1', reg.pullCreds), /push failed/);
        await pushImage(img, reg.host, 'harness/private', 'v1', reg.pushCreds);
        const dir = makeTempDir('harness-token');
        const anon = await skopeoCopy(`${reg.host}/harness/private:v1`, join(dir, 'anon'));
        assert.equal(anon.ok, false);
        assert.match(anon.stderr, /unauthorized|authentication required|denied/i);
        const wrong = await skopeoCopy(`${reg.host}/harness/private:v1`, join(dir, 'wrong'), { creds: { username: 'reader', password: 'nope' } });
        assert.equal(wrong.ok, false);
        const before = reg.tokenServer.requestCount();
        const good = await skopeoCopy(`${reg.host}/harness/private:v1`, join(dir, 'good'), { creds: reg.pullCreds });
        assert.ok(good.ok, good.stderr);
        assert.ok((await verifyDirBlobs(join(dir, 'good'))).ok);
        assert.ok(reg.tokenServer.requestCount() > before);
        const last = reg.tokenServer.requests().at(-1);
        assert.equal(last?.account, 'reader');
        assert.deepEqual(last?.granted, [{ name: 'harness/private', actions: ['pull'] }]);
    });
    test('containerd pulls through a hosts.toml mirror and resumes a cut blob with Range', async (t) => {
        const reg = await startRegistry({ cleanup: t });
        const img = await buildImage({ name: 'harness/multi', tag: 'v1', layers: [2 * MiB, 512 * 1024], seed: 'harness-ctr', platforms: ['linux/amd64', 'linux/arm64'], sharedLayers: 1 });
        assert.ok(img.indexDigest !== undefined);
        assert.equal(img.layers.length, 3, 'one shared + one per platform');
        await pushImage(img, reg.host, 'harness/multi', 'v1');
        const proxy = await startProxy(reg.url, { cleanup: t });
        const t0 = performance.now();
        const cd = await startContainerd({ cleanup: t });
        const tReady = performance.now();
        const hosts = writeHostsDir(makeTempDir('harness-hosts'), { registry: 'upstream.test', mirrors: proxy.url });
        const amd = img.platforms[0];
        assert.ok(amd !== undefined);
        const big = amd.layers[0];
        assert.ok(big !== undefined);
        proxy.cutAfter({ pathIncludes: big.digest, bytes: 300_000 });
        const r = await cd.pull('upstream.test/harness/multi:v1', { hostsDir: hosts, namespace: 'harness', platform: 'linux/amd64' });
        assert.ok(r.ok, r.stderr);
        t.diagnostic(`containerd ready ${(tReady - t0).toFixed(0)} ms, pull ${(performance.now() - tReady).toFixed(0)} ms`);
        const gets = proxy.requestsFor(big.digest, 'GET');
        assert.equal(gets.length, 2);
        assert.equal(gets[0]?.incomplete, true);
        assert.equal(gets[1]?.range, 'bytes=300000-');
        assert.ok(proxy.requests().every(e => e.url.includes('ns=upstream.test') || e.path === '/v2/'));
        const content = await cd.contentDigests('harness');
        for (const l of amd.layers)
            assert.ok(content.includes(l.digest));
        assert.ok(content.includes(img.indexDigest));
        await cd.stop();
    });
    test('dockerd pulls a Docker Hub name through registry-mirrors', async (t) => {
        const reg = await startRegistry({ cleanup: t });
        const img = await buildImage({ name: 'library/busybox', tag: 'harness', layers: [1 * MiB, 256 * 1024], seed: 'harness-docker' });
        await pushImage(img, reg.host, 'library/busybox', 'harness');
        const proxy = await startProxy(reg.url, { cleanup: t });
        const t0 = performance.now();
        const dd = await startDockerd({ mirrors: [proxy.url], cleanup: t });
        const tReady = performance.now();
        const r = await dd.pull('busybox:harness');
        assert.ok(r.ok, r.stderr + r.stdout);
        assert.match(r.stdout, new RegExp(img.topDigest));
        t.diagnostic(`dockerd ready ${(tReady - t0).toFixed(0)} ms, pull ${(performance.now() - tReady).toFixed(0)} ms`);
        for (const l of img.layers)
            assert.equal(proxy.bytesFor(l.digest), l.size);
        await dd.stop();
    });
    test('netns: two hosts talk over the test bridge, cleanup leaves nothing', async (t) => {
        const t0 = performance.now();
        const net = await createNetwork({ hosts: 2, cleanup: t });
        const tUp = performance.now();
        assert.equal(net.hosts[0]?.ip, '10.77.0.1');
        assert.equal(listNamespaces(net.prefix).length, 3);
        const server = net.spawn(2, process.execPath, ['-e',
            "const s=require('net').createServer(c=>{c.end('pong '+c.remoteAddress)});s.listen(7777,'10.77.0.2',()=>console.log('listening'));setTimeout(()=>process.exit(0),20000)"]);
        await server.waitForLine(l => l.includes('listening'), 10_000);
        const r = await net.run(1, process.execPath, ['-e',
            "const c=require('net').connect(7777,'10.77.0.2');let d='';c.on('data',b=>d+=b);c.on('end',()=>{console.log(d);process.exit(0)});c.on('error',e=>{console.error(e.message);process.exit(1)});setTimeout(()=>process.exit(2),5000)"], { timeoutMs: 10_000 });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), 'pong 10.77.0.1');
        // Inside a host namespace the route to a peer is the test link.
        const rootTry = await net.run(1, 'ip', ['route', 'get', '10.77.0.2']);
        assert.match(rootTry.stdout, /dev eth0/);
        await net.destroy();
        t.diagnostic(`netns up ${(tUp - t0).toFixed(0)} ms, total ${(performance.now() - t0).toFixed(0)} ms`);
        assert.equal(server.alive(), false);
        assert.deepEqual(listNamespaces(net.prefix), []);
    });
});
//# sourceMappingURL=harness.test.js.map