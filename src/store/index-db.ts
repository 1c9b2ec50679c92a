import { Level } from 'level'
import type { Range } from '../util/ranges.js'

export type BlobState = 'partial' | 'complete'

export interface BlobOrigin {
  registry: string
  repository: string
}

/** What the index records per digest. `ranges` only ever names bytes that were fsynced first. */
export interface BlobMeta {
  size: number
  state: BlobState
  ranges: Range[]
  mediaType?: string
  origin?: BlobOrigin
  /** Fetched from a registry that needed credentials: not shared with peers unless allowed. */
  credentialed: boolean
  pinned: boolean
  /** ms since epoch */
  lastAccess: number
  createdAt: number
}

export interface TagMeta {
  digest: string
  mediaType: string
  size: number
  updatedAt: number
}

const BLOB = 'b!'
const TAG = 't!'
const PIECES = 'p!'

/**
 * The LevelDB index. Keys: `b!<digest>` → BlobMeta, `t!<registry>/<repo>:<tag>` → TagMeta,
 * `p!<digest>` → per-piece sha256 hashes (hex, concatenated) of complete blobs.
 */
export class BlobIndex {
  private constructor (private readonly db: Level<string, any>) {}

  static async open (dir: string): Promise<BlobIndex> {
    const db = new Level<string, any>(dir, { valueEncoding: 'json' })
    await db.open()
    return new BlobIndex(db)
  }

  async close (): Promise<void> { await this.db.close() }

  async getBlob (digest: string): Promise<BlobMeta | undefined> {
    return await this.db.get(BLOB + digest) as BlobMeta | undefined
  }

  async putBlob (digest: string, meta: BlobMeta): Promise<void> {
    await this.db.put(BLOB + digest, meta)
  }

  /** Removes the blob and its piece hashes in one atomic batch. */
  async deleteBlob (digest: string): Promise<void> {
    await this.db.batch([{ type: 'del', key: BLOB + digest }, { type: 'del', key: PIECES + digest }])
  }

  async * blobs (): AsyncGenerator<[string, BlobMeta]> {
    for await (const [key, value] of this.db.iterator({ gt: BLOB, lt: BLOB + '\xff' })) {
      yield [key.slice(BLOB.length), value as BlobMeta]
    }
  }

  async putPieces (digest: string, pieces: Buffer[]): Promise<void> {
    await this.db.put(PIECES + digest, Buffer.concat(pieces).toString('hex'))
  }

  async getPieces (digest: string): Promise<Buffer[] | undefined> {
    const hex = await this.db.get(PIECES + digest) as string | undefined
    if (hex === undefined) return undefined
    const all = Buffer.from(hex, 'hex')
    const out: Buffer[] = []
    for (let i = 0; i + 32 <= all.length; i += 32) out.push(all.subarray(i, i + 32))
    return out
  }

  async getTag (registry: string, repository: string, tag: string): Promise<TagMeta | undefined> {
    return await this.db.get(`${TAG}${registry}/${repository}:${tag}`) as TagMeta | undefined
  }

  async putTag (registry: string, repository: string, tag: string, meta: TagMeta): Promise<void> {
    await this.db.put(`${TAG}${registry}/${repository}:${tag}`, meta)
  }
}
