// podman 4.3 (Debian) as a real pull client, with its whole store under a temp dir. podman has no
// daemon: each command is one process, so there is nothing to start or stop but the directory.
//
// Flags that work here (root, no systemd, no user namespaces needed for a pull):
//   --root DIR --runroot DIR   image store and its run-time state, not /var/lib/containers
//   --storage-driver vfs       no overlay mounts (nothing to unmount afterwards)
//   --tmpdir DIR               libpod's own state, which would otherwise go to /run/libpod
//   --cgroup-manager cgroupfs  systemd is not running (4.3 picks cgroupfs by itself then; explicit
//   --events-backend file      is stable), events to a file under --tmpdir instead of journald
// CONTAINERS_REGISTRIES_CONF=FILE picks registries.conf (podman pull has no --registries-conf
// flag), TMPDIR keeps the layers it stages on the way in out of /var/tmp. The one file still
// written outside DIR is containers/image's blob-info cache, /var/lib/containers/cache/, which
// skopeo shares. podman's mirror handling is containers/image's, as for skopeo: no ?ns=.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeTempDir, run, own, NO_EGRESS_ENV } from './proc.js';
export function makePodman(opts = {}) {
    const dir = makeTempDir('podman');
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    const global = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'libpod'),
        '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
    const env = {
        ...process.env,
        ...NO_EGRESS_ENV,
        TMPDIR: tmp,
        ...(opts.registriesConf !== undefined ? { CONTAINERS_REGISTRIES_CONF: opts.registriesConf } : {})
    };
    const podman = async (args, o = {}) => await run('podman', [...global, ...args], { timeoutMs: o.timeoutMs ?? 60_000, env });
    let stopped = false;
    const stop = async () => {
        if (stopped)
            return;
        stopped = true;
        unregister();
        removeTempDir(dir);
    };
    const unregister = own(stop, opts.cleanup);
    return {
        dir,
        podman,
        pull: async (ref, o = {}) => {
            const r = await podman(['pull', ref], { timeoutMs: o.timeoutMs ?? 300_000 });
            return { ...r, ok: r.code === 0 };
        },
        inspect: async (ref) => {
            const r = await podman(['image', 'inspect', ref]);
            if (r.code !== 0)
                return undefined;
            const [img] = JSON.parse(r.stdout);
            if (img === undefined)
                return undefined;
            return { id: img.Id, digest: img.Digest, layers: img.RootFS.Layers, names: img.RepoTags ?? [] };
        },
        images: async () => {
            const r = await podman(['images', '--format', '{{.Repository}}:{{.Tag}}']);
            if (r.code !== 0)
                throw new Error(`podman images failed: ${r.stderr}`);
            return r.stdout.split('\n').map(s => s.trim()).filter(s => s !== '');
        },
        stop,
    };
}
//# sourceMappingURL=podman.js.map