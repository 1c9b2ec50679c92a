// The runners of a fetch session's transfers: open a source (upstream or a peer), write what
// arrives at its offset until the claim is done, and check peer pieces against the piece hashes
// of a verified holder. The session decides what to start and what a failure means; these only
// move bytes.

import { pipe } from 'it-pipe'
import { BlobUnknownError, NoProgressError, PeerProtocolError, errorMessage } from '../errors.js'
import { DEFAULTS } from '../config/defaults.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import { BadPieceError } from '../p2p/protocol.js'
import type { PeerSources } from '../p2p/types.js'
import type { BlobEntry } from '../store/blob-store.js'
import type { Upstream } from '../upstream/types.js'
import { WriteBehind } from './write-behind.js'
import { pieceCount } from '../util/pieces.js'
import { lend, letGo } from '../util/lent.js'
import { chunkPool, type ChunkPool } from '../util/chunk-pool.js'

/** Where a blob comes from upstream: the registry and repository of the request that wanted it. */
export interface BlobContext {
  registry: string
  repository: string
}

/** A running transfer. `pos` advances as bytes reach the disk; `end` is where it stops. */
export interface Claim {
  pos: number
  end: number
  source: 'upstream' | 'peer'
  peerId?: string
  abort: AbortController
  /** Every byte arrived; only the writes are left. */
  received?: boolean
}

export type Opener = () => Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>>

/**
 * Write what `open()` yields at the claim's offsets until the claim ends (it may be shortened
 * while running): source → cut at the claim's end → readers (`onChunk`, from memory) and the
 * write-behind into the blob's file. `onWritten` sees every byte that reached the file.
 * `checked`: the piece hashes the source checked every byte against (src/store/blob-entry.ts
 * then need not hash those pieces again).
 */
export async function pump (entry: BlobEntry, claim: Claim, open: Opener, onChunk: (offset: number, chunk: Uint8Array) => void, onWritten: (bytes: number) => void, onReceived?: () => void, checked?: readonly Uint8Array[]): Promise<void> {
  const writer = new WriteBehind(entry, claim.pos, (n) => { claim.pos += n; onWritten(n) }, undefined, checked)
  try {
    const source = await open()
    await pipe(claim.source === 'upstream' ? intoLentBuffers(source) : source, untilClaimEnd(claim), async (src: AsyncIterable<Uint8Array>) => {
      let offset = claim.pos
      for await (const chunk of src) {
        onChunk(offset, chunk)
        offset += chunk.length
        await writer.push(chunk)
      }
      // The source is done: the next transfer may start while these bytes reach the disk.
      claim.received = true
      onReceived?.()
      await writer.flush()
    })
  } catch (err) {
    await writer.flush().catch(() => {})
    throw err
  }
}

/**
 * Upstream bodies arrive in Node's 64 KiB socket buffers, a fresh ArrayBuffer each, held for a
 * while by the readers and the write-behind: enough of them outlived two scavenges that V8 ran
 * full mark-compacts for them (external memory). Copied into pooled 1 MiB buffers lent to the
 * consumers (src/util/lent.ts), the socket buffers die at once and the pooled ones come back.
 * One view per input chunk (no waiting to fill a buffer).
 */
export async function * intoLentBuffers (src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, pool: ChunkPool = chunkPool): AsyncGenerator<Uint8Array> {
  let buf: Buffer | undefined
  let fill = 0
  // The lender's own hold on the buffer being filled; let go once it is full or we stop.
  const retire = (): void => { if (buf !== undefined) { letGo(buf); buf = undefined } }
  try {
    for await (const chunk of src) {
      let c = chunk
      while (c.byteLength > 0) {
        if (buf === undefined || fill === buf.length) {
          retire()
          const b = pool.take()
          lend(b.buffer, () => { pool.put(b) })
          buf = b
          fill = 0
        }
        const n = Math.min(c.byteLength, buf.length - fill)
        buf.set(n === c.byteLength ? c : c.subarray(0, n), fill)
        const view = buf.subarray(fill, fill + n)
        fill += n
        c = c.subarray(n)
        yield view
      }
    }
  } finally { retire() }
}

/** Pass chunks on up to the claim's end; stopping there also stops the source. */
function untilClaimEnd (claim: Claim) {
  return async function * (src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    let received = claim.pos
    for await (const chunk of src) {
      const take = Math.min(chunk.length, claim.end - received)
      if (take > 0) {
        yield take === chunk.length ? chunk : chunk.subarray(0, take)
        received += take
      }
      if (received >= claim.end) return
    }
  }
}

/** An upstream range request for [start, end) of the blob, in the registry/repository `ctx`. */
export function upstreamOpener (upstream: Upstream, ctx: BlobContext, digest: string, size: number, start: number, end: number, signal: AbortSignal): Opener {
  return async () => {
    const res = await upstream.fetchBlob(ctx.registry, ctx.repository, digest, { start, end: end >= size ? undefined : end, signal })
    if (res.size !== size) throw new BlobUnknownError(`upstream size ${res.size} of ${digest} differs from the known size ${size}`)
    return res.body
  }
}

export interface PeerOpenerDeps {
  peers: PeerSources
  metrics: Metrics
  logger: Logger
  digest: string
  size: number
  /** A peer transfer with no byte for this long fails with NoProgressError. */
  stallMs: number
  /** How long a peer that sent a bad piece is banned. */
  banMs: number
}

/**
 * Bytes [start, end) from a peer. With piece hashes, the transport fetches the whole pieces and
 * checks each before any of it comes through; a peer that sends a bad piece is banned and the
 * piece goes elsewhere.
 */
export function peerOpener (d: PeerOpenerDeps, peerId: string, start: number, end: number, hashes: Uint8Array[] | undefined, abort: AbortController): Opener {
  const check = hashes !== undefined ? { size: d.size, hashes } : undefined
  return async () => banBadPieces(d, peerId, watchdog(d.peers.transfers.fetchRange(peerId, d.digest, start, end, abort.signal, check), abort, d.stallMs))
}

async function * banBadPieces (d: PeerOpenerDeps, peerId: string, src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield * src
  } catch (err) {
    if (err instanceof BadPieceError) {
      d.metrics.verificationFailures.inc({ source: 'peer' })
      d.metrics.peerFailures.inc({ peer: peerId, reason: 'bad-piece' })
      d.peers.health.ban(peerId, d.banMs, `sent a piece of ${d.digest} that failed its sha256`)
      d.logger.warn({ digest: d.digest, peer: peerId, piece: err.piece }, 'peer sent a bad piece: banned, piece fetched elsewhere')
    }
    throw err
  }
}

/** Per-piece hashes of a blob from a verified holder: `loading` while asked, then the hashes or none. */
export class PieceHashes {
  state: 'none' | 'loading' | 'done' = 'none'
  value?: Uint8Array[]

  async load (peers: PeerSources, peerId: string, digest: string, size: number, timeoutMs: number, logger: Logger): Promise<void> {
    this.state = 'loading'
    try {
      const hashes = await peers.transfers.fetchPieceHashes(peerId, digest, AbortSignal.timeout(timeoutMs))
      if (hashes !== undefined && hashes.length === pieceCount(size)) this.value = hashes
    } catch (err) {
      logger.debug({ digest, peer: peerId, err: errorMessage(err) }, 'no piece hashes from peer')
    } finally { this.state = 'done' }
  }
}

/**
 * What a failed peer transfer means. Peers are never the fallback: this one is skipped for the
 * digest a moment and the session plans again. BUSY only means its upload slots are taken for
 * now (often by the piece we just finished, not yet released on its side): ask again shortly.
 */
export function peerFailed (d: Pick<PeerOpenerDeps, 'peers' | 'metrics' | 'logger' | 'digest' | 'stallMs'>, peerId: string, at: number, err: any): void {
  if (err?.peerCode === 'BUSY') {
    d.peers.health.busy(peerId, DEFAULTS.fetch.busyRetryMs)
    d.logger.debug({ digest: d.digest, peer: peerId, at }, 'peer busy; asking again shortly')
    return
  }
  // A peer that sent nothing for a while is asked again shortly rather than left out, which
  // would send its bytes upstream over the office's slowest link:
  // - one that still fetches the blob itself: its upstream share is slow (many agents on one
  //   link), not broken; whether it makes progress at all is the planner's owner-stall rule;
  // - any other holder, once: serving many at once on a loaded machine it can fall silent for a
  //   while. A second stall in a row (a hung or vanished machine) counts as failed, so a dead
  //   holder costs two stall periods.
  if (err instanceof NoProgressError) {
    const fetching = d.peers.router.holders(d.digest).some(h => h.peerId === peerId && h.fetching && !h.complete)
    if (fetching || !d.peers.health.stalledAgain(peerId, d.digest, 4 * d.stallMs)) {
      d.peers.health.busy(peerId, DEFAULTS.fetch.busyRetryMs)
      d.logger.debug({ digest: d.digest, peer: peerId, at, fetching }, 'a neighbour sent nothing for a while; asking it again shortly')
      return
    }
  }
  d.peers.health.failed(peerId, d.digest, d.stallMs)
  if (!(err instanceof NoProgressError) && !(err instanceof PeerProtocolError)) {
    d.metrics.peerFailures.inc({ peer: peerId, reason: err?.peerCode ?? err?.code ?? 'error' })
  }
  d.logger.info({ digest: d.digest, peer: peerId, at, err: errorMessage(err) }, 'peer transfer failed; trying another source')
}

/** Abort a transfer that receives nothing for `stallMs`; its error is then NoProgressError. */
async function * watchdog (src: AsyncIterable<Uint8Array>, abort: AbortController, stallMs: number): AsyncGenerator<Uint8Array> {
  let timer: NodeJS.Timeout | undefined
  let stalled = false
  const arm = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => { stalled = true; abort.abort(new NoProgressError('peer made no progress')) }, stallMs)
  }
  const disarm = (): void => { if (timer !== undefined) { clearTimeout(timer); timer = undefined } }
  arm()
  try {
    // Only time spent waiting on the peer counts: while our side still writes the last chunk
    // (a busy disk, a loaded machine) the peer is not stalling. An empty chunk is a heartbeat
    // (bytes arriving for a piece not yet whole): progress, no data.
    for await (const chunk of src) {
      disarm()
      if (chunk.byteLength > 0) yield chunk
      arm()
    }
  } catch (err) {
    if (stalled) throw new NoProgressError(`peer made no progress for ${stallMs} ms`)
    throw err
  } finally { if (timer !== undefined) clearTimeout(timer) }
}
