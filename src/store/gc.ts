import type { Logger } from '../log.js'
import type { BlobInfo, BlobStore } from './blob-store.js'

export interface GcPolicy {
  /** Evict least recently used complete blobs while present bytes exceed this. */
  maxBytes: number
  /** Remove partial blobs not accessed for this long. */
  partialTtlMs: number
  /** Never removed. */
  pinned: ReadonlySet<string>
  /** A blob being served or fetched right now is never removed. */
  busy: (digest: string) => boolean
  now?: number
}

export interface GcReport {
  removed: Array<{ digest: string, bytes: number, reason: 'quota' | 'partial-ttl' }>
  freedBytes: number
  /** Present bytes after the run. */
  usedBytes: number
  maxBytes: number
  orphanFiles: number
  /** Quota still exceeded because the rest is pinned or busy. */
  overQuota: boolean
}

/**
 * One garbage-collection pass: stale partial blobs first (they are the cheap ones to lose), then
 * complete blobs in least-recently-used order until the store is under its quota.
 */
export async function collectGarbage (store: BlobStore, policy: GcPolicy, logger?: Logger): Promise<GcReport> {
  const now = policy.now ?? Date.now()
  const blobs = await store.list()
  const keep = (b: BlobInfo): boolean => b.pinned || policy.pinned.has(b.digest) || policy.busy(b.digest)
  let used = blobs.reduce((n, b) => n + b.present.bytes, 0)
  const removed: GcReport['removed'] = []

  const drop = async (b: BlobInfo, reason: 'quota' | 'partial-ttl'): Promise<void> => {
    if (await store.remove(b.digest, reason)) {
      removed.push({ digest: b.digest, bytes: b.present.bytes, reason })
      used -= b.present.bytes
      logger?.info({ digest: b.digest, bytes: b.present.bytes, reason }, 'gc removed blob')
    }
  }

  for (const b of blobs) {
    if (b.state === 'partial' && !keep(b) && now - b.lastAccess > policy.partialTtlMs) await drop(b, 'partial-ttl')
  }
  if (used > policy.maxBytes) {
    const lru = blobs
      .filter(b => b.state === 'complete' && !keep(b))
      .sort((a, b) => a.lastAccess - b.lastAccess)
    for (const b of lru) {
      if (used <= policy.maxBytes) break
      await drop(b, 'quota')
    }
  }
  const orphanFiles = await store.sweepOrphans()
  return {
    removed,
    freedBytes: removed.reduce((n, r) => n + r.bytes, 0),
    usedBytes: used,
    maxBytes: policy.maxBytes,
    orphanFiles,
    overQuota: used > policy.maxBytes
  }
}
