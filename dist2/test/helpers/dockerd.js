// dockerd 20.10 (Debian docker.io) as a real pull client with registry-mirrors = the agent.
// Note: dockerd only uses mirrors for Docker Hub names (busybox:TAG, docker.io/library/...).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeTempDir, spawnTracked, killAndWait, run, waitFor, own, trackPid, untrackPid, NO_EGRESS_ENV } from './proc.js';
/** The Debian 20.10 client (a newer /usr/local/bin/docker may come first on PATH). */
export const DOCKER_CLIENT = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
export async function startDockerd(opts) {
    const dir = makeTempDir('dockerd');
    const sock = join(dir, 'docker.sock');
    const execRoot = join(dir, 'exec');
    const clientConfig = join(dir, 'client');
    mkdirSync(clientConfig, { recursive: true });
    writeFileSync(join(clientConfig, 'config.json'), '{}');
    const configPath = join(dir, 'daemon.json');
    const insecure = opts.insecureRegistries ?? opts.mirrors.map(m => new URL(m).host);
    writeFileSync(configPath, JSON.stringify({
        'data-root': join(dir, 'data'),
        'exec-root': execRoot,
        pidfile: join(dir, 'docker.pid'),
        hosts: [`unix://${sock}`],
        iptables: false,
        'ip-masq': false,
        'ip-forward': false,
        bridge: 'none',
        'storage-driver': 'vfs',
        'registry-mirrors': opts.mirrors,
        'insecure-registries': insecure,
        'log-level': 'info',
        // 20.10 would otherwise write its trust key to /etc/docker/key.json.
        'deprecated-key-path': join(dir, 'key.json'),
        ...opts.extraConfig,
    }, null, 2));
    try {
        await opts.editConfig?.(configPath);
    }
    catch (err) {
        removeTempDir(dir);
        throw err;
    }
    const dargs = ['--config-file', configPath];
    const [cmd, args] = opts.netns === undefined
        ? ['dockerd', dargs]
        : ['nsenter', [`--net=/run/netns/${opts.netns}`, 'dockerd', ...dargs]];
    const proc = spawnTracked(cmd, args, { name: 'dockerd', env: { ...process.env, ...NO_EGRESS_ENV }, maxLog: 1 << 20 });
    const host = `unix://${sock}`;
    // dockerd supervises its own containerd child; remember its PID so a killed dockerd cannot leak it.
    const containerdPidFile = join(execRoot, 'containerd', 'containerd.pid');
    let childPid;
    const noteChild = () => {
        if (childPid !== undefined)
            return;
        try {
            const p = Number(readFileSync(containerdPidFile, 'utf8').trim());
            if (p > 0) {
                childPid = p;
                trackPid(p);
            }
        }
        catch { /* not yet */ }
    };
    const docker = async (a, o = {}) => await run(DOCKER_CLIENT, a, { timeoutMs: o.timeoutMs ?? 60_000, env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: clientConfig } });
    let stopped = false;
    const stop = async () => {
        if (stopped)
            return;
        stopped = true;
        unregister();
        noteChild();
        await killAndWait(proc, { timeoutMs: 20_000 });
        if (childPid !== undefined) {
            // dockerd stops it on SIGTERM; only if it is still there (dockerd killed) end it, by PID.
            try {
                const cmdline = readFileSync(`/proc/${childPid}/cmdline`, 'utf8');
                if (cmdline.includes(execRoot)) {
                    process.kill(childPid, 'SIGTERM');
                    await waitFor(() => !existsSync(`/proc/${childPid}`), { timeoutMs: 5000, what: 'dockerd containerd exit' }).catch(() => {
                        try {
                            process.kill(childPid, 'SIGKILL');
                        }
                        catch { /* gone */ }
                    });
                }
            }
            catch { /* gone */ }
            untrackPid(childPid);
        }
        removeTempDir(dir);
    };
    const unregister = own(stop, opts.cleanup);
    try {
        await waitFor(async () => {
            if (!proc.alive())
                throw new Error(`dockerd exited:\n${proc.output().slice(-4000)}`);
            noteChild();
            const r = await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 });
            return r.code === 0;
        }, { timeoutMs: opts.readyTimeoutMs ?? 40_000, intervalMs: 250, what: 'dockerd ready' });
        noteChild();
    }
    catch (err) {
        const out = proc.output();
        await stop();
        throw new Error(`${String(err)}\n${out.slice(-4000)}`);
    }
    return {
        host,
        dir,
        pid: proc.pid,
        logs: () => proc.output(),
        docker,
        pull: async (ref, o = {}) => {
            const r = await docker(['pull', ...(o.platform !== undefined ? ['--platform', o.platform] : []), ref], { timeoutMs: o.timeoutMs ?? 300_000 });
            return { ...r, ok: r.code === 0 };
        },
        removeImage: async (ref) => await docker(['rmi', '-f', ref]),
        stop,
    };
}
//# sourceMappingURL=dockerd.js.map