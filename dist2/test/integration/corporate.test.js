// Issue 9, corporate networks: an upstream registry with a certificate from a private CA, reachable
// only through a CONNECT proxy that resolves its name.
//
// 1. A real docker-registry serving TLS (certificate for registry.test and 127.0.0.1, signed by a
//    CA made here with openssl). The agent's upstream is https://registry.test:PORT: a name no
//    resolver knows, so a pull can only work when the proxy (test/helpers/connect-proxy.ts, which
//    maps registry.test to 127.0.0.1) carried it. The agent runs with HTTPS_PROXY (with proxy
//    credentials) and NO_PROXY=127.0.0.1; upstreams.NAME.caFile trusts the CA.
// 2. A registry that sends blobs to a CDN on another HTTPS host (both in-process fakes with
//    certificates from the same CA; it is the registry's behaviour being faked, not the agent's),
//    behind a Bearer token realm on a third host: everything through the proxy; the CDN gets the
//    Range and never the Authorization header.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeServer, listenLoopback } from '../helpers/ports.js';
import { makeTempDir, registerCleanup, stopAll } from '../helpers/proc.js';
import { startRegistry } from '../helpers/registry.js';
import { buildImage, pushImage } from '../helpers/images.js';
import { startConnectProxy } from '../helpers/connect-proxy.js';
import { makeTestCa } from '../helpers/tls-ca.js';
import { startAgent } from '../helpers/agent.js';
import { skopeoCopy, verifyDirBlobs } from '../helpers/skopeo.js';
import { rawRequest, ociErrors, writeConfig, sha256Hex } from '../helpers/agent-http.js';
after(stopAll);
const MiB = 1 << 20;
const REPO = 'corp/app';
const PROXY_USER = 'office';
const PROXY_SECRET = 'Pr0xy-S3cret-layerd-91c2';
describe('private CA behind a CONNECT proxy (docker-registry over TLS)', () => {
    let ca;
    let reg;
    let proxy;
    let agent;
    let img;
    let other;
    const work = makeTempDir('it-corp');
    before(async () => {
        ca = await makeTestCa();
        const cert = await ca.issue('registry.test', { dns: ['registry.test'], ip: ['127.0.0.1'] });
        reg = await startRegistry({ tls: { certPath: cert.certPath, keyPath: cert.keyPath, caPath: ca.caPath } });
        img = await buildImage({ name: REPO, tag: 'v1', layers: [3 * MiB, 300 * 1024], seed: 'it-corp' });
        await pushImage(img, reg.host, REPO, 'v1');
        other = await buildImage({ name: 'corp/other', tag: 'v1', layers: [400 * 1024], seed: 'it-corp-other' });
        await pushImage(other, reg.host, 'corp/other', 'v1');
        proxy = await startConnectProxy({ hosts: { 'registry.test': '127.0.0.1' }, auth: { username: PROXY_USER, password: PROXY_SECRET } });
        const viaName = `https://registry.test:${reg.port}`;
        const direct = `https://127.0.0.1:${reg.port}`;
        const config = writeConfig(join(work, 'layerd.yaml'), {
            upstream: { maxAttempts: 2, backoffBase: 50, backoffMax: 200 },
            upstreams: {
                'corp.test': { url: viaName, caFile: ca.caPath },
                'noca.test': { url: viaName },
                'direct.test': { url: direct, caFile: ca.caPath }
            }
        });
        agent = await startAgent({
            upstreams: [['corp.test', viaName], ['noca.test', viaName], ['direct.test', direct]],
            extraArgs: ['--no-p2p', '--config', config, '--log-level', 'debug'],
            env: { HTTPS_PROXY: `http://${PROXY_USER}:${PROXY_SECRET}@127.0.0.1:${proxy.port}`, NO_PROXY: '127.0.0.1' }
        });
    });
    test('skopeo pulls through the agent: every upstream byte came through the tunnel to registry.test; digests verify', async () => {
        const out = join(work, 'pulled');
        const r = await skopeoCopy(`${agent.host}/${REPO}:v1`, out);
        assert.ok(r.ok, r.stderr);
        const v = await verifyDirBlobs(out);
        assert.deepEqual(v.bad, []);
        assert.equal(v.manifestDigest, img.topDigest);
        for (const l of img.layers)
            assert.ok(v.blobs.some(b => b.digest === l.digest), l.digest);
        assert.ok(proxy.reached('registry.test').length >= 1, 'the proxy saw the tunnel');
        assert.deepEqual(proxy.requests().filter(t => !t.target.startsWith('registry.test:')), [], 'nothing else went through the proxy');
        // TLS adds a little; the blobs themselves must all have crossed the tunnel.
        const layerBytes = img.layers.reduce((n, l) => n + l.size, 0);
        assert.ok(proxy.bytesDown() >= layerBytes, `${proxy.bytesDown()} bytes through the proxy, layers are ${layerBytes}`);
    });
    test('a proxy that refuses the tunnel: a clear 503 naming the proxy (no credentials), no direct fallback', async (t) => {
        proxy.refuse(502);
        proxy.dropConnections(); // the agent keeps tunnels alive: make it ask for new ones
        try {
            const before = proxy.requests().length;
            // A tag this agent never resolved (it would serve the last known digest of one it had).
            const r = await rawRequest(agent.url, `/v2/corp/other/manifests/v1`, { headers: { accept: other.topMediaType }, timeoutMs: 60_000 });
            const body = r.body.toString('utf8');
            t.diagnostic(ociErrors(r.body)[0]?.message ?? body);
            assert.equal(r.status, 503, body);
            assert.match(body, /via proxy http:\/\/127\.0\.0\.1:\d+: the proxy refused the tunnel \(HTTP 502\)/);
            assert.ok(!body.includes(PROXY_SECRET) && !body.includes(`${PROXY_USER}:`), body);
            assert.equal(proxy.requests().length - before, 2, 'upstream.maxAttempts tunnels asked for, each through the proxy');
        }
        finally {
            proxy.refuse(undefined);
        }
    });
    test('without caFile: a clear "upstream TLS verification failed" error at once, not a hang or a retry loop', async (t) => {
        const before = proxy.requests().length;
        const r = await rawRequest(agent.url, `/v2/${REPO}/manifests/v1?ns=noca.test`, { headers: { accept: img.topMediaType }, timeoutMs: 30_000 });
        const body = r.body.toString('utf8');
        assert.equal(r.status, 502, body);
        t.diagnostic(ociErrors(r.body)[0]?.message ?? body);
        assert.equal(ociErrors(r.body)[0]?.detail?.code, 'UPSTREAM_TLS', body);
        assert.match(body, /upstream TLS verification failed/);
        assert.match(body, /upstreams\.noca\.test\.caFile/);
        assert.equal(proxy.requests().length - before, 1, 'one attempt: a certificate that does not verify is not retried');
    });
    test('NO_PROXY: the registry by its 127.0.0.1 address goes direct (no tunnel); bytes verify', async () => {
        const before = proxy.requests().length;
        const m = await rawRequest(agent.url, `/v2/corp/other/manifests/v1?ns=direct.test`, { headers: { accept: other.topMediaType } });
        assert.equal(m.status, 200, m.body.toString());
        assert.equal(`sha256:${m.sha256}`, other.topDigest);
        for (const d of [other.configDigest, ...other.layers.map(l => l.digest)]) {
            const b = await rawRequest(agent.url, `/v2/corp/other/blobs/${d}?ns=direct.test`);
            assert.equal(b.status, 200);
            assert.equal(`sha256:${b.sha256}`, d);
        }
        assert.equal(proxy.requests().length, before, 'nothing went through the proxy');
    });
    test('the proxy credentials appear in no log line and not in /_layerd/status, which shows the cap and the proxy', async () => {
        const st = await rawRequest(agent.url, '/_layerd/status');
        assert.equal(st.status, 200);
        const status = JSON.parse(st.body.toString('utf8'));
        assert.deepEqual(status.upstream, { rate: 0, proxy: { https: `http://127.0.0.1:${proxy.port}`, http: null, noProxy: ['127.0.0.1'] } });
        const logs = agent.logs();
        assert.ok(logs.includes('upstream requests go through a proxy'));
        for (const text of [logs, st.body.toString('utf8')]) {
            assert.ok(!text.includes(PROXY_SECRET), 'proxy password leaked');
            assert.ok(!text.includes(Buffer.from(`${PROXY_USER}:${PROXY_SECRET}`).toString('base64')), 'proxy Basic credentials leaked');
        }
    });
});
/** An HTTPS server on 127.0.0.1 that records what it is asked; stopAll closes it. */
async function httpsServer(cert, handle) {
    const seen = [];
    const server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
        seen.push({ host: req.headers.host ?? '', method: req.method ?? '', url: req.url ?? '', headers: req.headers });
        handle?.(req, res);
    });
    const port = await listenLoopback(server);
    registerCleanup(async () => { await closeServer(server); });
    return { server, port, seen };
}
describe('a blob redirected to a CDN on another HTTPS host, behind a token realm', () => {
    const TOKEN = 'tok-layerd-7e1a';
    const USER = 'ci-bot';
    const PASSWORD = 'Regi5try-S3cret';
    const data = Buffer.concat(Array.from({ length: 3 }, (_, i) => createHash('sha512').update(`cdn-${i}`).digest()).map(h => Buffer.alloc(MiB, h)));
    const digest = `sha256:${sha256Hex(data)}`;
    let proxy;
    let hub;
    let cdn;
    let agent;
    const work = makeTempDir('it-cdn');
    before(async () => {
        const ca = await makeTestCa();
        const hubCert = await ca.issue('hub.test', { dns: ['hub.test', 'auth.test'] });
        const cdnCert = await ca.issue('cdn.test', { dns: ['cdn.test'] });
        cdn = await httpsServer(cdnCert, (req, res) => {
            const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
            const start = m !== null ? Number(m[1]) : 0;
            const end = m !== null && m[2] !== '' ? Math.min(Number(m[2]) + 1, data.length) : data.length;
            res.writeHead(m !== null ? 206 : 200, { 'content-length': String(end - start), ...(m !== null ? { 'content-range': `bytes ${start}-${end - 1}/${data.length}` } : {}) });
            res.end(req.method === 'HEAD' ? undefined : data.subarray(start, end));
        });
        hub = await httpsServer(hubCert, (req, res) => {
            if (req.url?.startsWith('/token') === true) {
                const ok = req.headers.authorization === 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
                res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
                res.end(ok ? JSON.stringify({ token: TOKEN, expires_in: 300 }) : '{}');
                return;
            }
            if (req.headers.authorization !== `Bearer ${TOKEN}`) {
                res.writeHead(401, { 'www-authenticate': `Bearer realm="https://auth.test:${hub.port}/token",service="hub.test"` });
                res.end();
                return;
            }
            res.writeHead(307, { location: `https://cdn.test:${cdn.port}/blobs/${digest}?sig=signed-secret` });
            res.end();
        });
        proxy = await startConnectProxy({ hosts: { 'hub.test': '127.0.0.1', 'auth.test': '127.0.0.1', 'cdn.test': '127.0.0.1' } });
        const pw = join(work, 'hub.pw');
        writeFileSync(pw, PASSWORD + '\n', { mode: 0o600 });
        const url = `https://hub.test:${hub.port}`;
        const config = writeConfig(join(work, 'layerd.yaml'), { upstreams: { 'hub.test': { url, caFile: ca.caPath, username: USER, passwordFile: pw } } });
        agent = await startAgent({ upstreams: { 'hub.test': url }, extraArgs: ['--no-p2p', '--config', config], env: { https_proxy: proxy.url } });
    });
    test('Range is kept on the redirected request, Authorization is not sent to the CDN, bytes verify', async () => {
        const r = await rawRequest(agent.url, `/v2/lib/app/blobs/${digest}?ns=hub.test`, { headers: { range: 'bytes=1000-' } });
        assert.equal(r.status, 206, r.body.toString().slice(0, 300));
        assert.equal(r.sha256, sha256Hex(data.subarray(1000)));
        const full = await rawRequest(agent.url, `/v2/lib/app/blobs/${digest}?ns=hub.test`);
        assert.equal(`sha256:${full.sha256}`, digest);
        const blobGets = hub.seen.filter(s => s.url.includes('/blobs/') && s.headers.authorization === `Bearer ${TOKEN}`);
        const cdnGets = cdn.seen.filter(s => s.method === 'GET');
        assert.ok(cdnGets.length >= 1, 'the CDN served the blob');
        assert.deepEqual(cdnGets.map(s => s.headers.range), blobGets.filter(s => s.method === 'GET').map(s => s.headers.range), 'each redirected GET kept its Range');
        assert.ok(cdnGets.every(s => s.headers.range !== undefined));
        assert.deepEqual(cdn.seen.filter(s => s.headers.authorization !== undefined), [], 'the CDN never saw an Authorization header');
        assert.ok(hub.seen.some(s => s.url.startsWith('/token') && s.host === `auth.test:${hub.port}`), 'the token came from the realm host');
        for (const host of ['hub.test', 'auth.test', 'cdn.test'])
            assert.ok(proxy.reached(host).length >= 1, `${host} through the proxy`);
        assert.ok(!agent.logs().includes(PASSWORD) && !agent.logs().includes(TOKEN) && !agent.logs().includes('signed-secret'));
    });
});
//# sourceMappingURL=corporate.test.js.map