// containerd 1.6 (Debian) as a real pull client, with everything under a temp dir.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File } from './skopeo.js';
import { makeTempDir, removeTempDir, spawnTracked, killAndWait, run, waitFor, own, NO_EGRESS_ENV } from './proc.js';
/**
 * Write `DIR/<registry>/hosts.toml` for each entry: `server = ...` plus one
 * `[host."URL"] capabilities = [...]` table per mirror (containerd 1.6.20 needs a [host] table, or
 * it fails to decode the file and silently falls back to the real host). Returns DIR.
 */
export function writeHostsDir(dir, entries) {
    for (const e of Array.isArray(entries) ? entries : [entries]) {
        const d = join(dir, e.registry);
        mkdirSync(d, { recursive: true });
        const caps = JSON.stringify(e.capabilities ?? ['pull', 'resolve']);
        const lines = [`server = ${JSON.stringify(e.server ?? 'http://127.0.0.1:9')}`, ''];
        for (const m of Array.isArray(e.mirrors) ? e.mirrors : [e.mirrors]) {
            lines.push(`[host.${JSON.stringify(m)}]`, `  capabilities = ${caps}`, '  skip_verify = true', '');
        }
        writeFileSync(join(d, 'hosts.toml'), lines.join('\n'));
    }
    return dir;
}
export async function startContainerd(opts = {}) {
    const dir = makeTempDir('containerd');
    const address = join(dir, 'c.sock');
    const configPath = join(dir, 'config.toml');
    writeFileSync(configPath, [
        'version = 2',
        `root = ${JSON.stringify(join(dir, 'root'))}`,
        `state = ${JSON.stringify(join(dir, 'state'))}`,
        `disabled_plugins = ["io.containerd.grpc.v1.cri"]`,
        '',
        '[grpc]',
        `  address = ${JSON.stringify(address)}`,
        '[ttrpc]',
        `  address = ${JSON.stringify(address + '.ttrpc')}`,
        '[debug]',
        '  address = ""',
        '[metrics]',
        '  address = ""',
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = ${JSON.stringify(join(dir, 'opt'))}`,
        '',
    ].join('\n'));
    const [cmd, args] = opts.netns === undefined
        ? ['containerd', ['--config', configPath]]
        : ['ip', ['netns', 'exec', opts.netns, 'containerd', '--config', configPath]];
    const proc = spawnTracked(cmd, args, { name: 'containerd', env: { ...process.env, ...NO_EGRESS_ENV }, maxLog: 512 * 1024 });
    const ctr = async (a, o = {}) => {
        const full = ['-a', address, ...(o.namespace !== undefined ? ['-n', o.namespace] : []), ...a];
        const [c, cargs] = o.netns === undefined ? ['ctr', full] : ['ip', ['netns', 'exec', o.netns, 'ctr', ...full]];
        return await run(c, cargs, { timeoutMs: o.timeoutMs ?? 60_000, env: { ...process.env, ...NO_EGRESS_ENV } });
    };
    const contentDigests = async (namespace = 'default') => {
        const r = await ctr(['content', 'ls', '-q'], { namespace });
        if (r.code !== 0)
            throw new Error(`ctr content ls failed: ${r.stderr}`);
        return r.stdout.split('\n').map(s => s.trim()).filter(s => s.startsWith('sha256:'));
    };
    let stopped = false;
    const stop = async () => {
        if (stopped)
            return;
        stopped = true;
        unregister();
        await killAndWait(proc, { timeoutMs: 10_000 });
        removeTempDir(dir);
    };
    const unregister = own(stop, opts.cleanup);
    try {
        await waitFor(async () => {
            if (!proc.alive())
                throw new Error(`containerd exited:\n${proc.output().slice(-4000)}`);
            const r = await ctr(['version'], { timeoutMs: 5000 });
            return r.code === 0;
        }, { timeoutMs: opts.readyTimeoutMs ?? 30_000, intervalMs: 200, what: 'containerd ready' });
    }
    catch (err) {
        const out = proc.output();
        await stop();
        throw new Error(`${String(err)}\n${out.slice(-4000)}`);
    }
    return {
        address,
        dir,
        pid: proc.pid,
        logs: () => proc.output(),
        ctr,
        pull: async (ref, o = {}) => {
            const a = ['images', 'pull',
                ...(o.hostsDir !== undefined ? ['--hosts-dir', o.hostsDir] : []),
                ...(o.plainHttp === true ? ['--plain-http'] : []),
                ...(o.platform !== undefined ? ['--platform', o.platform] : []),
                ...(o.allPlatforms === true ? ['--all-platforms'] : []),
                ...(o.user !== undefined ? ['--user', `${o.user.username}:${o.user.password}`] : []),
                ...(o.extraArgs ?? []),
                ref];
            const r = await ctr(a, { namespace: o.namespace ?? 'default', ...(o.netns !== undefined ? { netns: o.netns } : {}), timeoutMs: o.timeoutMs ?? 300_000 });
            return { ...r, ok: r.code === 0 };
        },
        contentDigests,
        verifyContent: async (digests, namespace = 'default') => {
            const have = new Set(await contentDigests(namespace));
            const bad = [];
            for (const d of digests) {
                const file = join(dir, 'root', 'io.containerd.content.v1.content', 'blobs', 'sha256', d.slice('sha256:'.length));
                if (!have.has(d))
                    bad.push(`${d} (not in the content store)`);
                else if (`sha256:${await sha256File(file)}` !== d)
                    bad.push(`${d} (content differs)`);
            }
            return bad;
        },
        removeImage: async (ref, namespace = 'default') => await ctr(['images', 'rm', '--sync', ref], { namespace }),
        stop,
    };
}
//# sourceMappingURL=containerd.js.map