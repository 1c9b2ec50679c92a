import { PeerRangeError } from '../errors.js'
import type { InventoryChange, InventoryEntry, LocalBlobs } from '../p2p/types.js'
import type { BlobInfo, BlobStore } from '../store/blob-store.js'

/** The part of the session manager the inventory needs (late-bound: the manager needs the network). */
export interface FetchingState {
  isFetching: (digest: string) => boolean
  claimed: (digest: string) => Array<[number, number]>
  onFetchingChange: (fn: (digest: string, fetching: boolean) => void) => () => void
}

/**
 * What this agent offers its peers: every shareable blob in the store (complete or partial), with
 * `fetching` set while a session for it runs. Blobs fetched with credentials stay private unless
 * their registry is configured as shareable.
 */
/**
 * Test switch for the integration suite's "bad peer" scenario: with LAYERD_TEST_CORRUPT_UPLOADS=1
 * the agent flips one byte in every chunk it uploads to peers. Never set it in production.
 */
const CORRUPT_UPLOADS = process.env.LAYERD_TEST_CORRUPT_UPLOADS === '1'

export function localBlobs (store: BlobStore, sessions: FetchingState, shareable: (registry: string) => boolean): LocalBlobs {
  const allowed = (info: BlobInfo): boolean => !info.credentialed || (info.origin !== undefined && shareable(info.origin.registry))
  const toEntry = (info: BlobInfo): InventoryEntry => ({
    digest: info.digest,
    size: info.size,
    complete: info.state === 'complete',
    ranges: info.present.toArray(),
    fetching: info.state !== 'complete' && sessions.isFetching(info.digest),
    claimed: info.state !== 'complete' ? sessions.claimed(info.digest) : []
  })

  return {
    async inventory () {
      return (await store.list()).filter(allowed).map(toEntry)
    },

    onChange (listener: (change: InventoryChange) => void) {
      const onStore = (ev: Parameters<Parameters<typeof store.on<'event'>>[1]>[0]): void => {
        if (ev.type === 'remove') listener({ type: 'remove', digest: ev.digest })
        else if (allowed(ev.info)) listener({ type: 'update', entry: toEntry(ev.info) })
      }
      store.on('event', onStore)
      const offSessions = sessions.onFetchingChange((digest) => {
        store.stat(digest).then((info) => {
          if (info !== undefined && allowed(info)) listener({ type: 'update', entry: toEntry(info) })
        }, () => {})
      })
      return () => { store.off('event', onStore); offSessions() }
    },

    async * read (digest, start, end, signal) {
      const e = await store.acquire(digest)
      if (e === undefined) throw new PeerRangeError(`blob ${digest} is unknown`)
      try {
        const info = e.info()
        if (!allowed(info)) throw new PeerRangeError(`blob ${digest} is unknown`)
        if (start < 0 || end > e.size || start >= end) throw new PeerRangeError(`range ${start}-${end} is outside the blob (${e.size} bytes)`)
        if (!e.present.covers(start, end)) throw new PeerRangeError(`bytes ${start}-${end} of ${digest} are not held`)
        for await (const buf of e.read(start, end, 1024 * 1024)) {
          if (signal?.aborted === true) return
          if (CORRUPT_UPLOADS) buf[buf.length >> 1] ^= 0xff
          yield buf
        }
      } finally { store.release(e) }
    },

    async pieceHashes (digest) {
      const info = await store.stat(digest)
      if (info?.state !== 'complete' || !allowed(info)) return undefined
      return await store.pieceHashes(digest)
    }
  }
}
