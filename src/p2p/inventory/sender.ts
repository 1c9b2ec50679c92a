// Our side of one peer's inventory stream: a snapshot of what we advertise, then coalesced
// changes. Re-opened with backoff while the peer stays connected; a new connection to the peer
// restarts it at once when the old one died.

import type { Connection, Stream } from '@libp2p/interface'
import { AbortedError, PeerRangeError, errorMessage } from '../../errors.js'
import type { Logger } from '../../log.js'
import { sleep } from '../../util/sleep.js'
import { sendCapped } from '../frames.js'
import { INVENTORY_PROTOCOL, INVENTORY_PROTOCOL_V11, INVENTORY_PROTOCOL_V12 } from '../protocol.js'
import type { InventoryChange, InventoryEntry } from '../types.js'
import { encodeEntryFrames, encodeHorizonDelta, encodeHorizonFrame, encodeRemoveFrames } from './encode.js'

export interface InventorySenderDeps {
  peer: string
  /** The newest open connection to the peer, if any. */
  connection: () => Connection | undefined
  /** False once the peer left or we stop: the sender ends then. */
  live: () => boolean
  /** What we advertise now; sent whole on every new stream. */
  snapshot: () => InventoryEntry[]
  /** Who our DHT could name (null: many); undefined: no DHT here, nothing to tell. Sent on inventory 1.1 only. */
  horizon?: () => string[] | null | undefined
  /** Largest frame body to send. */
  budget: number
  requestTimeoutMs: number
  /** Backoff between failed streams, first and longest. */
  retryMinMs: number
  retryMaxMs: number
  /** Aborts with stop(). */
  signal: AbortSignal
  logger: Logger
}

/** Keep at most this much of inventory queued in the stream (inventory yields to range bytes). */
const WRITE_CAP = 256 * 1024

export class InventorySender {
  private readonly pending = new Map<string, InventoryChange>()
  /** Digests whose progress this peer was not sent (it does not fetch them): it has an older state. */
  private readonly behind = new Set<string>()
  private stream?: Stream
  private conn?: Connection
  private closed = false
  private wake?: () => void
  private kicked = false
  /** Our horizon changed since it was last sent. */
  private horizonDirty = false

  constructor (private readonly deps: InventorySenderDeps) {}

  enqueue (change: InventoryChange): void {
    const digest = change.type === 'remove' ? change.digest : change.entry.digest
    this.behind.delete(digest)
    this.pending.delete(digest) // keep insertion order = change order
    this.pending.set(digest, change)
    this.notify()
  }

  /** Progress of `digest` not sent to this peer (it does not want the blob now). */
  defer (digest: string): void {
    // A change still queued for it goes out as it is: it is not newer than what we skip.
    this.behind.add(digest)
  }

  /** Whether this peer was not sent the latest progress of `digest`. */
  isBehind (digest: string): boolean { return this.behind.has(digest) }

  /** Our DHT's horizon changed: tell the peer (with the next write). */
  horizonChanged (): void {
    this.horizonDirty = true
    this.notify()
  }

  /** A new connection to the peer appeared: if ours is gone, start over on the new one now. */
  connectionOpened (): void {
    if (this.conn !== undefined && this.conn.status !== 'open') {
      this.kicked = true
      this.stream?.abort(new AbortedError('connection replaced'))
      this.notify()
    }
  }

  stop (): void {
    this.closed = true
    if (this.stream !== undefined) {
      const s = this.stream
      void s.close({ signal: AbortSignal.timeout(1000) }).catch(() => { s.abort(new AbortedError('stopping')) })
    }
    this.notify()
  }

  private notify (): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private live (): boolean {
    return !this.closed && this.deps.live()
  }

  async run (): Promise<void> {
    let backoff = this.deps.retryMinMs
    while (this.live()) {
      try {
        await this.session()
        backoff = this.deps.retryMinMs
      } catch (err) {
        if (!this.live()) break
        this.deps.logger.debug({ peer: this.deps.peer, err: errorMessage(err) }, 'inventory stream failed')
      }
      if (!this.live()) break
      if (this.kicked) { this.kicked = false; continue }
      try {
        await sleep(backoff, this.deps.signal)
      } catch { break }
      backoff = Math.min(backoff * 2, this.deps.retryMaxMs)
    }
  }

  private async session (): Promise<void> {
    const { budget, signal } = this.deps
    const conn = this.deps.connection()
    if (conn === undefined) throw new PeerRangeError('not connected')
    this.conn = conn
    // Newest first; a peer that knows only 1.0 negotiates that, and is told no horizon.
    const stream = await conn.newStream([INVENTORY_PROTOCOL_V12, INVENTORY_PROTOCOL_V11, INVENTORY_PROTOCOL], { signal: AbortSignal.any([signal, AbortSignal.timeout(this.deps.requestTimeoutMs)]) })
    this.stream = stream
    const onClose = (): void => { this.notify() }
    stream.addEventListener('close', onClose)
    try {
      this.pending.clear() // the snapshot covers everything up to now
      this.behind.clear()
      const opts = { cap: WRITE_CAP, signal }
      const horizon = stream.protocol === INVENTORY_PROTOCOL_V11 || stream.protocol === INVENTORY_PROTOCOL_V12 ? this.deps.horizon : undefined
      const deltas = stream.protocol === INVENTORY_PROTOCOL_V12
      /** The horizon this stream was told last (null: many). */
      let told: Set<string> | null | undefined
      this.horizonDirty = horizon !== undefined
      for (const f of encodeEntryFrames('inventory', this.deps.snapshot(), budget)) await sendCapped(stream, f, opts)
      while (this.live() && stream.writeStatus === 'writable') {
        if (this.horizonDirty && horizon !== undefined) {
          this.horizonDirty = false
          const peers = horizon()
          if (peers === undefined) continue
          const frame = deltas && told != null && peers !== null ? horizonDelta(told, peers) : encodeHorizonFrame(peers)
          told = peers === null ? null : new Set(peers)
          if (frame !== undefined) await sendCapped(stream, frame, opts)
          continue
        }
        if (this.pending.size === 0) {
          await new Promise<void>(resolve => { this.wake = resolve })
          continue
        }
        const updates: InventoryEntry[] = []
        const removes: string[] = []
        for (const c of this.pending.values()) {
          if (c.type === 'remove') removes.push(c.digest)
          else updates.push(c.entry)
        }
        this.pending.clear()
        for (const f of encodeRemoveFrames(removes, budget)) await sendCapped(stream, f, opts)
        if (updates.length > 0) for (const f of encodeEntryFrames('update', updates, budget)) await sendCapped(stream, f, opts)
      }
    } finally {
      stream.removeEventListener('close', onClose)
      if (this.stream === stream) this.stream = undefined
      if (stream.status === 'open' && this.closed) {
        await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => { stream.abort(new AbortedError('stopping')) })
      } else if (stream.status === 'open') {
        stream.abort(new AbortedError('inventory session ended'))
      }
    }
  }
}

/** The change from `told` to `now` as a 1.2 delta frame, or the whole list when that is shorter; undefined: no change. */
function horizonDelta (told: Set<string>, now: string[]): Uint8Array | undefined {
  const next = new Set(now)
  const add = now.filter(p => !told.has(p))
  const remove = [...told].filter(p => !next.has(p))
  if (add.length === 0 && remove.length === 0) return undefined
  return add.length + remove.length < now.length ? encodeHorizonDelta(add, remove) : encodeHorizonFrame(now)
}
