// Upstream requests behind a proxy: which URLs go through it (config keys over the environment,
// NO_PROXY), and the client's requests — API, token realm, CDN redirect — all through the CONNECT
// tunnel of a real (test) proxy that resolves the registry's name itself. Proxy credentials go
// to the proxy and nowhere else, not even into an error message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proxyRoutes } from '../../../src/upstream/proxy.js';
import { startConnectProxy } from '../../helpers/connect-proxy.js';
import { collect, makeBlob, makeClient, rejection, serveBlob, startServer } from './fixtures.js';
const REPO = 'lib/app';
const SECRET = 'pr0xy-S3cret';
test('routes: the config key wins over the environment; lower case over upper case; NO_PROXY forms', () => {
    const env = { HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128', HTTP_PROXY: 'plain:8080', NO_PROXY: 'corp.example, 10.0.0.0/8,[::1]:5000' };
    const r = proxyRoutes({}, env);
    const via = (u) => r.proxyFor(new URL(u))?.host;
    assert.equal(via('https://registry.example.com/v2/'), 'lower:3128');
    assert.equal(via('http://registry.example.com/v2/'), 'plain:8080', 'a value without a scheme is http://');
    assert.equal(via('https://corp.example/v2/'), undefined);
    assert.equal(via('https://reg.corp.example/v2/'), undefined, 'subdomains of a NO_PROXY name');
    assert.equal(via('https://notcorp.example/v2/'), 'lower:3128');
    assert.equal(via('https://10.1.2.3/v2/'), undefined, 'CIDR');
    assert.equal(via('https://11.1.2.3/v2/'), 'lower:3128');
    assert.equal(via('http://[::1]:5000/v2/'), undefined, 'IPv6 with a port');
    assert.equal(via('http://[::1]:5001/v2/'), 'plain:8080');
    const keyed = proxyRoutes({ proxy: 'https://user:pw@key-proxy:443', noProxy: ['.internal'] }, env);
    assert.equal(keyed.proxyFor(new URL('http://corp.example/'))?.host, 'key-proxy', 'noProxy replaces NO_PROXY');
    assert.equal(keyed.proxyFor(new URL('https://a.internal/')), undefined);
    assert.deepEqual(keyed.describe(), { https: 'https://key-proxy', http: 'https://key-proxy', noProxy: ['.internal'] });
    assert.equal(keyed.scrub('auth pw failed'), 'auth *** failed');
    assert.equal(proxyRoutes({ noProxy: ['*'] }, env).proxyFor(new URL('https://anything/')), undefined);
    assert.equal(proxyRoutes({}, {}).proxyFor(new URL('https://anything/')), undefined, 'no proxy configured: direct');
});
test('routes: a bad proxy URL is a ConfigError naming its source, never its value', () => {
    for (const [settings, env, source] of [
        [{}, { HTTPS_PROXY: 'http://us er:' + SECRET + '@[bad' }, 'HTTPS_PROXY'],
        [{ proxy: 'socks5://u:' + SECRET + '@p:1080' }, {}, 'upstream.proxy']
    ]) {
        assert.throws(() => proxyRoutes(settings, env), (err) => err.code === 'CONFIG_INVALID' && err.message.startsWith(source) && !err.message.includes(SECRET));
    }
});
test('proxy: API, token realm and CDN redirect all go through the proxy (http:// as proxied requests); the proxy resolves the names', async (t) => {
    const blob = makeBlob(300_000);
    const cdn = await startServer((req, res) => { serveBlob(req, res, blob.data); });
    let realm = '';
    const registry = await startServer((req, res) => {
        if (req.url?.startsWith('/token') === true) {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end('{"token":"tok-1"}');
            return;
        }
        if (req.headers.authorization !== 'Bearer tok-1') {
            res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="test"` });
            res.end();
            return;
        }
        res.writeHead(307, { location: `http://cdn.test:${cdn.port}/blob?sig=x` });
        res.end();
    });
    realm = `http://auth.test:${registry.port}/token`;
    const proxy = await startConnectProxy({ hosts: { 'registry.test': '127.0.0.1', 'auth.test': '127.0.0.1', 'cdn.test': '127.0.0.1' }, auth: { username: 'office', password: SECRET } });
    const routes = proxyRoutes({}, { HTTP_PROXY: `http://office:${SECRET}@127.0.0.1:${proxy.port}` });
    const { upstream } = makeClient([{ name: 'registry.test', url: `http://registry.test:${registry.port}` }], { proxy: routes });
    t.after(async () => { await upstream.close(); await proxy.stop(); await registry.close(); await cdn.close(); });
    const r = await upstream.fetchBlob('registry.test', REPO, blob.digest, { start: 1000 });
    assert.deepEqual(await collect(r.body), blob.data.subarray(1000));
    for (const host of ['registry.test', 'auth.test', 'cdn.test'])
        assert.ok(proxy.reached(host).length >= 1, `${host} through the proxy`);
    assert.ok(proxy.requests().every(tl => tl.proxyAuthorization === 'Basic ' + Buffer.from(`office:${SECRET}`).toString('base64')));
    assert.equal(cdn.requests[0]?.headers.range, 'bytes=1000-');
    assert.equal(cdn.requests[0]?.headers.authorization, undefined);
    for (const s of [registry, cdn])
        for (const seen of s.requests)
            assert.equal(seen.headers['proxy-authorization'], undefined, 'proxy credentials stay with the proxy');
});
test('proxy: NO_PROXY goes direct; a refusing proxy or wrong proxy credentials are clear errors without the password', async (t) => {
    const blob = makeBlob(50_000);
    const registry = await startServer((req, res) => { serveBlob(req, res, blob.data); });
    const proxy = await startConnectProxy({ hosts: { 'registry.test': '127.0.0.1' }, auth: { username: 'office', password: SECRET } });
    t.after(async () => { await proxy.stop(); await registry.close(); });
    // https://registry.test needs no certificate here: a refused CONNECT ends before TLS starts.
    const regs = [
        { name: 'registry.test', url: `http://registry.test:${registry.port}` },
        { name: 'tls.test', url: `https://registry.test:${registry.port}` },
        { name: 'local', url: registry.url }
    ];
    const direct = makeClient(regs, { proxy: proxyRoutes({}, { http_proxy: `http://office:${SECRET}@127.0.0.1:${proxy.port}`, no_proxy: '127.0.0.1' }) }).upstream;
    t.after(async () => { await direct.close(); });
    assert.deepEqual(await collect((await direct.fetchBlob('local', REPO, blob.digest, { start: 0 })).body), blob.data);
    assert.equal(proxy.requests().length, 0, 'NO_PROXY: straight to the registry');
    const wrong = makeClient(regs, { proxy: proxyRoutes({ proxy: `http://office:not-${SECRET}@127.0.0.1:${proxy.port}` }) }).upstream;
    t.after(async () => { await wrong.close(); });
    for (const [name, kind] of [['registry.test', 'forward'], ['tls.test', 'connect']]) {
        proxy.reset();
        const denied = await rejection(wrong.fetchBlob(name, REPO, blob.digest, { start: 0 }));
        assert.equal(denied.code, 'UPSTREAM_UNAVAILABLE', denied.message);
        assert.match(denied.message, /the proxy requires authentication \(HTTP 407\)/);
        assert.deepEqual(proxy.requests().map(r => [r.kind, r.status]), [[kind, 407]], 'a 407 is not retried');
        assert.ok(!denied.message.includes(SECRET) && !denied.message.includes('office:'), denied.message);
    }
    proxy.refuse(403);
    const right = makeClient(regs, { proxy: proxyRoutes({ proxy: `http://office:${SECRET}@127.0.0.1:${proxy.port}` }) }).upstream;
    t.after(async () => { await right.close(); });
    const refused = await rejection(right.statBlob('tls.test', REPO, blob.digest));
    assert.equal(refused.code, 'UPSTREAM_UNAVAILABLE');
    assert.match(refused.message, /proxy refused the tunnel \(HTTP 403\)/);
    assert.match(refused.message, /via proxy http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(!refused.message.includes(SECRET), refused.message);
});
//# sourceMappingURL=proxy.test.js.map