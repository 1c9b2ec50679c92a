import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { DigestMismatchError, StoreIOError, errorMessage } from '../errors.js';
import { RangeSet } from '../util/ranges.js';
import { SharedReads } from './shared-reads.js';
import { PIECE_SIZE } from '../util/pieces.js';
const READ_CHUNK = 1024 * 1024;
const ACCESS_PERSIST_MS = 60_000;
export function blobInfo(digest, meta, present) {
    return {
        digest,
        size: meta.size,
        state: meta.state,
        present: present?.clone() ?? new RangeSet(meta.ranges),
        mediaType: meta.mediaType,
        origin: meta.origin,
        credentialed: meta.credentialed,
        pinned: meta.pinned,
        lastAccess: meta.lastAccess
    };
}
/**
 * One open blob: its file, what is present, what is recorded, and the running hash.
 * Shared by every writer (sources) and reader (HTTP clients, peers) of the digest.
 */
export class BlobEntry {
    store;
    digest;
    path;
    meta;
    present;
    fh;
    fhOpening;
    writing = new RangeSet();
    dirtyBytes = 0;
    syncTimer;
    checkpointing;
    /** The hash worker's job id for this entry, once hashing started. */
    hashJob;
    waiters = [];
    shared;
    refs = 0;
    /** Set when verification failed: the entry is dead, readers must stop. */
    failed;
    /** Being discarded: writes and checkpoints stop before `failed` is published. */
    dead = false;
    /** Remove the blob once the last reader lets go (set when it cannot be stored, e.g. disk full). */
    dropWhenIdle;
    /** Settles when the blob is verified complete (or fails verification). */
    completion;
    resolveCompletion;
    rejectCompletion;
    constructor(store, digest, path, meta) {
        this.store = store;
        this.digest = digest;
        this.path = path;
        this.meta = meta;
        this.present = new RangeSet(meta.ranges);
        this.completion = new Promise((resolve, reject) => { this.resolveCompletion = resolve; this.rejectCompletion = reject; });
        this.completion.catch(() => { }); // observed through `failed` too; never an unhandled rejection
        if (meta.state === 'complete')
            this.resolveCompletion();
    }
    get size() { return this.meta.size; }
    get complete() { return this.meta.state === 'complete'; }
    info() { return blobInfo(this.digest, this.meta, this.present); }
    /** Resolves at the next change (bytes written, completion, failure). */
    changed() {
        return new Promise(resolve => this.waiters.push(resolve));
    }
    wake() {
        const w = this.waiters;
        this.waiters = [];
        for (const fn of w)
            fn();
    }
    async file() {
        if (this.fh !== undefined)
            return this.fh;
        this.fhOpening ??= (async () => {
            await mkdir(join(this.path, '..'), { recursive: true });
            // 'a+' would ignore positions on Linux: open read-write, creating the file if needed.
            let fh;
            try {
                fh = await open(this.path, 'r+');
            }
            catch (err) {
                if (err?.code !== 'ENOENT')
                    throw err;
                fh = await open(this.path, 'w+');
            }
            this.fh = fh;
            return fh;
        })();
        return await this.fhOpening;
    }
    /**
     * Write bytes at `offset` (one buffer, or several that follow each other). Bytes already
     * present (or being written by another source) are skipped, never overwritten, so a late or
     * bad duplicate cannot corrupt data already there. Returns the number of new bytes written.
     */
    async write(offset, data) {
        if (this.failed !== undefined)
            throw this.failed;
        if (this.complete || this.dead)
            return 0;
        const bufs = data instanceof Uint8Array ? [data] : data;
        const length = bufs.reduce((n, b) => n + b.length, 0);
        const end = Math.min(offset + length, this.size);
        if (offset < 0 || offset >= end)
            return 0;
        const todo = this.present.union(this.writing).missing(offset, end);
        if (todo.isEmpty)
            return 0;
        for (const [s, e] of todo)
            this.writing.add(s, e);
        let written = 0;
        try {
            const fh = await this.file();
            if (todo.count === 1 && todo.covers(offset, offset + length)) {
                // The common case: all of it is new. One writev, no copy into one buffer.
                await writevAll(fh, bufs, offset);
                written = length;
            }
            else {
                const buf = bufs.length === 1 ? bufs[0] : Buffer.concat(bufs, length);
                for (const [s, e] of todo) {
                    const part = buf.subarray(s - offset, e - offset);
                    let done = 0;
                    while (done < part.length) {
                        const { bytesWritten } = await fh.write(part, done, part.length - done, s + done);
                        done += bytesWritten;
                    }
                    written += part.length;
                }
            }
        }
        catch (err) {
            for (const [s, e] of todo)
                this.writing.remove(s, e);
            throw this.store.ioError(err, `writing ${this.digest}`);
        }
        for (const [s, e] of todo) {
            this.writing.remove(s, e);
            this.present.add(s, e);
        }
        this.store.observe('write', this.digest, todo);
        this.dirtyBytes += written;
        if (offset <= this.present.contiguousEnd(0))
            this.startHashing();
        this.scheduleCheckpoint();
        this.store.written(this, written);
        this.wake();
        return written;
    }
    /**
     * The hash worker reads the file in order as the contiguous prefix grows, so the hash is
     * always of what is on disk, whatever order the bytes arrived in.
     */
    startHashing() {
        if (this.hashJob === undefined) {
            // Piece hashes in the same pass: peers ask for them, and the main thread never reads the
            // file again to compute them.
            const job = this.store.hasher.open(this.path, this.size, PIECE_SIZE);
            this.hashJob = job.id;
            job.digest.then((r) => { void this.finish(r.digest, r.pieces); }, (err) => {
                if (this.failed === undefined && !this.dead)
                    this.store.logger.error({ digest: this.digest, err: errorMessage(err) }, 'hashing failed');
            });
        }
        this.store.hasher.avail(this.hashJob, this.present.contiguousEnd(0));
    }
    /** Stop hashing (entry closed before completion); a later reopen hashes from the start. */
    stopHashing() {
        if (this.hashJob !== undefined)
            this.store.hasher.close(this.hashJob);
        this.hashJob = undefined;
    }
    finishing = false;
    async finish(actual, pieces) {
        if (this.finishing || this.complete || this.failed !== undefined || this.dead)
            return;
        this.finishing = true;
        this.hashJob = undefined;
        if (actual !== this.digest) {
            const err = new DigestMismatchError(`sha256 of the received bytes (${actual}) does not match ${this.digest}; discarded`, this.digest, actual);
            await this.store.discard(this, err);
            return;
        }
        const partialBytes = this.present.bytes;
        try {
            await this.checkpoint();
            const fh = await this.file();
            await fh.datasync();
            this.meta = { ...this.meta, state: 'complete', ranges: [[0, this.size]] };
            this.store.observe('index', this.digest, RangeSet.full(this.size));
            // Pieces first: a complete record always finds its piece hashes next to it.
            if (pieces !== undefined)
                await this.store.index.putPieces(this.digest, pieces);
            await this.store.index.putBlob(this.digest, this.meta);
        }
        catch (err) {
            this.finishing = false;
            this.store.logger.error({ digest: this.digest, err: errorMessage(err) }, 'could not record completion');
            return;
        }
        this.store.metrics.blobsCompleted.inc();
        this.store.logger.info({ digest: this.digest, size: this.size }, 'blob verified and complete');
        this.resolveCompletion();
        this.store.completed(this, partialBytes);
        this.wake();
    }
    scheduleCheckpoint() {
        if (this.dirtyBytes >= this.store.syncBytes) {
            void this.checkpoint();
            return;
        }
        if (this.syncTimer === undefined) {
            this.syncTimer = setTimeout(() => { this.syncTimer = undefined; void this.checkpoint(); }, this.store.syncIntervalMs);
            this.syncTimer.unref();
        }
    }
    /**
     * Make written bytes durable, then record them: fdatasync first, index second. A kill -9 at
     * any point leaves the index naming only bytes that are on disk.
     */
    async checkpoint() {
        while (this.checkpointing !== undefined)
            await this.checkpointing;
        if (this.dirtyBytes === 0 || this.fh === undefined || this.dead)
            return;
        if (this.syncTimer !== undefined) {
            clearTimeout(this.syncTimer);
            this.syncTimer = undefined;
        }
        const run = (async () => {
            const snapshot = this.present.clone();
            this.dirtyBytes = 0;
            try {
                await this.fh.datasync();
                this.store.observe('datasync', this.digest, snapshot);
                if (this.complete || this.dead)
                    return;
                this.meta = { ...this.meta, ranges: snapshot.toArray() };
                this.store.observe('index', this.digest, snapshot);
                await this.store.index.putBlob(this.digest, this.meta);
            }
            catch (err) {
                this.store.logger.error({ digest: this.digest, err: errorMessage(err) }, 'checkpoint failed');
            }
        })();
        this.checkpointing = run;
        try {
            await run;
        }
        finally {
            this.checkpointing = undefined;
        }
    }
    /** Read present bytes [start, end) in chunks; throws if a byte is not present. */
    async *read(start, end, chunk = READ_CHUNK) {
        if (!this.present.covers(start, end))
            throw new StoreIOError(`bytes ${start}-${end} of ${this.digest} are not present`);
        const fh = await this.file();
        let pos = start;
        while (pos < end) {
            const len = Math.min(chunk, end - pos);
            const buf = Buffer.allocUnsafe(len);
            const { bytesRead } = await fh.read(buf, 0, len, pos);
            if (bytesRead === 0)
                throw new StoreIOError(`unexpected end of file for ${this.digest} at ${pos}`);
            pos += bytesRead;
            yield bytesRead === len ? buf : buf.subarray(0, bytesRead);
        }
    }
    /**
     * Bytes [start, end) of a complete blob through reads shared with every other reader of it
     * (src/store/shared-reads.ts): concurrent readers of one blob read the file once.
     */
    readShared(start, end) {
        if (!this.complete)
            throw new StoreIOError(`${this.digest} is not complete`);
        this.shared ??= new SharedReads(async () => await this.file(), this.size, this.digest);
        return this.shared.read(start, end);
    }
    touch() {
        const now = Date.now();
        if (now - this.meta.lastAccess < ACCESS_PERSIST_MS)
            return;
        this.meta = { ...this.meta, lastAccess: now };
        // Access times are advisory (GC order): no fsync ordering needed.
        this.store.index.putBlob(this.digest, this.meta).catch(() => { });
    }
    fail(err) {
        this.dead = true;
        this.failed = err;
        this.rejectCompletion(err);
        this.wake();
    }
    async closeFile() {
        this.shared?.clear();
        this.shared = undefined;
        if (this.syncTimer !== undefined) {
            clearTimeout(this.syncTimer);
            this.syncTimer = undefined;
        }
        this.stopHashing();
        await this.checkpoint();
        const fh = this.fh;
        this.fh = undefined;
        this.fhOpening = undefined;
        await fh?.close().catch(() => { });
    }
}
/** writev until every byte is written (the kernel may write less than asked). */
async function writevAll(fh, bufs, position) {
    let rest = [...bufs];
    let pos = position;
    while (rest.length > 0) {
        const { bytesWritten } = await fh.writev(rest, pos);
        pos += bytesWritten;
        let n = bytesWritten;
        while (rest.length > 0 && n >= rest[0].length) {
            n -= rest[0].length;
            rest.shift();
        }
        if (n > 0)
            rest = [rest[0].subarray(n), ...rest.slice(1)];
    }
}
//# sourceMappingURL=blob-entry.js.map