// Issue A, real clients through one agent (no peers): skopeo (single-arch with 3 × 20 MB layers,
// and a multi-arch index with --all), containerd with a hosts.toml mirror (?ns=), dockerd with
// registry-mirrors. Every received blob is checked against its sha256; upstream bytes are counted
// by the proxy between the agent and a real docker-registry; a second pull costs ~0 upstream blob
// bytes; /metrics agrees with the proxy.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, stopAll } from '../helpers/proc.js';
import { startRegistry } from '../helpers/registry.js';
import { buildImage, pushImage } from '../helpers/images.js';
import { startProxy } from '../helpers/proxy.js';
import { startAgent } from '../helpers/agent.js';
import { skopeoCopy, verifyDirBlobs, writeRegistriesConf } from '../helpers/skopeo.js';
import { startContainerd, writeHostsDir } from '../helpers/containerd.js';
import { startDockerd } from '../helpers/dockerd.js';
import { getMetrics, metricValue } from '../helpers/agent-http.js';
after(stopAll);
const MiB = 1 << 20;
/** Bytes a tag lookup may cost upstream on a warm pull (manifests and /v2/ bodies, never blobs). */
const MANIFEST_SLACK = 64 * 1024;
async function sha256File(path) {
    const h = createHash('sha256');
    for await (const c of createReadStream(path, { highWaterMark: MiB }))
        h.update(c);
    return `sha256:${h.digest('hex')}`;
}
describe('real clients through the agent', () => {
    let reg;
    let proxy;
    let agent;
    let big;
    let multi;
    let ctrImg;
    let dockImg;
    const work = makeTempDir('it-clients');
    before(async () => {
        reg = await startRegistry();
        [big, multi, ctrImg, dockImg] = await Promise.all([
            buildImage({ name: 'clients/big', tag: 'v1', layers: [20 * MiB, 20 * MiB, 20 * MiB], seed: 'it-clients-big' }),
            buildImage({ name: 'clients/multi', tag: 'v1', layers: [2 * MiB, 1 * MiB], seed: 'it-clients-multi', platforms: ['linux/amd64', 'linux/arm64'], sharedLayers: 1 }),
            buildImage({ name: 'clients/ctr', tag: 'v1', layers: [6 * MiB, 1 * MiB], seed: 'it-clients-ctr' }),
            buildImage({ name: 'library/layerd-it', tag: 'v1', layers: [4 * MiB, 512 * 1024], seed: 'it-clients-docker' }),
        ]);
        await pushImage(big, reg.host, 'clients/big', 'v1');
        await pushImage(multi, reg.host, 'clients/multi', 'v1');
        await pushImage(ctrImg, reg.host, 'clients/ctr', 'v1');
        await pushImage(dockImg, reg.host, 'library/layerd-it', 'v1');
        proxy = await startProxy(reg.url);
        agent = await startAgent({
            upstreams: { 'docker.io': proxy.url, 'upstream.test': proxy.url },
            defaultRegistry: 'docker.io',
            extraArgs: ['--no-p2p'],
        });
    });
    test('skopeo: 3 × 20 MB layers through the agent as a registries.conf mirror; warm pull costs no blob bytes', async () => {
        const conf = writeRegistriesConf(join(work, 'registries.conf'), { prefix: 'upstream.test', mirror: agent.host });
        proxy.reset();
        const out = join(work, 'big-1');
        const r = await skopeoCopy('upstream.test/clients/big:v1', out, { registriesConf: conf });
        assert.ok(r.ok, r.stderr);
        const v = await verifyDirBlobs(out);
        assert.deepEqual(v.bad, [], 'every blob matches its sha256');
        assert.equal(v.manifestDigest, big.topDigest);
        const got = new Set(v.blobs.map(b => b.digest));
        for (const l of big.layers)
            assert.ok(got.has(l.digest), `layer ${l.digest} received`);
        assert.ok(got.has(big.configDigest), 'config received');
        await proxy.idle();
        for (const l of big.layers) {
            const up = proxy.bytesFor(l.digest);
            assert.ok(up >= l.size && up <= l.size + 64 * 1024, `cold: upstream bytes for ${l.digest}: ${up}, size ${l.size}`);
        }
        proxy.reset();
        const out2 = join(work, 'big-2');
        const r2 = await skopeoCopy('upstream.test/clients/big:v1', out2, { registriesConf: conf });
        assert.ok(r2.ok, r2.stderr);
        const v2 = await verifyDirBlobs(out2);
        assert.deepEqual(v2.bad, []);
        assert.equal(v2.manifestDigest, big.topDigest);
        await proxy.idle();
        const blobBytes = [...big.layers.map(l => l.digest), big.configDigest].reduce((s, d) => s + proxy.bytesFor(d), 0);
        assert.equal(blobBytes, 0, 'warm pull: no blob bytes from upstream');
        assert.ok(proxy.totalBytes() <= MANIFEST_SLACK, `warm pull upstream total ${proxy.totalBytes()} bytes`);
    });
    test('skopeo --all: a multi-arch index, every platform manifest and layer verifies', async () => {
        assert.ok(multi.indexDigest !== undefined);
        proxy.reset();
        const out = join(work, 'multi');
        const r = await skopeoCopy(`${agent.host}/clients/multi:v1`, out, { all: true });
        assert.ok(r.ok, r.stderr);
        const v = await verifyDirBlobs(out);
        assert.deepEqual(v.bad, []);
        assert.equal(v.manifestDigest, multi.indexDigest, 'the index itself, byte for byte');
        const got = new Set(v.blobs.map(b => b.digest));
        for (const p of multi.platforms) {
            assert.ok(got.has(p.manifestDigest), `${p.platform} manifest`);
            assert.ok(got.has(p.configDigest), `${p.platform} config`);
            for (const l of p.layers)
                assert.ok(got.has(l.digest), `${p.platform} layer ${l.digest}`);
        }
        await proxy.idle();
        // The shared layer is fetched once even though both platforms list it.
        const shared = multi.platforms[0]?.layers[0];
        assert.ok(shared !== undefined);
        assert.ok(proxy.bytesFor(shared.digest) <= shared.size + 64 * 1024, `shared layer upstream bytes ${proxy.bytesFor(shared.digest)}`);
    });
    test('containerd: ctr pull --hosts-dir with a mirror entry (?ns=) gets verified blobs', async (t) => {
        const cd = await startContainerd({ cleanup: t });
        const hosts = writeHostsDir(join(work, 'hosts'), { registry: 'upstream.test', mirrors: agent.url });
        proxy.reset();
        const r = await cd.pull('upstream.test/clients/ctr:v1', { hostsDir: hosts, namespace: 'it' });
        assert.ok(r.ok, r.stderr + r.stdout);
        const content = await cd.contentDigests('it');
        for (const d of [ctrImg.topDigest, ctrImg.configDigest, ...ctrImg.layers.map(l => l.digest)]) {
            assert.ok(content.includes(d), `containerd holds ${d}`);
            const file = join(cd.dir, 'root', 'io.containerd.content.v1.content', 'blobs', 'sha256', d.slice('sha256:'.length));
            assert.ok(existsSync(file), `content file for ${d}`);
            assert.equal(await sha256File(file), d, `containerd's copy of ${d} verifies`);
        }
        await proxy.idle();
        for (const l of ctrImg.layers)
            assert.ok(proxy.bytesFor(l.digest) <= l.size + 64 * 1024 && proxy.bytesFor(l.digest) >= l.size, `upstream bytes for ${l.digest}: ${proxy.bytesFor(l.digest)}`);
        await cd.stop();
    });
    test('dockerd: docker pull through registry-mirrors (Docker Hub name), layers match diff_ids; re-pull costs no blob bytes', async (t) => {
        const dd = await startDockerd({ mirrors: [agent.url], cleanup: t });
        proxy.reset();
        const r = await dd.pull('layerd-it:v1');
        assert.ok(r.ok, r.stderr + r.stdout);
        assert.match(r.stdout, new RegExp(dockImg.topDigest));
        const insp = await dd.docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'layerd-it:v1']);
        assert.equal(insp.code, 0, insp.stderr);
        assert.deepEqual(JSON.parse(insp.stdout.trim()), dockImg.layers.map(l => l.diffId), 'uncompressed layers verify against the config diff_ids');
        await proxy.idle();
        for (const l of dockImg.layers)
            assert.ok(proxy.bytesFor(l.digest) >= l.size && proxy.bytesFor(l.digest) <= l.size + 64 * 1024, `upstream bytes for ${l.digest}: ${proxy.bytesFor(l.digest)}`);
        const rm = await dd.removeImage('layerd-it:v1');
        assert.equal(rm.code, 0, rm.stderr);
        proxy.reset();
        const r2 = await dd.pull('layerd-it:v1');
        assert.ok(r2.ok, r2.stderr + r2.stdout);
        await proxy.idle();
        const blobBytes = [...dockImg.layers.map(l => l.digest), dockImg.configDigest].reduce((s, d) => s + proxy.bytesFor(d), 0);
        assert.equal(blobBytes, 0, 'second docker pull: no blob bytes from upstream');
        await dd.stop();
    });
    test('/metrics: served, upstream, stored-by-state and verification counters agree with the proxy', async () => {
        // Everything so far went through this agent; make it a clean comparison from a fresh count.
        proxy.reset();
        const before = await getMetrics(agent.url);
        const up0 = metricValue(before, 'layerd_upstream_bytes_total');
        // One more cold image, counted by both sides.
        const extra = await buildImage({ name: 'clients/metrics', tag: 'v1', layers: [3 * MiB], seed: 'it-clients-metrics' });
        await pushImage(extra, reg.host, 'clients/metrics', 'v1');
        proxy.reset();
        const r = await skopeoCopy(`${agent.host}/clients/metrics:v1`, join(work, 'metrics'));
        assert.ok(r.ok, r.stderr);
        await proxy.idle();
        const text = await getMetrics(agent.url);
        const upDelta = metricValue(text, 'layerd_upstream_bytes_total') - up0;
        const proxied = proxy.totalBytes();
        assert.ok(proxied > 3 * MiB, `proxy counted ${proxied}`);
        assert.ok(Math.abs(upDelta - proxied) <= 16 * 1024, `agent's upstream bytes ${upDelta} vs proxy ${proxied}`);
        const served = metricValue(text, 'layerd_bytes_served_total');
        const storedComplete = metricValue(text, 'layerd_store_bytes', { state: 'complete' });
        const blobsComplete = metricValue(text, 'layerd_store_blobs', { state: 'complete' });
        const everyLayer = [...big.layers, ...multi.layers, ...ctrImg.layers, ...dockImg.layers, ...extra.layers];
        const layerBytes = everyLayer.reduce((s, l) => s + l.size, 0);
        assert.ok(storedComplete >= layerBytes, `stored complete bytes ${storedComplete} >= every layer pulled ${layerBytes}`);
        assert.ok(blobsComplete >= everyLayer.length, `complete blobs ${blobsComplete}`);
        assert.equal(metricValue(text, 'layerd_store_blobs', { state: 'partial' }), 0, 'nothing left partial');
        // Big was pulled twice, docker's image twice: served > stored.
        assert.ok(served >= layerBytes + big.layers.reduce((s, l) => s + l.size, 0), `served ${served}`);
        const upstreamTotal = metricValue(text, 'layerd_upstream_bytes_total');
        assert.ok(upstreamTotal >= layerBytes && upstreamTotal <= layerBytes * 1.01 + 512 * 1024, `upstream total ${upstreamTotal} vs layers ${layerBytes}`);
        for (const name of ['layerd_upstream_resumes_total', 'layerd_verification_failures_total']) {
            assert.match(text, new RegExp(`^# TYPE ${name} counter`, 'm'), `${name} exposed`);
        }
        assert.equal(metricValue(text, 'layerd_verification_failures_total'), 0);
    });
});
//# sourceMappingURL=agent-clients.test.js.map