// `layerd pull REFERENCE`: preheat. Asks the running agent to fetch an image into its store
// (src/ops/preheat.ts does the work, neighbours first) and shows the progress: live bars on a
// terminal, else one plain line per blob as it completes and a summary. Exit 0 once every blob
// of the chosen platforms is complete and verified; 1 when the image does not exist, a blob
// fails or no agent answers; 2 for a bad reference or platform.
import { MultiBar } from 'cli-progress';
import { DEFAULTS } from '../config/defaults.js';
import { errorMessage } from '../errors.js';
import { parsePlatform } from '../oci/platform.js';
import { parseImageReference } from '../oci/reference.js';
import { sleep } from '../util/sleep.js';
import { AgentClient, CliFailure, exitWithFailure } from './client.js';
import { formatDuration, formatRate, formatSize, percent, shortDigest } from './format.js';
import { repeatable } from './options.js';
export function registerPull(program) {
    program.command('pull')
        .description('preheat: fetch an image into the running agent\'s store (from neighbours first), with progress')
        .argument('<reference>', 'image: [registry/]repository[:tag] or [registry/]repository@sha256:...; without a registry, the agent\'s default registry (docker.io: busybox = docker.io/library/busybox)')
        .addOption(repeatable('--platform <os/arch>', 'platform of a multi-platform image, repeatable', 'the agent\'s own, e.g. linux/amd64'))
        .option('--all-platforms', 'every platform of a multi-platform image', false)
        .option('--listen <host:port>', `where the running agent listens (default: listen of --config, else ${DEFAULTS.listen})`)
        .option('--config <file>', 'YAML config file to read listen from (default: none)')
        .action(async (reference, opts) => { await pull(reference, opts).catch(exitWithFailure); });
}
/** Only the blobs with bytes to fetch get a line each; manifests are counted. */
const isData = (b) => b.kind === 'config' || b.kind === 'layer';
async function pull(reference, opts) {
    // Check the grammar here, before asking anyone (the registry does not matter for that).
    try {
        parseImageReference(reference, DEFAULTS.defaultRegistry);
        for (const p of opts.platform)
            parsePlatform(p);
    }
    catch (err) {
        throw new CliFailure(errorMessage(err), 2);
    }
    if (opts.allPlatforms && opts.platform.length > 0)
        throw new CliFailure('use either --platform or --all-platforms', 2);
    const client = await AgentClient.open(opts);
    let job;
    try {
        job = await client.call('pull', { method: 'POST', body: { reference, ...(opts.platform.length > 0 ? { platforms: opts.platform } : {}), allPlatforms: opts.allPlatforms } });
    }
    catch (err) {
        await client.close();
        if (err instanceof CliFailure && !err.message.startsWith('no agent'))
            throw new CliFailure(`cannot pull ${reference}: ${err.message}`, err.exitCode, err.code);
        throw err;
    }
    const data = job.blobs.filter(isData);
    const total = data.reduce((n, b) => n + b.size, 0);
    const manifests = job.blobs.length - data.length;
    process.stdout.write(`pulling ${job.reference}${job.platforms.length > 0 ? ` (${job.platforms.join(', ')})` : ''}: ${data.length} blob${data.length === 1 ? '' : 's'}, ${formatSize(total)}, ${manifests} manifest${manifests === 1 ? '' : 's'}\n`);
    const view = process.stderr.isTTY === true ? new Bars(data) : new Lines();
    process.once('SIGINT', () => {
        view.stop();
        process.stderr.write(`layerd: stopped watching; the agent keeps fetching ${job.reference} (see \`layerd status\`)\n`);
        process.exit(130);
    });
    try {
        for (;;) {
            view.update(job);
            if (job.state !== 'running')
                break;
            await sleep(DEFAULTS.preheat.pollMs);
            job = await client.call(`pull/${job.id}`);
        }
    }
    finally {
        view.stop();
        await client.close();
    }
    const took = formatDuration((job.finishedAt ?? Date.now()) - job.startedAt);
    if (job.state !== 'complete')
        throw new CliFailure(`pull ${job.reference} failed: ${job.error ?? 'unknown error'}`);
    const by = { local: 0, peer: 0, upstream: 0 };
    for (const b of job.blobs.filter(isData))
        for (const s of ['local', 'peer', 'upstream'])
            by[s] += b.bytes[s];
    process.stdout.write(`pulled ${job.reference} (${shortDigest(job.digest)}): ${data.length} blob${data.length === 1 ? '' : 's'}, ${formatSize(total)} in ${took} — local ${formatSize(by.local)}, peers ${formatSize(by.peer)}, upstream ${formatSize(by.upstream)}\n`);
}
/** Not a terminal: a line per blob when it completes or fails. No escape codes. */
class Lines {
    done = new Set();
    update(job) {
        for (const b of job.blobs.filter(isData)) {
            if ((b.state !== 'complete' && b.state !== 'failed') || this.done.has(b.digest))
                continue;
            this.done.add(b.digest);
            const where = b.platforms.length > 0 ? `  ${b.platforms.join(',')}` : '';
            process.stdout.write(b.state === 'complete'
                ? `${`${shortDigest(b.digest)}  ${b.kind.padEnd(6)}  ${formatSize(b.size).padStart(10)}  ${(b.source ?? 'local').padEnd(8)}${where}`.trimEnd()}\n`
                : `${shortDigest(b.digest)}  ${b.kind.padEnd(6)}  failed: ${b.error ?? 'error'}\n`);
        }
    }
    stop() { }
}
/** A terminal: a bar per blob and one for the whole image, with rate and source. */
class Bars {
    multi;
    bars = new Map();
    totalBar;
    last = new Map();
    constructor(blobs) {
        this.multi = new MultiBar({
            // Fits an 80-column terminal; a wider one gets a longer bar.
            format: (_o, p, payload) => {
                const width = Math.max(10, Math.min(40, (process.stderr.columns ?? 80) - 64));
                const full = Math.round(width * p.progress);
                return `${payload.label.padEnd(12)} ${'█'.repeat(full)}${'░'.repeat(width - full)} ${percent(p.value, p.total).padStart(5)} ${formatSize(p.value).padStart(9)} / ${formatSize(p.total).padEnd(9)} ${payload.rate.padStart(11)} ${payload.source}`;
            },
            hideCursor: true,
            clearOnComplete: false,
            autopadding: true,
            fps: 8
        });
        for (const b of blobs)
            this.bars.set(b.digest, this.multi.create(b.size, 0, { label: shortDigest(b.digest).slice('sha256:'.length), rate: '', source: '' }));
        this.totalBar = this.multi.create(blobs.reduce((n, b) => n + b.size, 0), 0, { label: 'total', rate: '', source: '' });
    }
    update(job) {
        const now = Date.now();
        let present = 0;
        let rate = 0;
        for (const b of job.blobs.filter(isData)) {
            const bar = this.bars.get(b.digest);
            if (bar === undefined)
                continue;
            const prev = this.last.get(b.digest);
            const r = prev === undefined || now <= prev.at ? 0 : 0.6 * prev.rate + 0.4 * (b.presentBytes - prev.bytes) * 1000 / (now - prev.at);
            this.last.set(b.digest, { at: now, bytes: b.presentBytes, rate: r });
            const running = b.state === 'fetching';
            if (running)
                rate += r;
            present += b.presentBytes;
            bar.update(b.presentBytes, { rate: running && r > 0 ? formatRate(r) : '', source: b.state === 'failed' ? `failed: ${b.error ?? ''}` : b.state === 'waiting' ? 'waiting' : b.source ?? '' });
        }
        this.totalBar.update(present, { rate: rate > 0 ? formatRate(rate) : '', source: job.state === 'running' ? '' : job.state });
    }
    stop() { this.multi.stop(); }
}
//# sourceMappingURL=pull.js.map