// The resumable blob body: one GET with `Range: bytes=<start>-[<end-1>]`, and when the body
// breaks (cut, short, or no byte for noProgressTimeoutMs) another with `Range: bytes=<next>-`,
// until the wanted range is through or the attempt budget is spent. The caller sees one stream.
//
// Every response is checked before its bytes count: a 206 must start where we asked and agree on
// the size, a 200 to a ranged request is skipped forward (with one warning), a strong ETag may not
// change between the first response and a resume, and the blob size may not change at all. The
// budget counts consecutive attempts without progress: a transfer that moves is never given up.
//
// With a rate cap (`upstream.rate`), each chunk is paid for in the shared token bucket before the
// next one is read: the body stays unread meanwhile, so undici stops reading the socket and TCP
// slows the sender. Nothing is buffered beyond undici's own high-water mark.
import { AbortedError, NoProgressError, RangeInvalidError, UpstreamProtocolError, errorMessage, isLayerdError } from '../errors.js';
import { sleep } from '../util/sleep.js';
import { pullScope } from './auth.js';
import { contentLength, discard, header, nextWithin, parseContentRange } from './http.js';
import { exchange, failStatus } from './request.js';
import { RetryableError, retryDecision, withRetry } from './retry.js';
/**
 * GET a blob range (the name and digest are already validated). Resolves once the first response's
 * headers passed their checks, so `size` is known; the body resumes by itself.
 */
export async function fetchBlobBody(deps, reg, repository, digest, opts) {
    const { start, end } = opts;
    if (!Number.isSafeInteger(start) || start < 0)
        throw new RangeInvalidError(`invalid blob range start ${start}`);
    if (end !== undefined && (!Number.isSafeInteger(end) || end <= start))
        throw new RangeInvalidError(`invalid blob range [${start}, ${end})`);
    deps.checkOpen(opts.signal);
    const transfer = new BlobTransfer(deps, reg, repository, digest, opts);
    const size = await transfer.begin();
    return { size, body: transfer.body() };
}
class BlobTransfer {
    deps;
    reg;
    repository;
    digest;
    opts;
    size;
    name;
    what;
    budget = { failures: 0 };
    wantedEnd;
    etag;
    warnedFull = false;
    cur;
    pos;
    resumes = 0;
    constructor(deps, reg, repository, digest, opts) {
        this.deps = deps;
        this.reg = reg;
        this.repository = repository;
        this.digest = digest;
        this.opts = opts;
        this.name = reg.def.name;
        this.what = `blob ${repository}@${digest}`;
        this.wantedEnd = opts.end ?? Number.MAX_SAFE_INTEGER;
        this.pos = opts.start;
    }
    /** Open the first response; resolves with the blob size. */
    async begin() {
        this.cur = await this.open(this.pos, false);
        return this.size;
    }
    /** The body, iterable once; ending the iteration early (or aborting) releases the connection. */
    body() {
        const signal = this.opts.signal;
        const onAbort = () => { if (this.cur != null)
            discard(this.cur.body, this.aborted()); };
        signal?.addEventListener('abort', onAbort, { once: true });
        const cleanup = () => {
            signal?.removeEventListener('abort', onAbort);
            if (this.cur != null)
                discard(this.cur.body);
        };
        const gen = this.run(cleanup);
        let iterated = false;
        return {
            [Symbol.asyncIterator]: () => {
                if (iterated)
                    throw new Error('a blob body can only be iterated once');
                iterated = true;
                return {
                    next: async () => await gen.next(),
                    return: async () => { cleanup(); return await gen.return(undefined); },
                    throw: async (err) => { cleanup(); return await gen.throw(err); }
                };
            }
        };
    }
    aborted() {
        return new AbortedError(this.deps.closed() ? 'upstream client closed' : `${this.what} from ${this.name} aborted`);
    }
    /** One response at `pos` through the retry loop, its headers checked. */
    async open(pos, resuming) {
        const { deps, reg, opts } = this;
        return await withRetry(deps, reg, this.what, opts.signal, this.budget, async () => {
            const range = `bytes=${pos}-${opts.end !== undefined ? String(opts.end - 1) : ''}`;
            const { res } = await exchange(deps, reg, { method: 'GET', path: `/v2/${this.repository}/blobs/${this.digest}`, headers: { range, 'accept-encoding': 'identity' }, scope: pullScope(this.repository), signal: opts.signal });
            if (res.statusCode !== 200 && res.statusCode !== 206)
                return await failStatus(reg, res, 'blob', `${this.repository}@${this.digest}`);
            try {
                return this.check(res.statusCode, res.headers, res.body, pos, resuming);
            }
            catch (err) {
                discard(res.body);
                throw err;
            }
        });
    }
    /** Check a 200/206 answer to a request at `pos` and take its size (and first strong ETag). */
    check(status, headers, body, pos, resuming) {
        const proto = (msg) => new UpstreamProtocolError(`${this.name}: ${this.what}: ${msg}`);
        let total;
        let respStart;
        let respEnd;
        if (status === 206) {
            const cr = parseContentRange(header(headers, 'content-range'));
            if (cr == null)
                throw proto('206 without a valid Content-Range');
            if (cr.start !== pos)
                throw proto(`206 starts at ${cr.start}, asked for ${pos}`);
            const t = cr.size ?? this.size;
            if (t === undefined)
                throw proto('206 without the total size in Content-Range');
            total = t;
            respStart = cr.start;
            respEnd = cr.end + 1;
        }
        else {
            const len = contentLength(headers);
            if (len === undefined)
                throw proto('200 without Content-Length');
            total = len;
            respStart = 0;
            respEnd = len;
            if (pos > 0 && !this.warnedFull) {
                this.warnedFull = true;
                this.deps.log.warn({ registry: this.name, repository: this.repository, digest: this.digest, offset: pos }, 'upstream ignored Range and sent the whole blob; skipping forward');
            }
        }
        if (this.size !== undefined && total !== this.size)
            throw proto(`blob size changed from ${this.size} to ${total}`);
        if (respEnd > total || respEnd <= respStart)
            throw proto(`inconsistent range ${respStart}-${respEnd - 1}/${total}`);
        const tag = header(headers, 'etag');
        if (!resuming) {
            if (tag !== undefined && !tag.startsWith('W/'))
                this.etag = tag; // weak ETags promise no byte equality
        }
        else if (this.etag !== undefined && tag !== undefined && tag !== this.etag) {
            throw proto(`ETag changed on resume (${this.etag} -> ${tag})`);
        }
        if (pos >= total)
            throw new RangeInvalidError(`${this.name}: ${this.what}: offset ${pos} is beyond the blob size ${total}`, total);
        this.size = total;
        this.wantedEnd = Math.min(this.opts.end ?? total, total);
        return { body, skip: pos - respStart, respEnd: Math.min(respEnd, this.wantedEnd) };
    }
    async *run(cleanup) {
        const { deps, opts } = this;
        const stalled = () => new NoProgressError(`${this.name}: ${this.what}: no data for ${deps.noProgressTimeoutMs} ms`);
        try {
            while (this.pos < this.wantedEnd) {
                const c = this.cur;
                let failure;
                let progressed = false;
                let skip = c.skip;
                const it = c.body[Symbol.asyncIterator]();
                while (this.pos < c.respEnd) {
                    let r;
                    try {
                        r = await nextWithin(it, c.body, deps.noProgressTimeoutMs, stalled);
                    }
                    catch (err) {
                        failure = err;
                        break;
                    }
                    if (r.done === true)
                        break;
                    let chunk = r.value;
                    deps.metrics.upstreamBytes.inc({ registry: this.name }, chunk.length);
                    if (deps.rate !== undefined)
                        await deps.rate.take(chunk.length, opts.signal);
                    if (skip > 0) {
                        if (chunk.length <= skip) {
                            skip -= chunk.length;
                            continue;
                        }
                        chunk = chunk.subarray(skip);
                        skip = 0;
                    }
                    const room = c.respEnd - this.pos;
                    if (chunk.length > room)
                        chunk = chunk.subarray(0, room);
                    this.pos += chunk.length;
                    progressed = true;
                    yield chunk;
                }
                if (this.pos >= this.wantedEnd)
                    break;
                discard(c.body);
                if (opts.signal?.aborted === true || deps.closed())
                    throw this.aborted();
                if (this.pos < c.respEnd)
                    await this.broken(c, failure, progressed);
                // else the response ended where it said it would (a server may send less than asked): continue.
                this.cur = await this.open(this.pos, true);
            }
            return undefined;
        }
        finally {
            cleanup();
        }
    }
    /** A transfer broke before `c.respEnd`: count it, give up or wait (when it made no progress) to resume at pos. */
    async broken(c, failure, progressed) {
        const { deps, reg, opts } = this;
        if (failure !== undefined && isLayerdError(failure) && !(failure instanceof NoProgressError))
            throw failure;
        reg.breaker.failure();
        if (progressed)
            this.budget.failures = 0;
        this.budget.failures++;
        const reason = failure === undefined ? `body ended at offset ${this.pos}, expected ${c.respEnd}` : errorMessage(failure);
        const decision = retryDecision(new RetryableError(reason, false, undefined, { cause: failure }), this.budget.failures, deps.retry, `${this.name}: ${this.what}`);
        if (!decision.retry)
            throw decision.error;
        this.resumes++;
        deps.metrics.resumes.inc({ registry: this.name });
        deps.log.info({ registry: this.name, repository: this.repository, digest: this.digest, offset: this.pos, attempt: this.resumes, reason }, 'resuming upstream blob transfer');
        opts.onResume?.(this.pos, this.resumes);
        if (!progressed)
            await sleep(decision.delayMs, opts.signal, () => this.aborted());
    }
}
//# sourceMappingURL=blob-body.js.map