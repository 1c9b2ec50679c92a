// The agent under test: `node bin/layerd.js serve --listen 127.0.0.1:PORT --data-dir DIR
// --upstream NAME=URL ... --default-registry NAME --no-mdns [extra]`. It prints JSON log lines on
// stdout; one has "msg":"layerd ready" once it listens.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { makeTempDir, removeTempDir, spawnTracked, killAndWait, own, run } from './proc.js';
/** Repository root (this file is dist/test/helpers/agent.js once compiled). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const AGENT_BIN = join(REPO_ROOT, 'bin', 'layerd.js');
/** The node flags of bin/layerd.js's `#!/usr/bin/env -S node ...` line: agents under test run with them too. */
export function launcherFlags(bin = AGENT_BIN) {
    try {
        const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
        const m = /^#!\S*env -S node(.*)$/.exec(first);
        return m === null ? [] : m[1].trim().split(/\s+/).filter(a => a !== '');
    }
    catch {
        return [];
    }
}
/** Run `node bin/layerd.js ARGS` to completion as a user would (bounded); never rejects on exit code. */
export async function runLayerd(args, opts = {}) {
    return await run(process.execPath, [AGENT_BIN, ...args], { timeoutMs: opts.timeoutMs ?? 30_000, cwd: REPO_ROOT, env: { ...process.env, ...opts.env } });
}
function parseJsonLine(line) {
    const s = line.trim();
    if (!s.startsWith('{'))
        return undefined;
    try {
        return JSON.parse(s);
    }
    catch {
        return undefined;
    }
}
export async function startAgent(opts) {
    if (opts.mdns === true && opts.netns === undefined) {
        throw new Error('startAgent: mdns only inside a test network namespace (pass netns)');
    }
    if (opts.bin === undefined && process.env.LAYERD_BIN === undefined && !existsSync(join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'))) {
        throw new Error(`agent not built: ${join(REPO_ROOT, 'dist/src/cli/main.js')} missing (run npm run build)`);
    }
    const ups = Array.isArray(opts.upstreams) ? opts.upstreams : Object.entries(opts.upstreams);
    if (ups.length === 0)
        throw new Error('startAgent: at least one upstream');
    const listenHost = opts.listenHost ?? '127.0.0.1';
    const port = opts.port ?? (opts.netns === undefined ? await freePort(listenHost) : 5000);
    const ownDir = opts.dataDir === undefined ? makeTempDir('agent') : undefined;
    const dataDir = opts.dataDir ?? join(ownDir, 'data');
    const args = [
        'serve',
        '--listen', `${listenHost}:${port}`,
        '--data-dir', dataDir,
        ...ups.flatMap(([name, url]) => ['--upstream', `${name}=${url}`]),
        '--default-registry', opts.defaultRegistry ?? ups[0][0],
        ...(opts.mdns === true ? [] : ['--no-mdns']),
        ...(opts.netns === undefined && !(opts.extraArgs ?? []).some(a => a === '--no-p2p' || a.startsWith('--p2p-listen'))
            ? ['--p2p-listen', '/ip4/127.0.0.1/tcp/0']
            : []),
        ...(opts.extraArgs ?? []),
    ];
    const bin = opts.bin ?? process.env.LAYERD_BIN ?? AGENT_BIN;
    // An agent under test never inherits a proxy from the machine (it would send loopback traffic
    // there): a test that wants one passes it in `env`.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(https?|no)_proxy$/i.test(k)));
    const env = { ...inherited, ...opts.env };
    let pastLogs = '';
    let proc;
    const launch = async () => {
        const flags = launcherFlags();
        const [cmd, full] = opts.netns === undefined
            ? [process.execPath, [...flags, bin, ...args]]
            : ['ip', ['netns', 'exec', opts.netns, process.execPath, ...flags, bin, ...args]];
        const p = spawnTracked(cmd, full, { name: 'layerd', cwd: REPO_ROOT, env, maxLog: 8 << 20 });
        proc = p;
        try {
            await p.waitForLine(l => parseJsonLine(l)?.msg === 'layerd ready', opts.readyTimeoutMs ?? 20_000);
        }
        catch (err) {
            await killAndWait(p, { timeoutMs: 3000 });
            throw err;
        }
    };
    const retire = () => {
        if (proc !== undefined)
            pastLogs += proc.output();
    };
    let disposed = false;
    const stop = async (o = {}) => {
        const p = proc;
        const info = await killAndWait(p, { timeoutMs: o.timeoutMs ?? 15_000 });
        if (o.keepData !== true && !disposed) {
            disposed = true;
            unregister();
            if (ownDir !== undefined)
                removeTempDir(ownDir);
        }
        return info;
    };
    const unregister = own(async () => { if (!disposed)
        await stop(); }, opts.cleanup);
    try {
        await launch();
    }
    catch (err) {
        await stop();
        throw err;
    }
    const current = () => proc;
    return {
        url: `http://${listenHost}:${port}`,
        host: `${listenHost}:${port}`,
        port,
        get pid() { return current().pid; },
        dataDir,
        args,
        logs: () => pastLogs + current().output(),
        logLines: () => (pastLogs + current().output()).split('\n').map(parseJsonLine).filter((x) => x !== undefined),
        waitForLog: async (pred, timeoutMs = 10_000) => {
            const line = await current().waitForLine(l => { const j = parseJsonLine(l); return j !== undefined && pred(j); }, timeoutMs);
            return parseJsonLine(line);
        },
        alive: () => current().alive(),
        stop,
        kill9: async () => await killAndWait(current(), { signal: 'SIGKILL', timeoutMs: 5000 }),
        restart: async () => {
            if (disposed)
                throw new Error('agent: restart after stop() without keepData');
            await killAndWait(current(), { timeoutMs: 15_000 });
            retire();
            await launch();
        },
    };
}
//# sourceMappingURL=agent.js.map