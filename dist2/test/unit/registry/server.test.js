// The HTTP edge in process: a real RegistryServer on 127.0.0.1 port 0, a real BlobStore and
// SessionManager, a fake upstream at its seam and an in-memory router. What a client sees:
// status codes, headers, OCI error bodies, bytes that verify, and what went upstream.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { request as httpRequest } from 'node:http';
import { UpstreamUnavailableError, ManifestUnknownError, BlobUnknownError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { OCI_MANIFEST } from '../../../src/oci/media-types.js';
import { RegistryServer } from '../../../src/registry/server.js';
import { SessionManager } from '../../../src/session/manager.js';
import { BlobStore } from '../../../src/store/blob-store.js';
import { pseudoRandom, sha256, tempDir } from '../support/fixtures.js';
const REG = 'upstream.test';
/** The upstream seam: blobs and manifests from maps, a switch to take it down, counters. */
function fakeUpstream() {
    const blobs = new Map();
    const manifests = new Map();
    const state = { down: false, blobBytes: 0, manifestGets: 0 };
    const up = {
        registry: (name) => ({ name, url: 'http://upstream.invalid' }),
        isCredentialed: () => false,
        async getManifest(_r, repo, ref) {
            if (state.down)
                throw new UpstreamUnavailableError('upstream down (test)');
            state.manifestGets++;
            const body = manifests.get(`${repo}:${ref}`);
            if (body === undefined)
                throw new ManifestUnknownError(`manifest ${ref} unknown`);
            return { body, mediaType: OCI_MANIFEST, digest: sha256(body) };
        },
        async headManifest(r, repo, ref, accept) {
            const m = await up.getManifest(r, repo, ref, accept);
            return { mediaType: m.mediaType, digest: m.digest, size: m.body.length };
        },
        async statBlob(_r, _n, digest) {
            if (state.down)
                throw new UpstreamUnavailableError('upstream down (test)');
            const b = blobs.get(digest);
            if (b === undefined)
                throw new BlobUnknownError(`blob ${digest} unknown`);
            return { size: b.length };
        },
        async fetchBlob(_r, _n, digest, o) {
            if (state.down)
                throw new UpstreamUnavailableError('upstream down (test)');
            const b = blobs.get(digest);
            if (b === undefined)
                throw new BlobUnknownError(`blob ${digest} unknown`);
            const part = b.subarray(o.start, o.end ?? b.length);
            state.blobBytes += part.length;
            async function* body() { for (let p = 0; p < part.length; p += 256 * 1024)
                yield part.subarray(p, p + 256 * 1024); }
            return { size: b.length, body: body() };
        },
        pause: () => false,
        onRateLimited: () => () => { },
        close: async () => { }
    };
    return {
        up,
        state,
        addBlob: (data) => { const d = sha256(data); blobs.set(d, data); return d; },
        addManifest: (repo, tag, body) => { manifests.set(`${repo}:${tag}`, body); manifests.set(`${repo}:${sha256(body)}`, body); return sha256(body); }
    };
}
async function edge(t, extra = {}) {
    const { dir, cleanup } = await tempDir();
    const metrics = createMetrics({ defaultMetrics: false });
    const store = await BlobStore.open({ dataDir: dir, logger: silentLogger(), metrics });
    const fake = fakeUpstream();
    const sessions = new SessionManager({ store, upstream: fake.up, metrics, logger: silentLogger() });
    let gcCalls = 0;
    const server = new RegistryServer({
        store, sessions, upstream: fake.up, metrics, logger: silentLogger(),
        defaultRegistry: REG,
        knownRegistries: () => [REG, 'docker.io'],
        adminRoutes: { gc: { method: 'POST', handle: async () => { gcCalls++; return { removed: [] }; } }, ...extra.adminRoutes },
        page: extra.page
    });
    const addr = await server.listen('127.0.0.1', 0);
    t.after(async () => { await server.close(); await sessions.stop(); await store.close(); await cleanup(); });
    // node:http sends the path as given (a client that resolves `..` would hide the traversal).
    const get = async (path, opts = {}) => await new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: addr.port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
            const parts = [];
            res.on('data', (c) => parts.push(c));
            res.on('end', () => {
                const body = Buffer.concat(parts);
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
            });
            res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
    });
    return { fake, get, store, sessions, metrics, gcCalls: () => gcCalls };
}
const errorCode = (r) => {
    const e = r.json().errors[0];
    return { code: e.code, detail: e.detail.code };
};
test('edge: /v2/ answers the API version check', async (t) => {
    const { get } = await edge(t);
    const r = await get('/v2/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.deepEqual(r.json(), {});
});
test('edge: a cold blob verifies, the second GET is a cache hit that costs upstream nothing', async (t) => {
    const { get, fake, store } = await edge(t);
    const data = pseudoRandom(3 * 1024 * 1024 + 17, 501);
    const d = fake.addBlob(data);
    const first = await get(`/v2/app/blobs/${d}`);
    assert.equal(first.status, 200);
    assert.equal(sha256(first.body), d);
    assert.equal(first.headers['docker-content-digest'], d);
    assert.equal(first.headers['content-length'], String(data.length));
    assert.equal((await store.stat(d))?.state, 'complete');
    const before = fake.state.blobBytes;
    const second = await get(`/v2/app/blobs/${d}`);
    assert.equal(sha256(second.body), d);
    assert.equal(fake.state.blobBytes, before, 'nothing fetched upstream for a cache hit');
});
test('edge: Range requests get 206 with Content-Range; past the end is 416 with the size', async (t) => {
    const { get, fake } = await edge(t);
    const data = pseudoRandom(100_000, 502);
    const d = fake.addBlob(data);
    const r = await get(`/v2/app/blobs/${d}`, { headers: { range: 'bytes=1000-1999' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 1000-1999/${data.length}`);
    assert.deepEqual(r.body, data.subarray(1000, 2000));
    const past = await get(`/v2/app/blobs/${d}`, { headers: { range: 'bytes=200000-' } });
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], `bytes */${data.length}`);
    assert.equal(errorCode(past).code, 'RANGE_INVALID');
    const bad = await get(`/v2/app/blobs/${d}`, { headers: { range: 'bytes=abc' } });
    assert.equal(bad.status, 416);
});
test('edge: HEAD of a blob gives its headers and no body', async (t) => {
    const { get, fake } = await edge(t);
    const data = pseudoRandom(5000, 503);
    const d = fake.addBlob(data);
    const r = await get(`/v2/app/blobs/${d}`, { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '5000');
    assert.equal(r.body.length, 0);
});
test('edge: bad input gets an OCI error body with our stable code', async (t) => {
    const { get } = await edge(t);
    const cases = [
        ['/v2/app/blobs/sha256:xyz', 400, 'DIGEST_INVALID', 'DIGEST_INVALID'],
        ['/v2/app/blobs/md5:' + 'a'.repeat(32), 400, 'DIGEST_INVALID', 'DIGEST_INVALID'],
        ['/v2/a/../b/blobs/sha256:' + 'a'.repeat(64), 400, 'NAME_INVALID', 'NAME_INVALID'],
        ['/v2/App/manifests/latest', 400, 'NAME_INVALID', 'NAME_INVALID'],
        [`/v2/app/blobs/sha256:${'a'.repeat(64)}?ns=other.test`, 404, 'NAME_UNKNOWN', 'REGISTRY_UNKNOWN'],
        [`/v2/app/blobs/sha256:${'a'.repeat(64)}`, 404, 'BLOB_UNKNOWN', 'BLOB_UNKNOWN'],
        ['/v2/app/manifests/nope', 404, 'MANIFEST_UNKNOWN', 'MANIFEST_UNKNOWN']
    ];
    for (const [path, status, code, detail] of cases) {
        const r = await get(path);
        assert.equal(r.status, status, path);
        assert.deepEqual(errorCode(r), { code, detail }, path);
    }
    const push = await get('/v2/app/blobs/uploads/', { method: 'POST' });
    assert.equal(push.status, 405);
    assert.equal(errorCode(push).code, 'UNSUPPORTED');
});
test('edge: a tag resolves upstream each time; while upstream is down the last known digest serves', async (t) => {
    const { get, fake } = await edge(t);
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { digest: sha256(Buffer.from('x')), size: 1 }, layers: [] }));
    const d = fake.addManifest('app', 'v1', body);
    const r1 = await get('/v2/app/manifests/v1');
    assert.equal(r1.status, 200);
    assert.equal(r1.headers['docker-content-digest'], d);
    assert.equal(r1.headers['content-type'], OCI_MANIFEST);
    assert.deepEqual(r1.body, body);
    await get('/v2/app/manifests/v1');
    assert.equal(fake.state.manifestGets, 2, 'each tag request asks upstream');
    fake.state.down = true;
    const r2 = await get('/v2/app/manifests/v1');
    assert.equal(r2.status, 200);
    assert.equal(createHash('sha256').update(r2.body).digest('hex'), d.slice(7));
    const byDigest = await get(`/v2/app/manifests/${d}`);
    assert.equal(byDigest.status, 200, 'a manifest by digest comes from the store');
    const unknown = await get('/v2/app/manifests/v2');
    assert.equal(unknown.status, 503);
    assert.equal(errorCode(unknown).detail, 'UPSTREAM_UNAVAILABLE');
});
test('edge: admin routes check their method; /metrics shows the store without walking it', async (t) => {
    const { get, fake, gcCalls } = await edge(t);
    const wrong = await get('/_layerd/gc');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'POST');
    assert.equal(gcCalls(), 0);
    const ok = await get('/_layerd/gc', { method: 'POST' });
    assert.equal(ok.status, 200);
    assert.equal(gcCalls(), 1);
    assert.equal((await get('/_layerd/nothing')).status, 404);
    const d = fake.addBlob(pseudoRandom(70_000, 504));
    await get(`/v2/app/blobs/${d}`);
    const m = (await get('/metrics')).body.toString();
    assert.match(m, /layerd_store_blobs\{state="complete"\} 1\b/);
    assert.match(m, /layerd_store_bytes\{state="complete"\} 70000\b/);
    assert.match(m, /layerd_store_blobs\{state="partial"\} 0\b/);
});
test('edge: a route named `name/` takes the rest of the path; GET / is the page when one is mounted', async (t) => {
    const { get } = await edge(t, {
        adminRoutes: { 'job/': { method: 'GET', handle: async (_req, rest) => ({ rest }) } },
        page: async (_req, res) => { res.writeHead(200, { 'Content-Type': 'text/html' }).end('<p>page</p>'); }
    });
    const r = await get('/_layerd/job/abc123');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { rest: 'abc123' });
    assert.equal((await get('/_layerd/job/abc', { method: 'POST' })).status, 405);
    assert.equal((await get('/_layerd/job')).status, 404, 'no route `job`');
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.equal(page.body.toString(), '<p>page</p>');
    assert.equal((await get('/v2/')).status, 200);
});
test('edge: bytes served to clients are counted by where they came from', async (t) => {
    const { get, fake, metrics } = await edge(t);
    const data = pseudoRandom(3 * 1024 * 1024 + 5, 77);
    const d = fake.addBlob(data);
    const served = async () => {
        const out = {};
        for (const v of (await metrics.bytesServedBySource.get()).values)
            out[String(v.labels.source)] = v.value;
        return out;
    };
    const cold = await get(`/v2/app/blobs/${d}`);
    assert.equal(sha256(cold.body), d);
    assert.deepEqual(await served(), { upstream: data.length }, 'cold: all of it came from upstream');
    const warm = await get(`/v2/app/blobs/${d}`);
    assert.equal(sha256(warm.body), d);
    assert.deepEqual(await served(), { upstream: data.length, local: data.length }, 'then from the disk');
});
//# sourceMappingURL=server.test.js.map