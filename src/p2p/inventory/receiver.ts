// The inbound inventory stream of one peer: a snapshot (frames until `done: true`), then
// updates and removes. Everything is validated before it reaches the table; garbage ends the
// stream and counts a failure. A newer stream from the same peer supersedes an older one, and
// when the current stream ends the peer's holdings are dropped (its next stream re-sends them).

import type { Connection, Stream } from '@libp2p/interface'
import { AbortedError } from '../../errors.js'
import type { Logger } from '../../log.js'
import { FrameError, StreamReader, parseFrameObject } from '../frames.js'
import { INVENTORY_PROTOCOL_V12, MAX_RANGES_PER_ENTRY, asError } from '../protocol.js'
import type { InventoryEntry } from '../types.js'
import { MAX_HORIZON } from '../dht-horizon.js'
import { expectArray, expectBool, expectDigest, expectEntry, expectPeerIdText } from '../validate.js'
import type { HoldersTable } from './table.js'

export interface InventoryReceiverDeps {
  table: HoldersTable
  /** The holders of these digests changed (what `peer` told us of them). */
  changed: (digests: Iterable<string>, peer: string) => void
  /** The peer opened an inventory stream: it is a layerd peer. */
  connected: (peer: string, conn: Connection) => void
  /** The peer told who its DHT could name (null: many); undefined: its stream ended, unknown again. */
  horizon?: (peer: string, peers: string[] | null | undefined) => void
  /** The peer sent garbage. */
  failure: (peer: string, err: unknown) => void
  /** Hard limit for a received frame body. */
  maxFrameBytes: number
  /** Most entries accepted from one peer. */
  maxInventoryEntries: number
  /** Aborts every read with stop(). */
  signal: AbortSignal
  logger: Logger
}

export class InventoryReceiver {
  /** peer → sequence number of its current stream */
  private readonly current = new Map<string, number>()
  private seq = 0

  constructor (private readonly deps: InventoryReceiverDeps) {}

  /** The peer left: whatever stream of it still ends must not drop holdings of a later one. */
  forget (peer: string): void {
    this.current.delete(peer)
  }

  async handle (stream: Stream, conn: Connection): Promise<void> {
    const { table, changed, maxInventoryEntries: max } = this.deps
    const peer = conn.remotePeer.toString()
    this.deps.connected(peer, conn)
    const seq = ++this.seq
    this.current.set(peer, seq)
    const isCurrent = (): boolean => this.current.get(peer) === seq
    const reader = new StreamReader(stream, { highWater: 2 * this.deps.maxFrameBytes, signal: this.deps.signal })
    const tooMany = (): FrameError => new FrameError(`more than ${max} inventory entries`, 'frame-malformed')
    let snapshot: Map<string, InventoryEntry> | undefined = new Map()
    let count = 0
    /** The horizon told on this stream (null: many), what a 1.2 delta applies to. */
    let horizon: Set<string> | null | undefined
    try {
      while (true) {
        const body = await reader.readFrame(this.deps.maxFrameBytes)
        if (body === null) break
        const msg = parseFrameObject(body)
        if (!isCurrent()) continue // superseded by a newer stream from the same peer
        switch (msg.type) {
          case 'inventory': {
            if (snapshot === undefined) throw new FrameError('inventory frame after the snapshot was done', 'frame-malformed')
            const done = expectBool(msg.done, 'done')
            for (const raw of expectArray(msg.entries, 'entries', max)) {
              const e = expectEntry(raw, MAX_RANGES_PER_ENTRY)
              snapshot.set(e.digest, e)
            }
            if (snapshot.size > max) throw tooMany()
            if (done) {
              changed(table.replacePeer(peer, snapshot), peer)
              count = snapshot.size
              this.deps.logger.debug({ peer, entries: count }, 'peer inventory received')
              snapshot = undefined
            }
            break
          }
          case 'update': {
            if (snapshot !== undefined) throw new FrameError('update frame before the snapshot was done', 'frame-malformed')
            const entries = expectArray(msg.entries, 'entries', max).map(raw => expectEntry(raw, MAX_RANGES_PER_ENTRY))
            const digests: string[] = []
            for (const e of entries) {
              if (table.get(peer, e.digest) === undefined) {
                if (count >= max) throw tooMany()
                count++
              }
              table.set(peer, e)
              digests.push(e.digest)
            }
            changed(digests, peer)
            break
          }
          case 'remove': {
            if (snapshot !== undefined) throw new FrameError('remove frame before the snapshot was done', 'frame-malformed')
            const digests = expectArray(msg.digests, 'digests', max).map(d => expectDigest(d)).filter(d => table.remove(peer, d))
            count -= digests.length
            changed(digests, peer)
            break
          }
          case 'horizon': {
            // Inventory 1.1; after the snapshot, so a known horizon means a known inventory.
            if (snapshot !== undefined) throw new FrameError('horizon frame before the snapshot was done', 'frame-malformed')
            if (msg.peers === undefined && stream.protocol === INVENTORY_PROTOCOL_V12) {
              // A delta (1.2): applies to a list told before on this stream.
              if (horizon == null) throw new FrameError('horizon delta without a horizon list before it', 'frame-malformed')
              for (const p of expectArray(msg.remove, 'remove', MAX_HORIZON)) horizon.delete(expectPeerIdText(p))
              for (const p of expectArray(msg.add, 'add', MAX_HORIZON)) horizon.add(expectPeerIdText(p))
              if (horizon.size > MAX_HORIZON) throw new FrameError(`horizon of more than ${MAX_HORIZON} peers`, 'frame-malformed')
            } else {
              horizon = msg.peers === null ? null : new Set(expectArray(msg.peers, 'peers', MAX_HORIZON).map(p => expectPeerIdText(p)))
            }
            this.deps.horizon?.(peer, horizon === null ? null : [...horizon])
            break
          }
          default:
            throw new FrameError(`unknown inventory frame type ${JSON.stringify(msg.type)}`, 'frame-malformed')
        }
      }
    } catch (err) {
      if (!(err instanceof AbortedError)) {
        this.deps.failure(peer, err)
        stream.abort(asError(err))
      }
    } finally {
      reader.detach()
      if (isCurrent()) {
        this.current.delete(peer)
        this.deps.horizon?.(peer, undefined)
        changed(table.dropPeer(peer), peer)
      }
    }
  }
}
