// Preheat (`layerd pull`): fetch an image's manifests and every blob of the chosen platforms into
// the store before anyone pulls it. The manifests resolve as the edge resolves them
// (src/registry/manifests.ts); each blob goes through its fetch session like a client pull,
// so neighbours are asked first and the work is shared with pulls already under way. Jobs run in
// the agent; the CLI polls their progress under /_layerd/pull/<id>.
import { randomBytes } from 'node:crypto';
import { DEFAULTS } from '../config/defaults.js';
import { InvalidRequestError, JobUnknownError, ManifestUnknownError, RegistryUnknownError, errorMessage } from '../errors.js';
import { blobDescriptors, indexEntries } from '../oci/manifest.js';
import { formatPlatform, hostPlatform, parsePlatform, platformMatches } from '../oci/platform.js';
import { formatImageReference, parseImageReference } from '../oci/reference.js';
import { readJsonBody } from '../registry/admin.js';
import { loadManifest } from '../registry/manifests.js';
import { sourceOf } from '../session/sources.js';
class Job {
    id;
    reference;
    digest;
    platforms;
    ctx;
    blobs = [];
    state = 'running';
    finishedAt;
    error;
    startedAt = Date.now();
    constructor(id, reference, digest, platforms, ctx) {
        this.id = id;
        this.reference = reference;
        this.digest = digest;
        this.platforms = platforms;
        this.ctx = ctx;
    }
    add(digest, size, kind, platform, done) {
        const known = this.blobs.find(b => b.view.digest === digest);
        if (known !== undefined) {
            if (platform !== undefined && !known.view.platforms.includes(platform))
                known.view.platforms.push(platform);
            return;
        }
        this.blobs.push({ view: { digest, size, kind, platforms: platform === undefined ? [] : [platform], state: done ? 'complete' : 'waiting', presentBytes: done ? size : 0, bytes: { local: 0, peer: 0, upstream: 0 } } });
    }
    view() {
        const blobs = this.blobs.map(({ view, session }) => {
            if (session === undefined || view.state !== 'fetching')
                return { ...view, platforms: [...view.platforms] };
            const bytes = { ...session.received };
            return { ...view, platforms: [...view.platforms], presentBytes: session.presentBytes, bytes, source: sourceOf(bytes) };
        });
        return { id: this.id, reference: this.reference, digest: this.digest, platforms: this.platforms, state: this.state, ...(this.error !== undefined ? { error: this.error } : {}), startedAt: this.startedAt, ...(this.finishedAt !== undefined ? { finishedAt: this.finishedAt } : {}), blobs };
    }
}
/** Runs `layerd pull` jobs: resolve the manifests at once (errors go back to the caller), then fetch the blobs. */
export class Preheater {
    init;
    jobs = new Map();
    platform;
    stopped = false;
    constructor(init) {
        this.init = init;
        this.platform = init.platform ?? hostPlatform();
    }
    /** POST /_layerd/pull and GET /_layerd/pull/<id>. */
    routes() {
        return {
            pull: { method: 'POST', handle: async (req) => await this.start(pullRequest(await readJsonBody(req))) },
            'pull/': { method: 'GET', handle: async (_req, id) => this.get(id) }
        };
    }
    get(id) {
        const job = this.jobs.get(id);
        if (job === undefined)
            throw new JobUnknownError(`no pull job ${JSON.stringify(id.slice(0, 32))} (finished jobs are kept ${Math.round(this.keepJobsMs / 60_000)} min)`);
        return job.view();
    }
    /** Resolve the image (throws when it does not exist) and start fetching its blobs. */
    async start(r) {
        const { edge, defaultRegistry } = this.init;
        const ref = parseImageReference(r.reference, defaultRegistry);
        const wanted = (r.platforms ?? []).map(parsePlatform);
        if (!this.init.knownRegistries().includes(ref.registry)) {
            throw new RegistryUnknownError(`registry ${ref.registry} is not configured: start the agent with --upstream ${ref.registry}=https://${ref.registry}`);
        }
        const name = formatImageReference(ref);
        const ctx = { registry: ref.registry, repository: ref.repository };
        const top = await loadManifest(edge, ctx, ref);
        const entries = indexEntries(top.body);
        const chosen = [];
        let platforms = [];
        if (entries === undefined) {
            chosen.push({ digest: top.digest });
        }
        else {
            const picked = r.allPlatforms === true ? entries : pick(name, entries, wanted.length > 0 ? wanted : [this.platform]);
            for (const e of picked)
                chosen.push({ digest: e.digest, platform: e.platform !== undefined ? formatPlatform(e.platform) : undefined });
            platforms = [...new Set(chosen.map(c => c.platform).filter((p) => p !== undefined))];
        }
        const job = new Job(randomBytes(6).toString('hex'), name, top.digest, platforms, ctx);
        job.add(top.digest, top.body.length, entries === undefined ? 'manifest' : 'index', undefined, true);
        for (const c of chosen) {
            const m = c.digest === top.digest ? top : await loadManifest(edge, ctx, { digest: c.digest });
            if (m !== top)
                job.add(m.digest, m.body.length, 'manifest', c.platform, true);
            for (const d of blobDescriptors(m.body))
                job.add(d.digest, d.size, d.kind, c.platform, false);
        }
        this.prune();
        this.jobs.set(job.id, job);
        edge.logger.info({ job: job.id, reference: name, digest: top.digest, platforms, blobs: job.blobs.length }, 'pull started');
        void this.run(job);
        return job.view();
    }
    stop() { this.stopped = true; }
    get keepJobsMs() { return this.init.keepJobsMs ?? DEFAULTS.preheat.keepJobsMs; }
    async run(job) {
        const todo = job.blobs.filter(b => b.view.state === 'waiting');
        const workers = Array.from({ length: Math.min(todo.length, this.init.concurrentBlobs ?? DEFAULTS.preheat.concurrentBlobs) }, async () => {
            for (let b = todo.shift(); b !== undefined; b = todo.shift())
                await this.fetch(job, b);
        });
        await Promise.all(workers);
        const failed = job.blobs.filter(b => b.view.state === 'failed');
        job.state = failed.length > 0 ? 'failed' : 'complete';
        if (failed.length > 0)
            job.error = `${failed.length} blob${failed.length > 1 ? 's' : ''} failed: ${failed[0].view.digest}: ${failed[0].view.error ?? 'error'}`;
        job.finishedAt = Date.now();
        const level = job.state === 'complete' ? 'info' : 'warn';
        this.init.edge.logger[level]({ job: job.id, reference: job.reference, state: job.state, err: job.error, ms: job.finishedAt - job.startedAt }, 'pull finished');
    }
    /** One blob through its fetch session until it is verified (or fails). */
    async fetch(job, b) {
        const { store, sessions } = this.init.edge;
        const v = b.view;
        try {
            if ((await store.stat(v.digest))?.state === 'complete') {
                Object.assign(v, { state: 'complete', presentBytes: v.size, source: 'local', bytes: { local: v.size, peer: 0, upstream: 0 } });
                return;
            }
            v.state = 'fetching';
            // A session with no reader stops after fetch.detachedTimeout; what it fetched stays, and
            // the next session resumes from there.
            for (;;) {
                if (this.stopped)
                    throw new Error('agent is stopping');
                const s = b.session = await sessions.session(v.digest, job.ctx);
                s.ensureBackground(job.ctx);
                await s.ended;
                v.presentBytes = s.presentBytes;
                v.bytes = { ...s.received };
                v.source = sourceOf(v.bytes);
                if (s.status === 'complete')
                    break;
                if (s.status !== 'stopped')
                    throw s.error ?? new Error(`fetch ${s.status}`);
            }
            v.state = 'complete';
            v.presentBytes = v.size;
        }
        catch (err) {
            v.state = 'failed';
            v.error = errorMessage(err);
        }
    }
    /** Drop finished jobs past their time, and the oldest finished ones over the limit. */
    prune() {
        const now = Date.now();
        for (const [id, j] of this.jobs)
            if (j.finishedAt !== undefined && now - j.finishedAt > this.keepJobsMs)
                this.jobs.delete(id);
        const max = this.init.maxJobs ?? DEFAULTS.preheat.maxJobs;
        for (const [id, j] of this.jobs) {
            if (this.jobs.size < max)
                break;
            if (j.finishedAt !== undefined)
                this.jobs.delete(id);
        }
    }
}
/** The first manifest of the index for each wanted platform; ManifestUnknownError naming what the image has. */
function pick(name, entries, wanted) {
    return wanted.map(w => {
        const e = entries.find(x => platformMatches(w, x.platform));
        if (e !== undefined)
            return e;
        const has = [...new Set(entries.map(x => x.platform).filter((p) => p !== undefined).map(formatPlatform))];
        throw new ManifestUnknownError(`${name} has no ${formatPlatform(w)} image (it has ${has.length > 0 ? has.join(', ') : 'no platforms'})`);
    });
}
function pullRequest(body) {
    const { reference, platforms, allPlatforms } = body;
    if (typeof reference !== 'string' || reference === '')
        throw new InvalidRequestError('reference: expected an image reference such as docker.io/library/busybox:latest');
    if (platforms !== undefined && !(Array.isArray(platforms) && platforms.every(p => typeof p === 'string')))
        throw new InvalidRequestError('platforms: expected a list of OS/ARCH strings');
    if (allPlatforms !== undefined && typeof allPlatforms !== 'boolean')
        throw new InvalidRequestError('allPlatforms: expected true or false');
    return { reference, platforms: platforms, allPlatforms };
}
//# sourceMappingURL=preheat.js.map