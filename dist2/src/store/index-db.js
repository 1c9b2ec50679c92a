import { Level } from 'level';
const BLOB = 'b!';
const TAG = 't!';
const PIECES = 'p!';
/**
 * The LevelDB index. Keys: `b!<digest>` → BlobMeta, `t!<registry>/<repo>:<tag>` → TagMeta,
 * `p!<digest>` → per-piece sha256 hashes (hex, concatenated) of complete blobs.
 */
export class BlobIndex {
    db;
    constructor(db) {
        this.db = db;
    }
    static async open(dir) {
        const db = new Level(dir, { valueEncoding: 'json' });
        await db.open();
        return new BlobIndex(db);
    }
    async close() { await this.db.close(); }
    async getBlob(digest) {
        return await this.db.get(BLOB + digest);
    }
    async putBlob(digest, meta) {
        await this.db.put(BLOB + digest, meta);
    }
    /** Removes the blob and its piece hashes in one atomic batch. */
    async deleteBlob(digest) {
        await this.db.batch([{ type: 'del', key: BLOB + digest }, { type: 'del', key: PIECES + digest }]);
    }
    async *blobs() {
        for await (const [key, value] of this.db.iterator({ gt: BLOB, lt: BLOB + '\xff' })) {
            yield [key.slice(BLOB.length), value];
        }
    }
    async putPieces(digest, pieces) {
        await this.db.put(PIECES + digest, Buffer.concat(pieces).toString('hex'));
    }
    async getPieces(digest) {
        const hex = await this.db.get(PIECES + digest);
        if (hex === undefined)
            return undefined;
        const all = Buffer.from(hex, 'hex');
        const out = [];
        for (let i = 0; i + 32 <= all.length; i += 32)
            out.push(all.subarray(i, i + 32));
        return out;
    }
    async getTag(registry, repository, tag) {
        return await this.db.get(`${TAG}${registry}/${repository}:${tag}`);
    }
    async putTag(registry, repository, tag, meta) {
        await this.db.put(`${TAG}${registry}/${repository}:${tag}`, meta);
    }
}
//# sourceMappingURL=index-db.js.map