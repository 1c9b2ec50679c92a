// `layerd setup containerd|docker|podman`: point a container client at the agent by editing the
// client's own configuration file. Which registries, and where the agent listens, come from the
// same config the agent reads (--config, --upstream, --default-registry). Every file is planned
// first and written only when all of them could be planned, each with a backup of what it replaces.
import { join } from 'node:path';
import { Option } from 'commander';
import { loadConfig } from '../config/load.js';
import { DEFAULTS } from '../config/defaults.js';
import { ConfigError } from '../errors.js';
import { DOCKER_HUB, canonicalRegistry } from '../oci/reference.js';
import { editDaemonJson } from './setup/daemon-json.js';
import { applyChange, readClientFile } from './setup/files.js';
import { editHostsToml } from './setup/hosts-toml.js';
import { editRegistriesConf } from './setup/registries-conf.js';
import { applyUpstreamFlags, collect } from './flags.js';
const LISTEN = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;
/** The agent's address as clients dial it. A wildcard listen address is dialled on loopback. */
export function agentAddress(listen, what) {
    const m = LISTEN.exec(listen);
    const port = Number(m?.[3]);
    if (m === null || !(port >= 1 && port <= 65535)) {
        throw new ConfigError(`${what} ${JSON.stringify(listen)}: expected HOST:PORT with a port from 1 to 65535, e.g. ${DEFAULTS.listen}`);
    }
    const host = m[1] ?? m[2];
    if (host === '0.0.0.0')
        return `127.0.0.1:${port}`;
    if (m[1] !== undefined)
        return `[${host === '::' ? '::1' : host}]:${port}`;
    return `${host}:${port}`;
}
async function target(opts) {
    const config = await loadConfig(opts.config, raw => {
        applyUpstreamFlags(raw, opts.upstream);
        if (opts.defaultRegistry !== undefined)
            raw.defaultRegistry = opts.defaultRegistry;
    });
    const all = { [DOCKER_HUB.name]: DOCKER_HUB.url };
    for (const [name, u] of Object.entries(config.upstreams))
        all[name] = u.url.replace(/\/+$/, '');
    const hostPort = agentAddress(opts.listen ?? config.listen, opts.listen !== undefined ? '--listen' : 'listen (from the config)');
    const names = opts.registry.length > 0 ? [...new Set(opts.registry.map(canonicalRegistry))] : Object.keys(all);
    for (const n of names) {
        if (all[n] === undefined) {
            throw new ConfigError(`--registry ${n}: not a registry of the agent (it has ${Object.keys(all).join(', ')}); add --upstream ${n}=URL, or an upstreams entry in the config`);
        }
    }
    return {
        hostPort,
        url: `http://${hostPort}`,
        registries: names.map(name => ({ name, url: all[name] })),
        explicit: opts.registry.length > 0,
        defaultRegistry: config.defaultRegistry
    };
}
const say = (line) => { process.stdout.write(line + '\n'); };
/** Apply planned changes in order; returns whether any file changed (or would). */
async function applyAll(changes, dryRun) {
    const now = new Date();
    for (const c of changes)
        say(await applyChange(c, { dryRun, now }));
    return changes.some(c => c.before !== c.after);
}
async function containerd(opts) {
    const t = await target(opts);
    const changes = [];
    for (const r of t.registries) {
        const path = join(opts.hostsDir, r.name, 'hosts.toml');
        const before = await readClientFile(path);
        changes.push({ path, before, after: editHostsToml(before, { server: r.url, mirror: t.url }, path, r.name) });
    }
    await applyAll(changes, opts.dryRun === true);
    say(`containerd reads these files on every pull: ctr needs --hosts-dir ${opts.hostsDir}; the CRI plugin (Kubernetes, crictl) needs config_path = ${JSON.stringify(opts.hostsDir)} in its registry section; nerdctl reads /etc/containerd/certs.d`);
}
async function docker(opts) {
    const t = await target(opts);
    const others = t.registries.filter(r => r.name !== DOCKER_HUB.name).map(r => r.name);
    if (others.length === t.registries.length) {
        throw new ConfigError(`--registry ${others.join(', ')}: Docker uses registry mirrors only for Docker Hub; point containerd or podman at the agent for other registries (layerd setup containerd|podman)`);
    }
    // Docker names no registry in its requests to a mirror: the agent must take them for Docker Hub.
    if (t.defaultRegistry !== DOCKER_HUB.name) {
        throw new ConfigError(`defaultRegistry: the agent defaults to ${t.defaultRegistry}, but Docker's mirror requests (which name no registry) are for ${DOCKER_HUB.name}; run the agent with --default-registry ${DOCKER_HUB.name}`);
    }
    const before = await readClientFile(opts.daemonJson);
    const changed = await applyAll([{ path: opts.daemonJson, before, after: editDaemonJson(before, t.url, opts.daemonJson) }], opts.dryRun === true);
    if (others.length > 0)
        say(`note: Docker uses registry mirrors only for Docker Hub; pulls from ${others.join(', ')} keep going to those registries directly (layerd setup containerd|podman covers them)`);
    if (changed)
        say(`dockerd reads ${opts.daemonJson} only when it starts: restart it (systemctl restart docker)${opts.dryRun === true ? ' after the change' : ''}`);
}
/** `host[:port][/path]` of a registry URL, as registries.conf names locations. */
function locationOf(url) {
    const u = new URL(url);
    return u.host + u.pathname.replace(/\/+$/, '');
}
async function podman(opts) {
    const t = await target(opts);
    // podman, skopeo and buildah send no ?ns=: the agent answers them from its default registry only.
    const others = t.registries.filter(r => r.name !== t.defaultRegistry).map(r => r.name);
    const why = `podman, skopeo and buildah do not tell the agent which registry they pull from, so it serves them its default registry (${t.defaultRegistry}) only`;
    if (t.explicit && others.length > 0) {
        throw new ConfigError(`--registry ${others.join(', ')}: ${why}; run an agent with --default-registry for it, or use layerd setup containerd`);
    }
    const wants = t.registries.filter(r => r.name === t.defaultRegistry)
        .map(r => ({ prefix: r.name, location: locationOf(r.url), insecure: r.url.startsWith('http:') }));
    if (wants.length === 0)
        throw new ConfigError(`defaultRegistry: ${t.defaultRegistry} has no upstream; add --upstream ${t.defaultRegistry}=URL`);
    const before = await readClientFile(opts.registriesConf);
    await applyAll([{ path: opts.registriesConf, before, after: editRegistriesConf(before, wants, t.hostPort, opts.registriesConf) }], opts.dryRun === true);
    if (others.length > 0)
        say(`note: not mirrored for podman: ${others.join(', ')} (${why})`);
}
function common(cmd) {
    return cmd
        .option('--listen <host:port>', `where the agent listens, as this machine reaches it (default: the config's listen, ${DEFAULTS.listen})`)
        .addOption(new Option('--registry <name>', 'registry to send through the agent, repeatable').argParser(collect).default([], 'every registry the agent has'))
        .option('--config <file>', 'the agent\'s YAML config (for its registries and listen address)')
        .addOption(new Option('--upstream <name=url>', 'an upstream registry of the agent, as for serve; repeatable').argParser(collect).default([], `${DOCKER_HUB.name} only`))
        .option('--default-registry <name>', 'the agent\'s registry for requests without ?ns=, as for serve (default docker.io)')
        .option('--dry-run', 'print what would be written; write nothing');
}
/** Register `layerd setup` on the CLI program. */
export function registerSetup(program) {
    const setup = program.command('setup')
        .description('point a container client (containerd, docker, podman) at this agent by editing its configuration')
        // Usage errors (unknown option, missing value, no client named) exit 2, like bad config.
        .exitOverride(err => process.exit(err.exitCode === 0 ? 0 : 2));
    common(setup.command('containerd').description('write <hosts-dir>/<registry>/hosts.toml with the agent as first host'))
        .option('--hosts-dir <dir>', 'containerd\'s certs.d directory', DEFAULTS.setup.containerdHostsDir)
        .action(containerd);
    common(setup.command('docker').description('add the agent to registry-mirrors in daemon.json (Docker Hub only)'))
        .option('--daemon-json <file>', 'dockerd\'s configuration file', DEFAULTS.setup.dockerDaemonJson)
        .action(docker);
    common(setup.command('podman').description('add the agent as first [[registry.mirror]] in registries.conf (podman, skopeo, buildah)'))
        .option('--registries-conf <file>', 'containers-registries.conf file', DEFAULTS.setup.podmanRegistriesConf)
        .action(podman);
}
//# sourceMappingURL=setup.js.map