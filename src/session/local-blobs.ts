import { PeerRangeError } from '../errors.js'
import type { InventoryChange, InventoryEntry, LocalBlobs } from '../p2p/types.js'
import { letGo } from '../util/lent.js'
import type { BlobInfo, BlobStore } from '../store/blob-store.js'
import type { SharingPolicy } from './sharing.js'

/** The part of the session manager the inventory needs (late-bound: the manager needs the network). */
export interface FetchingState {
  isFetching: (digest: string) => boolean
  claimed: (digest: string) => Array<[number, number]>
  onFetchingChange: (fn: (digest: string, fetching: boolean) => void) => () => void
}

/**
 * What this agent offers its peers: every blob in the store (complete or partial) that the
 * sharing policy allows, with `fetching` set while a session for it runs.
 */
export function localBlobs (store: BlobStore, sessions: FetchingState, sharing: SharingPolicy): LocalBlobs {
  const allowed = (info: BlobInfo): boolean => sharing.blob(info)
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
        // A complete blob is read ahead and shared with its other readers (clients, other peers),
        // in recycled buffers; a partial one is read for this reader alone.
        for await (const buf of e.complete ? e.readShared(start, end) : e.read(start, end, 1024 * 1024)) {
          if (signal?.aborted === true) { letGo(buf); return }
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
