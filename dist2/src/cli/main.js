import '../polyfill.js';
import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import envPaths from 'env-paths';
import { request } from 'undici';
import { DEFAULTS } from '../config/defaults.js';
import { parseListen } from '../config/registries.js';
import { loadConfig } from '../config/load.js';
import { ConfigError, errorMessage, isLayerdError } from '../errors.js';
import { createLogger } from '../log.js';
import { BlobStore } from '../store/blob-store.js';
import { collectGarbage } from '../store/gc.js';
import { createMetrics } from '../metrics/metrics.js';
import { DOCKER_HUB } from '../oci/reference.js';
import { applyUpstreamFlags } from './flags.js';
import { registerSetup } from './setup.js';
import { VERSION } from '../version.js';
import { formatSize } from './format.js';
import { repeatable } from './options.js';
import { registerPull } from './pull.js';
import { registerStatus } from './status.js';
let hooks = {};
/** Flags win over the config file; each flag writes the same key the YAML would. */
function applyFlags(opts) {
    return (raw) => {
        if (opts.dataDir !== undefined)
            raw.dataDir = opts.dataDir;
        if (opts.listen !== undefined)
            raw.listen = opts.listen;
        if (!('upstream' in opts))
            return;
        if (opts.defaultRegistry !== undefined)
            raw.defaultRegistry = opts.defaultRegistry;
        if (opts.logLevel !== undefined)
            raw.logLevel = opts.logLevel;
        if (opts.logFormat !== undefined)
            raw.logFormat = opts.logFormat;
        raw.upstreams ??= {};
        applyUpstreamFlags(raw, opts.upstream);
        for (const c of opts.credentials) {
            const m = /^([^=]+)=([^:]+):(.+)$/.exec(c);
            // Never echo the value: it may be a password typed by mistake.
            if (m === null)
                throw new ConfigError('--credentials: expected NAME=USER:PASSWORD_FILE');
            const entry = raw.upstreams[m[1]] ?? (m[1] === DOCKER_HUB.name ? { url: DOCKER_HUB.url } : undefined);
            if (entry === undefined)
                throw new ConfigError(`--credentials: registry ${m[1]} has no --upstream`);
            raw.upstreams[m[1]] = { ...entry, username: m[2], passwordFile: m[3] };
        }
        raw.p2p ??= {};
        if (opts.p2pListen.length > 0)
            raw.p2p.listen = opts.p2pListen;
        if (opts.peer.length > 0)
            raw.p2p.peers = [...(raw.p2p.peers ?? []), ...opts.peer];
        if (!opts.mdns)
            raw.p2p.mdns = false;
        if (!opts.dht)
            raw.p2p.dht = false;
        if (!opts.p2p)
            raw.p2p.enabled = false;
        if (opts.secretFile !== undefined)
            raw.p2p.secretFile = opts.secretFile;
    };
}
function defaultDataDir() {
    return envPaths('layerd', { suffix: '' }).data;
}
function fail(err) {
    const msg = isLayerdError(err) ? err.message : errorMessage(err);
    process.stderr.write(`layerd: ${msg}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
}
async function serve(opts) {
    let config;
    try {
        config = await loadConfig(opts.config, applyFlags(opts));
    }
    catch (err) {
        fail(err);
    }
    const logger = createLogger({ level: config.logLevel, format: config.logFormat });
    const dataDir = config.dataDir ?? defaultDataDir();
    let agent;
    try {
        // Loaded here: the agent (libp2p) takes a second to load, and the other commands do not need it.
        const { startAgent } = await import('../agent.js');
        agent = await startAgent({ config, dataDir, logger, metrics: createMetrics(), wrapLocal: hooks.wrapLocal });
    }
    catch (err) {
        fail(err);
    }
    // Handlers go in before the ready line: a supervisor may signal as soon as it sees it.
    let stopping = false;
    const shutdown = (signal) => {
        if (stopping) {
            process.exit(1);
        }
        stopping = true;
        logger.info({ signal }, 'stopping');
        agent.stop().then(() => {
            logger.info('stopped cleanly');
            process.exit(0);
        }, (err) => {
            logger.error({ err: errorMessage(err) }, 'error while stopping');
            process.exit(1);
        });
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    const { address, port } = agent.address;
    logger.info({
        listen: `${address.includes(':') ? `[${address}]` : address}:${port}`,
        dataDir,
        defaultRegistry: config.defaultRegistry,
        upstreams: Object.keys({ [DOCKER_HUB.name]: 1, ...config.upstreams }),
        peerId: agent.peers?.peerId,
        p2p: agent.peers === undefined ? 'off' : { listen: config.p2p.listen, mdns: config.p2p.mdns, staticPeers: config.p2p.peers.length, officeSecret: config.p2p.secretFile !== undefined },
        version: VERSION
    }, 'layerd ready');
}
/** Load the config of a command that talks to a running agent. */
async function commandConfig(opts) {
    try {
        return await loadConfig(opts.config, applyFlags(opts));
    }
    catch (err) {
        fail(err);
    }
}
/** Call an admin endpoint of the agent listening at `config.listen`; answers other than 200 are fatal. */
async function callAgent(config, path, method, timeoutMs) {
    const { host, port } = parseListen(config.listen);
    const res = await request(`http://${host.includes(':') ? `[${host}]` : host}:${port}/_layerd/${path}`, { method, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const body = await res.body.json();
    if (res.statusCode !== 200)
        fail(new Error(`agent answered ${res.statusCode}: ${JSON.stringify(body)}`));
    return body;
}
async function gc(opts) {
    const config = await commandConfig(opts);
    let report;
    try {
        // A running agent owns the store (LevelDB locks it): ask it to collect.
        report = await callAgent(config, 'gc', 'POST', 600_000);
    }
    catch (err) {
        if (err?.code !== 'ECONNREFUSED')
            fail(err);
        const dataDir = config.dataDir ?? defaultDataDir();
        const logger = createLogger({ level: 'warn', fd: 2 });
        let store;
        try {
            store = await BlobStore.open({ dataDir, logger, metrics: createMetrics({ defaultMetrics: false }) });
        }
        catch (e) {
            fail(new Error(`cannot open the store in ${dataDir}: ${errorMessage(e)}`));
        }
        try {
            report = await collectGarbage(store, { maxBytes: config.store.maxBytes, partialTtlMs: config.store.partialTtl, pinned: new Set(config.store.pinned), busy: () => false });
        }
        finally {
            await store.close();
        }
    }
    if (opts.json === true) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
    }
    for (const r of report.removed)
        process.stdout.write(`removed ${r.digest} (${formatSize(r.bytes)}, ${r.reason})\n`);
    process.stdout.write(`gc: removed ${report.removed.length} blobs, freed ${formatSize(report.freedBytes)}; ${formatSize(report.usedBytes)} of ${formatSize(report.maxBytes)} used${report.overQuota ? ' (still over quota: the rest is pinned or in use)' : ''}\n`);
}
async function peers(opts) {
    const config = await commandConfig(opts);
    let body;
    try {
        body = await callAgent(config, 'peers', 'GET', 10_000);
    }
    catch (err) {
        fail(new Error(`no agent answering on ${config.listen} (${err?.code ?? errorMessage(err)})`));
    }
    if (opts.json === true) {
        process.stdout.write(JSON.stringify(body, null, 2) + '\n');
        return;
    }
    const list = body.peers;
    process.stdout.write(`this agent: ${body.self ?? '-'}\n`);
    if (list.length === 0) {
        process.stdout.write('no peers connected\n');
        return;
    }
    // FOUND BY: static (--peer), mdns, dht (a lookup dialled it), inbound (it dialled us).
    // MESH: we push our whole inventory to it; other peers are asked about one blob when needed.
    process.stdout.write('PEER                                                   FOUND BY  MESH  BLOBS  COMPLETE        SIZE  ADDRESS\n');
    for (const p of list) {
        process.stdout.write(`${p.peerId.padEnd(54)} ${(p.foundBy ?? '-').padEnd(8)}  ${(p.mesh === true ? 'yes' : 'no').padEnd(4)}  ${String(p.blobs).padStart(5)}  ${String(p.completeBlobs).padStart(8)}  ${formatSize(p.bytes).padStart(10)}  ${p.addresses[0] ?? ''}${p.bannedUntil !== undefined ? '  (banned)' : ''}\n`);
    }
}
const program = new Command('layerd')
    .description('Peer-to-peer LAN agent that shares container image layers: a verified, resumable OCI pull mirror.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError();
program.command('serve')
    .description('run the agent: registry mirror on --listen, peers over libp2p')
    .option('--config <file>', 'YAML config file, config/layerd.yaml documents every option (default: none)')
    .option('--data-dir <dir>', 'where blobs and the index live (default: ~/.local/share/layerd, the per-user data directory)')
    .option('--listen <host:port>', `registry API, /metrics and status page listener (default: ${DEFAULTS.listen})`)
    .addOption(repeatable('--upstream <name=url>', 'upstream registry, repeatable', `${DOCKER_HUB.name}=${DOCKER_HUB.url}, built in`))
    .option('--default-registry <name>', `registry for requests without ?ns= (default: ${DEFAULTS.defaultRegistry})`)
    .addOption(repeatable('--credentials <name=user:passwordfile>', 'credentials for an upstream, password read from a file; repeatable', 'none'))
    .addOption(repeatable('--p2p-listen <multiaddr>', 'libp2p listen address, repeatable', DEFAULTS.p2p.listen.join(', ')))
    .addOption(repeatable('--peer <multiaddr>', 'static peer, repeatable', 'none'))
    .option('--no-mdns', 'do not discover peers with mDNS (default: mDNS on)')
    .option('--no-dht', 'no DHT: share only with directly connected peers; the static peers are otherwise its bootstrap (default: DHT on)')
    .option('--no-p2p', 'no peer network at all, a standalone mirror (default: peer network on)')
    .option('--secret-file <file>', 'office secret: only agents with the same secret connect (default: none, any layerd may join)')
    .addOption(new Option('--log-level <level>', `log level (default: ${DEFAULTS.logLevel})`).choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .addOption(new Option('--log-format <format>', `log lines: auto = readable on a terminal, JSON otherwise (default: ${DEFAULTS.logFormat})`).choices(['auto', 'json', 'pretty']))
    .action(serve);
program.command('gc')
    .description('garbage-collect the store now (asks the running agent, or works on the data dir directly)')
    .option('--config <file>', 'YAML config file (default: none)')
    .option('--data-dir <dir>', 'data directory, when no agent is running (default: dataDir of --config, else ~/.local/share/layerd)')
    .option('--listen <host:port>', `where the running agent listens (default: listen of --config, else ${DEFAULTS.listen})`)
    .option('--json', 'print the report as JSON', false)
    .action(gc);
program.command('secret')
    .description('print a new random office secret (save it to a file, pass it with --secret-file)')
    .action(() => { process.stdout.write(randomBytes(32).toString('hex') + '\n'); });
program.command('peers')
    .description('list the peers of the running agent and what they hold')
    .option('--config <file>', 'YAML config file (default: none)')
    .option('--listen <host:port>', `where the running agent listens (default: listen of --config, else ${DEFAULTS.listen})`)
    .option('--json', 'print JSON', false)
    .action(peers);
registerSetup(program);
registerPull(program);
registerStatus(program);
/** Run the CLI on `argv` (process.argv form). `with` lets a test double of the agent hook in. */
export async function runCli(argv, with_ = {}) {
    hooks = with_;
    await program.parseAsync(argv).catch(fail);
}
//# sourceMappingURL=main.js.map