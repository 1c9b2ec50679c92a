/**
 * Sequential writes of a transfer's bytes at increasing offsets, without making the network wait
 * for the disk: chunks queue while a write is in flight and go out together as one writev (fewer
 * syscalls, fewer thread-pool round trips, no copy), and the network is held back only above
 * `maxQueued`.
 */
export class WriteBehind {
    entry;
    pos;
    onWritten;
    maxQueued;
    queue = [];
    queued = 0;
    writing;
    error;
    space;
    constructor(entry, 
    /** Offset of the next byte to write. */
    pos, onWritten, maxQueued = 4 * 1024 * 1024) {
        this.entry = entry;
        this.pos = pos;
        this.onWritten = onWritten;
        this.maxQueued = maxQueued;
    }
    /** Queue a chunk; resolves once there is room for more (throws a write error). */
    async push(chunk) {
        if (this.error !== undefined)
            throw this.error;
        this.queue.push(chunk);
        this.queued += chunk.length;
        this.writing ??= this.drain();
        if (this.queued > this.maxQueued) {
            await new Promise(resolve => { this.space = resolve; });
            if (this.error !== undefined)
                throw this.error;
        }
    }
    /** Wait until everything queued is written (throws a write error). */
    async flush() {
        while (this.writing !== undefined)
            await this.writing;
        if (this.error !== undefined)
            throw this.error;
    }
    async drain() {
        try {
            while (this.queue.length > 0 && this.error === undefined) {
                const parts = this.queue;
                this.queue = [];
                const length = parts.reduce((n, b) => n + b.length, 0);
                this.queued -= length;
                this.releaseSpace();
                // One writev for everything that queued up: fewer syscalls, no copy into one buffer.
                await this.entry.write(this.pos, parts);
                this.pos += length;
                this.onWritten(length);
            }
        }
        catch (err) {
            this.error = err;
            this.queue = [];
            this.queued = 0;
        }
        finally {
            this.writing = undefined;
            this.releaseSpace(true);
        }
    }
    releaseSpace(force = false) {
        if (this.space !== undefined && (force || this.queued <= this.maxQueued)) {
            const fn = this.space;
            this.space = undefined;
            fn();
        }
    }
}
//# sourceMappingURL=write-behind.js.map