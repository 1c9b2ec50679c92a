import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { makeBlob, makeClient, reg, rejection, serveBlob, startServer } from './fixtures.js';
const REPO = 'lib/app';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { digest: 'sha256:' + 'a'.repeat(64), size: 2 }, layers: [] }));
const manifestDigest = 'sha256:' + createHash('sha256').update(manifest).digest('hex');
function manifestHeaders(extra = {}) {
    return { 'content-type': `${OCI_MANIFEST}; charset=utf-8`, 'content-length': String(manifest.length), ...extra };
}
test('manifest: GET passes the Accept list through, mediaType from Content-Type, sha256 computed', async () => {
    const server = await startServer((req, res) => { res.writeHead(200, manifestHeaders({ 'docker-content-digest': manifestDigest })); res.end(manifest); });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        const accept = [OCI_MANIFEST, 'application/vnd.oci.image.index.v1+json'];
        const m = await upstream.getManifest('r.test', REPO, 'latest', accept);
        assert.ok(m.body.equals(manifest));
        assert.equal(m.mediaType, OCI_MANIFEST);
        assert.equal(m.digest, manifestDigest);
        assert.equal(server.requests[0].url, `/v2/${REPO}/manifests/latest`);
        assert.equal(server.requests[0].headers.accept, accept.join(', '));
        const byDigest = await upstream.getManifest('r.test', REPO, manifestDigest, accept);
        assert.equal(byDigest.digest, manifestDigest);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('manifest: body not matching the digest reference → DigestMismatchError', async () => {
    const server = await startServer((req, res) => { res.writeHead(200, manifestHeaders()); res.end(manifest); });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        const wanted = 'sha256:' + 'b'.repeat(64);
        const err = await rejection(upstream.getManifest('r.test', REPO, wanted, []));
        assert.equal(err.code, 'DIGEST_MISMATCH');
        assert.equal(err.expected, wanted);
        assert.equal(err.actual, manifestDigest);
        assert.equal(server.requests.length, 1); // not retried
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('manifest: Docker-Content-Digest differing from the body → DigestMismatchError', async () => {
    const server = await startServer((req, res) => { res.writeHead(200, manifestHeaders({ 'docker-content-digest': 'sha256:' + 'c'.repeat(64) })); res.end(manifest); });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        assert.equal((await rejection(upstream.getManifest('r.test', REPO, 'v1', []))).code, 'DIGEST_MISMATCH');
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('manifest: 404 → ManifestUnknownError, or NameUnknownError when the body says NAME_UNKNOWN', async () => {
    const server = await startServer((req, res) => {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: req.url?.includes('/nope/') === true ? 'NAME_UNKNOWN' : 'MANIFEST_UNKNOWN', message: 'x' }] }));
    });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        assert.equal((await rejection(upstream.getManifest('r.test', REPO, 'missing', []))).code, 'MANIFEST_UNKNOWN');
        assert.equal((await rejection(upstream.getManifest('r.test', 'lib/nope', 'latest', []))).code, 'NAME_UNKNOWN');
        assert.equal((await rejection(upstream.headManifest('r.test', REPO, 'missing', []))).code, 'MANIFEST_UNKNOWN');
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('manifest: bodies over maxManifestBytes are refused (with or without Content-Length)', async () => {
    const big = Buffer.alloc(5000, 0x20);
    const server = await startServer((req, res) => {
        if (req.url?.endsWith('/chunked') === true) {
            res.writeHead(200, { 'content-type': OCI_MANIFEST });
            res.write(big.subarray(0, 2500));
            res.end(big.subarray(2500));
            return;
        }
        res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': String(big.length) });
        res.end(big);
    });
    const { upstream } = makeClient([reg('r.test', server)], { maxManifestBytes: 4096 });
    try {
        const a = await rejection(upstream.getManifest('r.test', REPO, 'big', []));
        assert.equal(a.code, 'UPSTREAM_PROTOCOL');
        assert.match(a.message, /4096/);
        assert.equal((await rejection(upstream.getManifest('r.test', REPO, 'chunked', []))).code, 'UPSTREAM_PROTOCOL');
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('manifest: HEAD uses Docker-Content-Digest, falls back to GET when it is missing', async () => {
    const server = await startServer((req, res) => {
        const withDigest = req.url?.endsWith('/tagged') === true;
        res.writeHead(200, manifestHeaders(withDigest ? { 'docker-content-digest': manifestDigest } : {}));
        res.end(req.method === 'HEAD' ? undefined : manifest);
    });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        assert.deepEqual(await upstream.headManifest('r.test', REPO, 'tagged', []), { mediaType: OCI_MANIFEST, digest: manifestDigest, size: manifest.length });
        assert.deepEqual(server.requests.map(r => r.method), ['HEAD']);
        assert.deepEqual(await upstream.headManifest('r.test', REPO, 'plain', []), { mediaType: OCI_MANIFEST, digest: manifestDigest, size: manifest.length });
        assert.deepEqual(server.requests.map(r => r.method), ['HEAD', 'HEAD', 'GET']);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('manifest: 5xx is retried for manifests too', async () => {
    const server = await startServer((req, res, n) => {
        if (n < 3) {
            res.writeHead(500);
            res.end();
            return;
        }
        res.writeHead(200, manifestHeaders());
        res.end(manifest);
    });
    const { upstream } = makeClient([reg('r.test', server)], { maxAttempts: 3 });
    try {
        assert.equal((await upstream.getManifest('r.test', REPO, 'latest', [])).digest, manifestDigest);
        assert.equal(server.requests.length, 3);
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('statBlob: HEAD gives the size; 404 → BlobUnknownError', async () => {
    const blob = makeBlob(12_345);
    const server = await startServer((req, res) => {
        if (req.url?.includes('/gone/') === true) {
            res.writeHead(404);
            res.end();
            return;
        }
        serveBlob(req, res, blob.data);
    });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        assert.deepEqual(await upstream.statBlob('r.test', REPO, blob.digest), { size: 12_345 });
        assert.equal(server.requests[0].method, 'HEAD');
        assert.equal((await rejection(upstream.statBlob('r.test', 'lib/gone', blob.digest))).code, 'BLOB_UNKNOWN');
    }
    finally {
        await upstream.close();
        await server.close();
    }
});
test('registries: docker.io maps to registry-1.docker.io by default; unknown names and bad input are typed errors', async () => {
    const server = await startServer((req, res) => { res.writeHead(500); res.end(); });
    const { upstream } = makeClient([reg('r.test', server)]);
    try {
        assert.equal(upstream.registry('docker.io').url, 'https://registry-1.docker.io');
        assert.equal(upstream.isCredentialed('docker.io'), false);
        assert.throws(() => upstream.registry('nope.test'), { code: 'REGISTRY_UNKNOWN' });
        assert.equal((await rejection(upstream.statBlob('nope.test', REPO, 'sha256:' + 'a'.repeat(64)))).code, 'REGISTRY_UNKNOWN');
        assert.equal((await rejection(upstream.statBlob('r.test', '../etc', 'sha256:' + 'a'.repeat(64)))).code, 'NAME_INVALID');
        assert.equal((await rejection(upstream.statBlob('r.test', REPO, 'nodigest'))).code, 'DIGEST_INVALID');
        assert.equal(server.requests.length, 0);
    }
    finally {
        await upstream.close();
        await server.close();
    }
    const own = makeClient([{ name: 'docker.io', url: 'http://127.0.0.1:1' }]);
    try {
        assert.equal(own.upstream.registry('docker.io').url, 'http://127.0.0.1:1');
    }
    finally {
        await own.upstream.close();
    }
});
//# sourceMappingURL=manifest.test.js.map