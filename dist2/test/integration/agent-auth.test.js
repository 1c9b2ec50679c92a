// Issue A, token-auth upstream: a real docker-registry with `auth.token` and the test token server.
// One agent, three names for the same registry: with the right credentials (--credentials, the
// password in a file), with a wrong password, and anonymous. The right one pulls verified blobs;
// the others give the client a clear 401/403 with OCI JSON; no password ever shows in the logs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, stopAll } from '../helpers/proc.js';
import { startRegistry } from '../helpers/registry.js';
import { buildImage, pushImage } from '../helpers/images.js';
import { startProxy } from '../helpers/proxy.js';
import { startAgent } from '../helpers/agent.js';
import { skopeoCopy, verifyDirBlobs } from '../helpers/skopeo.js';
import { rawRequest, ociErrors, agentUp } from '../helpers/agent-http.js';
after(stopAll);
const MiB = 1 << 20;
const REPO = 'private/app';
const WRONG_PASSWORD = 'Wr0ng-S3cret-layerd-7f3a';
describe('token-auth upstream', () => {
    let reg;
    let proxy;
    let agent;
    let img;
    /** Pushed but never pulled through the good name: the agent holds none of its blobs. */
    let other;
    let goodPassword;
    const work = makeTempDir('it-auth');
    before(async () => {
        reg = await startRegistry({ auth: 'token' });
        assert.ok(reg.pushCreds !== undefined && reg.pullCreds !== undefined);
        goodPassword = reg.pullCreds.password;
        img = await buildImage({ name: REPO, tag: 'v1', layers: [4 * MiB, 512 * 1024], seed: 'it-auth' });
        await pushImage(img, reg.host, REPO, 'v1', reg.pushCreds);
        other = await buildImage({ name: 'private/other', tag: 'v1', layers: [256 * 1024], seed: 'it-auth-other' });
        await pushImage(other, reg.host, 'private/other', 'v1', reg.pushCreds);
        proxy = await startProxy(reg.url);
        const good = join(work, 'good.pw');
        const bad = join(work, 'bad.pw');
        writeFileSync(good, goodPassword + '\n', { mode: 0o600 });
        writeFileSync(bad, WRONG_PASSWORD + '\n', { mode: 0o600 });
        agent = await startAgent({
            upstreams: [['good.test', proxy.url], ['bad.test', proxy.url], ['anon.test', proxy.url]],
            defaultRegistry: 'good.test',
            extraArgs: ['--no-p2p', '--log-level', 'debug',
                '--credentials', `good.test=${reg.pullCreds.username}:${good}`,
                '--credentials', `bad.test=${reg.pullCreds.username}:${bad}`],
        });
    });
    test('with --credentials the agent pulls through the token flow; skopeo gets verified blobs', async () => {
        const before = reg.tokenServer?.requestCount() ?? 0;
        const out = join(work, 'pulled');
        const r = await skopeoCopy(`${agent.host}/${REPO}:v1`, out);
        assert.ok(r.ok, r.stderr);
        const v = await verifyDirBlobs(out);
        assert.deepEqual(v.bad, []);
        assert.equal(v.manifestDigest, img.topDigest);
        const got = new Set(v.blobs.map(b => b.digest));
        for (const l of img.layers)
            assert.ok(got.has(l.digest));
        await proxy.idle();
        for (const l of img.layers)
            assert.equal(proxy.bytesFor(l.digest), l.size, `one upstream copy of ${l.digest}`);
        assert.ok((reg.tokenServer?.requestCount() ?? 0) > before, 'the agent asked the token server');
        const last = reg.tokenServer?.requests().at(-1);
        assert.equal(last?.account, reg.pullCreds?.username);
        assert.deepEqual(last?.granted, [{ name: REPO, actions: ['pull'] }]);
    });
    test('a wrong password gives the client 401/403 with OCI JSON (manifest and blob)', async () => {
        const l = other.layers[0];
        assert.ok(l !== undefined);
        for (const path of [`/v2/private/other/manifests/v1?ns=bad.test`, `/v2/private/other/blobs/${l.digest}?ns=bad.test`, `/v2/private/other/blobs/${other.configDigest}?ns=bad.test`]) {
            const r = await rawRequest(agent.url, path, { headers: { accept: other.topMediaType } });
            const body = r.body.toString('utf8').slice(0, 400);
            assert.ok(r.status === 401 || r.status === 403, `${path}: status ${r.status} ${body}`);
            const errs = ociErrors(r.body);
            assert.ok(errs.length > 0, `OCI error JSON: ${body}`);
            assert.ok(['UNAUTHORIZED', 'DENIED'].includes(errs[0]?.code ?? ''), body);
            assert.ok(['UNAUTHORIZED', 'DENIED'].includes(errs[0]?.detail?.code ?? ''), body);
            assert.ok(!body.includes(WRONG_PASSWORD));
        }
        assert.ok(await agentUp(agent.url));
    });
    test('anonymous access to a token registry → 401 UNAUTHORIZED with OCI JSON', async () => {
        const r = await rawRequest(agent.url, `/v2/private/other/manifests/v1?ns=anon.test`, { headers: { accept: other.topMediaType } });
        assert.equal(r.status, 401, r.body.toString());
        assert.equal(ociErrors(r.body)[0]?.code, 'UNAUTHORIZED');
    });
    test('no password in the agent logs (debug level) or its status endpoint', async () => {
        const logs = agent.logs();
        assert.ok(logs.length > 0);
        assert.ok(!logs.includes(WRONG_PASSWORD), 'wrong password leaked into the logs');
        assert.ok(!logs.includes(goodPassword), 'password leaked into the logs');
        assert.ok(!logs.includes(Buffer.from(`${reg.pullCreds?.username}:${goodPassword}`).toString('base64')), 'Basic credentials leaked into the logs');
        const st = await rawRequest(agent.url, '/_layerd/status');
        assert.equal(st.status, 200);
        const text = st.body.toString();
        assert.ok(!text.includes(goodPassword) && !text.includes(WRONG_PASSWORD));
    });
});
//# sourceMappingURL=agent-auth.test.js.map