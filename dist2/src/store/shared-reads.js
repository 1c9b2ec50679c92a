// Reads of a blob's file shared by every reader: the file is read in aligned chunks, and readers
// that want the same chunk at about the same time get the same Buffer (one read, no copy per
// reader), the next chunks read ahead while the current one is sent. A few recent chunks are kept;
// the rest is left to the page cache.
import { StoreIOError } from '../errors.js';
export const SHARED_CHUNK = 1024 * 1024;
/** Chunks read ahead of a reader: file reads are thread-pool round trips, keep a few in flight. */
const AHEAD = 3;
/** Chunks kept per blob: enough for readers a little apart, small enough for many blobs. */
const KEEP = 8;
export class SharedReads {
    file;
    size;
    what;
    chunks = new Map();
    constructor(file, size, what) {
        this.file = file;
        this.size = size;
        this.what = what;
    }
    chunk(i) {
        let p = this.chunks.get(i);
        if (p !== undefined) {
            // Most recently used last.
            this.chunks.delete(i);
            this.chunks.set(i, p);
            return p;
        }
        const start = i * SHARED_CHUNK;
        const len = Math.min(SHARED_CHUNK, this.size - start);
        p = (async () => {
            const fh = await this.file();
            const buf = Buffer.allocUnsafe(len);
            let done = 0;
            while (done < len) {
                const { bytesRead } = await fh.read(buf, done, len - done, start + done);
                if (bytesRead === 0)
                    throw new StoreIOError(`unexpected end of file for ${this.what} at ${start + done}`);
                done += bytesRead;
            }
            return buf;
        })();
        p.catch(() => { if (this.chunks.get(i) === p)
            this.chunks.delete(i); });
        this.chunks.set(i, p);
        while (this.chunks.size > KEEP)
            this.chunks.delete(this.chunks.keys().next().value);
        return p;
    }
    /** Bytes [start, end) as views of shared chunks, reading one chunk ahead. */
    async *read(start, end) {
        let pos = start;
        while (pos < end) {
            const i = Math.floor(pos / SHARED_CHUNK);
            const current = this.chunk(i);
            for (let k = i + 1; k <= i + AHEAD && k * SHARED_CHUNK < end; k++)
                void this.chunk(k).catch(() => { });
            const buf = await current;
            const from = pos - i * SHARED_CHUNK;
            const to = Math.min(buf.length, end - i * SHARED_CHUNK);
            pos += to - from;
            yield from === 0 && to === buf.length ? buf : buf.subarray(from, to);
        }
    }
    /** Forget the kept chunks (the blob was closed). */
    clear() { this.chunks.clear(); }
}
//# sourceMappingURL=shared-reads.js.map