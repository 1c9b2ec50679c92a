// A small Docker-registry token server (the "Bearer realm" of a docker-registry with auth.token).
//
// GET /token?service=S&scope=repository:NAME:pull,push[&scope=...]  (optionally Basic auth)
// → 200 {"token","access_token","expires_in","issued_at"}: an RS256 JWT whose header carries
// x5c = [issuer certificate] (self-signed, made with openssl; the registry's rootcertbundle is the
// same certificate) and whose claims are iss, sub, aud=service, exp, nbf, iat, jti, access.
import { createServer } from 'node:http';
import { createSign, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeServer, listenLoopback } from './ports.js';
import { makeTempDir, removeTempDir, runOk, own, haveCommand } from './proc.js';
export const DEFAULT_TOKEN_USERS = {
    pusher: { password: 'pushpass', push: true },
    reader: { password: 'readpass' },
};
function b64url(b) {
    return Buffer.from(b).toString('base64url');
}
export async function startTokenServer(opts = {}) {
    const service = opts.service ?? 'layerd-test-registry';
    const issuer = opts.issuer ?? 'layerd-test-issuer';
    const users = opts.users ?? DEFAULT_TOKEN_USERS;
    const anonymous = opts.anonymous ?? 'empty';
    const ttl = opts.ttlSeconds ?? 300;
    if (!haveCommand('openssl'))
        throw new Error('openssl is required for the token server (Debian: apt-get install openssl)');
    const dir = makeTempDir('token');
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    await runOk('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath,
        '-days', '3', '-subj', `/CN=${issuer}`], { timeoutMs: 30_000 });
    const keyPem = readFileSync(keyPath, 'utf8');
    const certDerB64 = new X509Certificate(readFileSync(certPath)).raw.toString('base64');
    let log = [];
    let count = 0;
    const sign = (claims) => {
        const header = { typ: 'JWT', alg: 'RS256', x5c: [certDerB64] };
        const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
        const sig = createSign('RSA-SHA256').update(input).sign(keyPem);
        return `${input}.${b64url(sig)}`;
    };
    const handle = (req, res) => {
        count++;
        const url = new URL(req.url ?? '/', 'http://x');
        const scopes = url.searchParams.getAll('scope').flatMap(s => s.split(' ')).filter(s => s !== '');
        const send = (status, body, account, granted) => {
            log.push({ account, scopes, status, granted });
            const text = JSON.stringify(body);
            res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
            res.end(text);
        };
        if (url.pathname !== '/token') {
            send(404, { error: 'not found' }, undefined, []);
            return;
        }
        let account;
        let allowed;
        const auth = req.headers.authorization;
        if (auth !== undefined && auth.startsWith('Basic ')) {
            const dec = Buffer.from(auth.slice(6), 'base64').toString('utf8');
            const i = dec.indexOf(':');
            const user = i >= 0 ? dec.slice(0, i) : dec;
            const pass = i >= 0 ? dec.slice(i + 1) : '';
            const u = users[user];
            if (u === undefined || u.password !== pass) {
                res.setHeader('www-authenticate', 'Basic realm="layerd-test-token"');
                send(401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }, user, []);
                return;
            }
            account = user;
            allowed = u.push === true ? ['pull', 'push'] : ['pull'];
        }
        else {
            if (anonymous === 'deny') {
                res.setHeader('www-authenticate', 'Basic realm="layerd-test-token"');
                send(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, undefined, []);
                return;
            }
            allowed = anonymous === 'pull' ? ['pull'] : [];
        }
        const granted = [];
        for (const scope of scopes) {
            // repository:NAME:ACTIONS   (NAME may itself contain ':' only with a port, which repos do not)
            const parts = scope.split(':');
            if (parts.length < 3 || parts[0] !== 'repository')
                continue;
            const actions = (parts[parts.length - 1] ?? '').split(',').filter(a => allowed.includes(a));
            const name = parts.slice(1, -1).join(':');
            if (actions.length > 0)
                granted.push({ name, actions });
        }
        const now = Math.floor(Date.now() / 1000);
        const token = sign({
            iss: issuer,
            sub: account ?? '',
            aud: service,
            exp: now + ttl,
            nbf: now - 10,
            iat: now,
            jti: randomUUID(),
            access: granted.map(g => ({ type: 'repository', name: g.name, actions: g.actions })),
        });
        send(200, { token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() }, account, granted);
    };
    const server = createServer(handle);
    const port = await listenLoopback(server);
    let stopped = false;
    const stop = async () => {
        if (stopped)
            return;
        stopped = true;
        unregister();
        await closeServer(server);
        removeTempDir(dir);
    };
    const unregister = own(stop, opts.cleanup);
    return {
        realm: `http://127.0.0.1:${port}/token`,
        port,
        service,
        issuer,
        certPath,
        users,
        requestCount: () => count,
        requests: () => log,
        reset: () => { log = []; count = 0; },
        stop,
    };
}
//# sourceMappingURL=token-server.js.map