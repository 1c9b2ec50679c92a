// Upload slots and the upload rate: a peer may run maxUploadsPerPeer range uploads at once and
// all peers together maxUploadsTotal (beyond that they are told BUSY and ask elsewhere); all
// uploads share one token bucket. A ban aborts the banned peer's running uploads.

import { DEFAULTS } from '../config/defaults.js'
import { AbortedError } from '../errors.js'
import { TokenBucket } from '../util/token-bucket.js'
import type { PeerHealth } from './peer-health.js'

export interface UploadsComponents {
  health: Pick<PeerHealth, 'onChange'>
}

export interface UploadsInit {
  /** Concurrent range uploads per peer before answering BUSY. @default DEFAULTS.p2p.maxUploadsPerPeer */
  maxUploadsPerPeer?: number
  /** Concurrent range uploads in total before answering BUSY. @default DEFAULTS.p2p.maxUploadsTotal */
  maxUploadsTotal?: number
  /** Upload rate cap over all peers in bytes/s; 0 = unlimited. @default DEFAULTS.p2p.uploadBytesPerSecond */
  uploadBytesPerSecond?: number
}

export interface UploadSlot {
  /** Aborts on ban, stop, or abort(). */
  readonly signal: AbortSignal
  abort (reason?: Error): void
  /** Give the slot back (aborts the signal). Idempotent. */
  release (): void
}

export function uploads (components: UploadsComponents, init: UploadsInit = {}): Uploads {
  return new Uploads(components, init)
}

export class Uploads {
  /** The shared upload rate. */
  readonly bucket: TokenBucket
  private readonly perPeer: number
  private readonly total: number
  private readonly slots = new Map<string, Set<AbortController>>()
  private inUse = 0
  private unsubscribe?: () => void

  constructor (private readonly components: UploadsComponents, init: UploadsInit = {}) {
    this.perPeer = init.maxUploadsPerPeer ?? DEFAULTS.p2p.maxUploadsPerPeer
    this.total = init.maxUploadsTotal ?? DEFAULTS.p2p.maxUploadsTotal
    this.bucket = new TokenBucket(init.uploadBytesPerSecond ?? DEFAULTS.p2p.uploadBytesPerSecond)
  }

  async start (): Promise<void> {
    this.unsubscribe = this.components.health.onChange(ev => {
      if (ev.type === 'banned') for (const ac of this.slots.get(ev.peerId) ?? []) ac.abort(new AbortedError('peer banned'))
    })
  }

  async stop (): Promise<void> {
    this.unsubscribe?.()
    for (const set of this.slots.values()) for (const ac of set) ac.abort(new AbortedError('p2p stopping'))
  }

  /** A slot for one upload to `peer`, or undefined when its or the total limit is reached (BUSY). */
  acquire (peer: string): UploadSlot | undefined {
    let mine = this.slots.get(peer)
    if ((mine?.size ?? 0) >= this.perPeer || this.inUse >= this.total) return undefined
    if (mine === undefined) { mine = new Set(); this.slots.set(peer, mine) }
    const set = mine
    const ac = new AbortController()
    set.add(ac)
    this.inUse++
    let released = false
    return {
      signal: ac.signal,
      abort: (reason?: Error) => { ac.abort(reason) },
      release: () => {
        if (released) return
        released = true
        ac.abort()
        set.delete(ac)
        if (set.size === 0 && this.slots.get(peer) === set) this.slots.delete(peer)
        this.inUse--
      }
    }
  }

  /** Why `peer` gets no slot, for the BUSY answer. */
  busyMessage (peer: string): string {
    return `upload slots full (${this.slots.get(peer)?.size ?? 0}/${this.perPeer} for you, ${this.inUse}/${this.total} total)`
  }

  /** Uploads running now (to `peer`, or in total). */
  running (peer?: string): number {
    return peer === undefined ? this.inUse : (this.slots.get(peer)?.size ?? 0)
  }
}
