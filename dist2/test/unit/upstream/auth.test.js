import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { collect, makeBlob, makeClient, reg, rejection, serveBlob, sleep, startServer } from './fixtures.js';
const REPO = 'lib/app';
/** A token service issuing `tok-N` (or `access_token` when asked); `expiresIn` undefined = field absent. */
async function startTokenServer(opts = {}) {
    const issued = new Set();
    const s = await startServer((req, res, n) => {
        if (opts.requireBasic !== undefined && req.headers.authorization !== opts.requireBasic) {
            res.writeHead(401, { 'content-type': 'application/json' });
            res.end('{"details":"incorrect username or password"}');
            return;
        }
        const token = `${opts.prefix ?? 'tok'}-${n}`;
        issued.add(token);
        const body = opts.useAccessToken === true ? { access_token: token } : { token };
        if (opts.expiresIn !== undefined)
            body.expires_in = opts.expiresIn;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
    });
    return Object.assign(s, { issued });
}
/** A registry that wants a Bearer token issued by `tokens`. */
async function startBearerRegistry(blob, tokens) {
    return await startServer((req, res) => {
        const auth = req.headers.authorization ?? '';
        if (!auth.startsWith('Bearer ') || !tokens.issued.has(auth.slice(7))) {
            res.writeHead(401, {
                'content-type': 'application/json',
                'www-authenticate': `Bearer realm="${tokens.url}/token",service="test-registry",scope="repository:${REPO}:pull"`
            });
            res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
            return;
        }
        serveBlob(req, res, blob.data);
    });
}
test('auth: anonymous Bearer flow (401, token without credentials, retry with the token)', async () => {
    const blob = makeBlob();
    const tokens = await startTokenServer({ useAccessToken: true });
    const registry = await startBearerRegistry(blob, tokens);
    const { upstream } = makeClient([reg('reg.test', registry)]);
    try {
        assert.equal(upstream.isCredentialed('reg.test'), false);
        const got = await upstream.fetchBlob('reg.test', REPO, blob.digest, { start: 0 });
        assert.equal(got.size, blob.data.length);
        assert.ok((await collect(got.body)).equals(blob.data));
        assert.equal(tokens.requests.length, 1);
        const tokenReq = new URL(tokens.requests[0].url, tokens.url);
        assert.equal(tokenReq.pathname, '/token');
        assert.equal(tokenReq.searchParams.get('service'), 'test-registry');
        assert.equal(tokenReq.searchParams.get('scope'), `repository:${REPO}:pull`);
        assert.equal(tokens.requests[0].headers.authorization, undefined);
        assert.equal(registry.requests.length, 2);
        assert.equal(registry.requests[0].headers.authorization, undefined);
        assert.equal(registry.requests[1].headers.authorization, 'Bearer tok-1');
    }
    finally {
        await upstream.close();
        await registry.close();
        await tokens.close();
    }
});
test('auth: credentialed Bearer flow (Basic credentials reach the realm, the token reaches the registry)', async () => {
    const blob = makeBlob();
    const basic = 'Basic ' + Buffer.from('alice:s3cret-pw').toString('base64');
    const tokens = await startTokenServer({ requireBasic: basic });
    const registry = await startBearerRegistry(blob, tokens);
    const { upstream } = makeClient([reg('reg.test', registry, { username: 'alice', password: 's3cret-pw' })]);
    try {
        assert.equal(upstream.isCredentialed('reg.test'), true);
        const got = await upstream.fetchBlob('reg.test', REPO, blob.digest, { start: 0 });
        assert.ok((await collect(got.body)).equals(blob.data));
        assert.equal(tokens.requests.length, 1);
        assert.equal(tokens.requests[0].headers.authorization, basic);
        assert.equal(registry.requests.at(-1)?.headers.authorization, 'Bearer tok-1');
        // The registry itself never sees the password.
        assert.ok(registry.requests.every(r => r.headers.authorization !== basic));
    }
    finally {
        await upstream.close();
        await registry.close();
        await tokens.close();
    }
});
test('auth: a token is cached per registry+scope (one token request for two fetches)', async () => {
    const blob = makeBlob();
    const tokens = await startTokenServer({ expiresIn: 300 });
    const registry = await startBearerRegistry(blob, tokens);
    const { upstream } = makeClient([reg('reg.test', registry)]);
    try {
        for (let i = 0; i < 2; i++) {
            const got = await upstream.fetchBlob('reg.test', REPO, blob.digest, { start: 0 });
            assert.ok((await collect(got.body)).equals(blob.data));
        }
        assert.equal(tokens.requests.length, 1);
        assert.equal(registry.requests.length, 3); // 401, then two authorised GETs
        assert.equal(registry.requests.filter(r => r.headers.authorization === 'Bearer tok-1').length, 2);
    }
    finally {
        await upstream.close();
        await registry.close();
        await tokens.close();
    }
});
test('auth: concurrent requests for one scope share a single token fetch', async () => {
    const blob = makeBlob(64 * 1024);
    const tokens = await startTokenServer({ expiresIn: 300 });
    const registry = await startBearerRegistry(blob, tokens);
    const { upstream } = makeClient([reg('reg.test', registry)]);
    try {
        // Learn that the registry wants Bearer, then drop nothing: 5 parallel fetches of a new scope.
        await upstream.statBlob('reg.test', REPO, blob.digest);
        assert.equal(tokens.requests.length, 1);
        const results = await Promise.all(Array.from({ length: 5 }, async () => {
            const got = await upstream.fetchBlob('reg.test', 'lib/other', blob.digest, { start: 0 });
            return await collect(got.body);
        }));
        for (const r of results)
            assert.ok(r.equals(blob.data));
        assert.equal(tokens.requests.length, 2);
        assert.equal(new URL(tokens.requests[1].url, tokens.url).searchParams.get('scope'), 'repository:lib/other:pull');
    }
    finally {
        await upstream.close();
        await registry.close();
        await tokens.close();
    }
});
test('auth: a token is fetched again after it expires', async () => {
    const blob = makeBlob(16 * 1024);
    const tokens = await startTokenServer({ expiresIn: 1 }); // 1 s, margin capped at half: cached 0.5 s
    const registry = await startBearerRegistry(blob, tokens);
    const { upstream } = makeClient([reg('reg.test', registry)]);
    try {
        await collect((await upstream.fetchBlob('reg.test', REPO, blob.digest, { start: 0 })).body);
        await collect((await upstream.fetchBlob('reg.test', REPO, blob.digest, { start: 0 })).body);
        assert.equal(tokens.requests.length, 1);
        await sleep(700);
        const got = await upstream.fetchBlob('reg.test', REPO, blob.digest, { start: 0 });
        assert.ok((await collect(got.body)).equals(blob.data));
        assert.equal(tokens.requests.length, 2);
        assert.equal(registry.requests.at(-1)?.headers.authorization, 'Bearer tok-2');
        // The expired token was replaced up front: only the very first request was challenged.
        assert.equal(registry.requests.filter(r => r.headers.authorization === undefined).length, 1);
    }
    finally {
        await upstream.close();
        await registry.close();
        await tokens.close();
    }
});
test('auth: Basic challenge is answered with the credentials, then sent up front', async () => {
    const blob = makeBlob(16 * 1024);
    const basic = 'Basic ' + Buffer.from('bob:hunter2').toString('base64');
    const registry = await startServer((req, res) => {
        if (req.headers.authorization !== basic) {
            res.writeHead(401, { 'www-authenticate': 'Basic realm="Registry Realm"' });
            res.end();
            return;
        }
        serveBlob(req, res, blob.data);
    });
    const { upstream } = makeClient([reg('basic.test', registry, { username: 'bob', password: 'hunter2' }), { name: 'anon.test', url: registry.url }]);
    try {
        for (let i = 0; i < 2; i++) {
            assert.ok((await collect((await upstream.fetchBlob('basic.test', REPO, blob.digest, { start: 0 })).body)).equals(blob.data));
        }
        assert.deepEqual(registry.requests.map(r => r.headers.authorization), [undefined, basic, basic]);
        // Without credentials the same challenge is an UnauthorizedError.
        const err = await rejection(upstream.fetchBlob('anon.test', REPO, blob.digest, { start: 0 }));
        assert.equal(err.code, 'UNAUTHORIZED');
    }
    finally {
        await upstream.close();
        await registry.close();
    }
});
test('auth: still 401 with a fresh token → UnauthorizedError after exactly one auth retry', async () => {
    const blob = makeBlob(1024);
    const tokens = await startTokenServer();
    const registry = await startServer((req, res) => {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="svc"` });
        res.end();
    });
    const { upstream } = makeClient([reg('reg.test', registry)]);
    try {
        const err = await rejection(upstream.fetchBlob('reg.test', REPO, blob.digest, { start: 0 }));
        assert.equal(err.code, 'UNAUTHORIZED');
        assert.equal(registry.requests.length, 2);
        assert.equal(tokens.requests.length, 1);
    }
    finally {
        await upstream.close();
        await registry.close();
        await tokens.close();
    }
});
test('auth: passwords and tokens never appear in thrown errors', async () => {
    const password = 'P4ssw0rd-NEVER-LOG';
    const tokenPrefix = 'TOKEN-NEVER-LOG';
    const blob = makeBlob(1024);
    const basicPw = 'Basic ' + Buffer.from(`carol:${password}`).toString('base64');
    // Token service accepts the password and hands out a token the registry then refuses.
    const tokens = await startTokenServer({ prefix: tokenPrefix });
    const refusing = await startServer((req, res) => {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="svc"` });
        res.end();
    });
    // Token service that rejects the password.
    const rejectingTokens = await startTokenServer({ requireBasic: 'Basic nope' });
    const rejecting = await startServer((req, res) => {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${rejectingTokens.url}/token",service="svc"` });
        res.end();
    });
    // Registry that accepts the token, then fails with 403 / 503 / a redirect loop.
    let mode = 403;
    const failing = await startServer((req, res) => {
        if (req.headers.authorization?.startsWith(`Bearer ${tokenPrefix}`) !== true) {
            res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="svc"` });
            res.end();
            return;
        }
        if (mode === 302) {
            res.writeHead(302, { location: req.url });
            res.end();
            return;
        }
        res.writeHead(mode);
        res.end();
    });
    const basicOnly = await startServer((req, res) => {
        res.writeHead(req.headers.authorization === basicPw ? 403 : 401, { 'www-authenticate': 'Basic realm="r"' });
        res.end();
    });
    const creds = { username: 'carol', password };
    const { upstream } = makeClient([
        reg('refusing.test', refusing, creds), reg('rejecting.test', rejecting, creds),
        reg('failing.test', failing, creds), reg('basic.test', basicOnly, creds)
    ], { maxAttempts: 2, breakerThreshold: 2, breakerOpenMs: 10_000 });
    try {
        const errors = [];
        errors.push(await rejection(upstream.fetchBlob('refusing.test', REPO, blob.digest, { start: 0 })));
        errors.push(await rejection(upstream.getManifest('refusing.test', REPO, 'latest', [])));
        errors.push(await rejection(upstream.fetchBlob('rejecting.test', REPO, blob.digest, { start: 0 })));
        errors.push(await rejection(upstream.fetchBlob('failing.test', REPO, blob.digest, { start: 0 })));
        mode = 302;
        errors.push(await rejection(upstream.fetchBlob('failing.test', REPO, blob.digest, { start: 0 })));
        mode = 503;
        errors.push(await rejection(upstream.statBlob('failing.test', REPO, blob.digest)));
        errors.push(await rejection(upstream.statBlob('failing.test', REPO, blob.digest))); // circuit open
        errors.push(await rejection(upstream.fetchBlob('basic.test', REPO, blob.digest, { start: 0 })));
        assert.deepEqual(errors.map(e => e.code), ['UNAUTHORIZED', 'UNAUTHORIZED', 'UNAUTHORIZED', 'DENIED', 'UPSTREAM_PROTOCOL', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_CIRCUIT_OPEN', 'DENIED']);
        assert.ok(tokens.issued.size > 0); // tokens were really issued and sent
        assert.ok(failing.requests.some(r => r.headers.authorization?.startsWith(`Bearer ${tokenPrefix}`) === true));
        const b64 = Buffer.from(`carol:${password}`).toString('base64');
        for (const err of errors) {
            const text = [err.message, String(err), inspect(err, { depth: 10, showHidden: true })].join('\n');
            for (const secret of [password, tokenPrefix, b64]) {
                assert.ok(!text.includes(secret), `secret leaked in: ${err.message}`);
            }
        }
    }
    finally {
        await upstream.close();
        await Promise.all([refusing.close(), rejecting.close(), rejectingTokens.close(), failing.close(), basicOnly.close(), tokens.close()]);
    }
});
//# sourceMappingURL=auth.test.js.map