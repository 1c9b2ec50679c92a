// The Debian `docker-registry` (CNCF distribution 2.8.2) as a real upstream, on 127.0.0.1.
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { makeTempDir, removeTempDir, spawnTracked, killAndWait, runOk, waitFor, own } from './proc.js';
import { startTokenServer, DEFAULT_TOKEN_USERS } from './token-server.js';
export async function startRegistry(opts = {}) {
    const auth = opts.auth ?? 'none';
    const users = opts.users ?? DEFAULT_TOKEN_USERS;
    const port = opts.port ?? await freePort();
    const dir = makeTempDir('registry');
    const dataDir = opts.dataDir ?? join(dir, 'data');
    const configPath = join(dir, 'config.yml');
    let tokenServer;
    const config = {
        version: 0.1,
        log: { level: 'info', accesslog: { disabled: false }, formatter: 'text' },
        storage: {
            filesystem: { rootdirectory: dataDir },
            delete: { enabled: opts.deleteEnabled ?? true },
            maintenance: { uploadpurging: { enabled: false } },
        },
        http: {
            addr: `127.0.0.1:${port}`,
            secret: 'layerd-test-secret',
            headers: { 'X-Content-Type-Options': ['nosniff'] },
            ...(opts.tls !== undefined ? { tls: { certificate: opts.tls.certPath, key: opts.tls.keyPath } } : {}),
        },
    };
    if (auth === 'htpasswd') {
        const lines = [];
        for (const [user, u] of Object.entries(users)) {
            const r = await runOk('htpasswd', ['-Bbn', user, u.password], { timeoutMs: 30_000 });
            lines.push(r.stdout.trim());
        }
        const htpasswdPath = join(dir, 'htpasswd');
        writeFileSync(htpasswdPath, lines.join('\n') + '\n');
        config.auth = { htpasswd: { realm: 'layerd-test', path: htpasswdPath } };
    }
    else if (auth === 'token') {
        tokenServer = await startTokenServer({ ...opts.token, users });
        config.auth = {
            token: {
                realm: tokenServer.realm,
                service: tokenServer.service,
                issuer: tokenServer.issuer,
                rootcertbundle: tokenServer.certPath,
            },
        };
    }
    if (opts.proxy !== undefined) {
        config.proxy = {
            remoteurl: opts.proxy.remoteUrl,
            ...(opts.proxy.username !== undefined ? { username: opts.proxy.username, password: opts.proxy.password ?? '' } : {}),
        };
    }
    // JSON is YAML.
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const proc = spawnTracked('docker-registry', ['serve', configPath], { name: 'docker-registry', maxLog: 256 * 1024 });
    const url = `${opts.tls !== undefined ? 'https' : 'http'}://127.0.0.1:${port}`;
    const ca = opts.tls !== undefined ? readFileSync(opts.tls.caPath, 'utf8') : undefined;
    let stopped = false;
    const stop = async () => {
        if (stopped)
            return;
        stopped = true;
        unregister();
        await killAndWait(proc, { timeoutMs: 5000 });
        if (tokenServer !== undefined)
            await tokenServer.stop();
        removeTempDir(dir);
    };
    const unregister = own(stop, opts.cleanup);
    try {
        await waitFor(async () => {
            if (!proc.alive())
                throw new Error(`docker-registry exited:\n${proc.output().slice(-4000)}`);
            const status = ca !== undefined ? await httpsStatus(`${url}/v2/`, ca) : await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) }).then(async (r) => { await r.arrayBuffer(); return r.status; });
            return status === 200 || status === 401;
        }, { timeoutMs: 15_000, intervalMs: 50, what: 'docker-registry /v2/' });
    }
    catch (err) {
        const out = proc.output();
        await stop();
        throw new Error(`${String(err)}\n${out.slice(-4000)}`);
    }
    const pushUser = Object.entries(users).find(([, u]) => u.push === true) ?? Object.entries(users)[0];
    const pullUser = Object.entries(users).find(([, u]) => u.push !== true) ?? pushUser;
    const creds = (e) => auth === 'none' || e === undefined ? undefined : { username: e[0], password: e[1].password };
    return {
        url,
        host: `127.0.0.1:${port}`,
        port,
        dataDir,
        configPath,
        pid: proc.pid,
        auth,
        pushCreds: creds(pushUser),
        pullCreds: creds(pullUser),
        tokenServer,
        logs: () => proc.output(),
        stop,
    };
}
/** The status of a GET over HTTPS, verified against `ca`. */
async function httpsStatus(url, ca) {
    return await new Promise((resolve, reject) => {
        const req = httpsGet(url, { ca, timeout: 1000 }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
    });
}
//# sourceMappingURL=registry.js.map