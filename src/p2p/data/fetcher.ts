// The main-thread side of the data client (fetch-worker.ts, in the agent's data thread): one
// for all peers, started on first use and kept from holding the process open while it has
// nothing to do. A fetch yields the bytes in pieces transferred from the thread (no copy) and
// grants credit as it consumes them, so a slow consumer slows the peer down instead of filling
// memory.

import type { MessagePort } from 'node:worker_threads'
import { AbortedError, PeerProtocolError } from '../../errors.js'
import type { Metrics } from '../../metrics/metrics.js'
import { PIECE_SIZE } from '../../util/pieces.js'
import { BadPieceError, PeerRefusedError } from '../protocol.js'
import type { DataEndpoint } from './endpoint.js'
import type { FromWorker, ToWorker } from './fetch-worker.js'
import { DataThread } from '../../thread/data-thread.js'
import { dataKey } from './keys.js'
import { lend, letGo } from '../../util/lent.js'

export interface FetcherInit {
  self: string
  secret?: Uint8Array
  connectionsPerPeer: number
  timeoutMs: number
  /** Bytes of piece buffers out at once, all transfers together (piece-budget.ts). @default 12 MiB */
  pieceBudgetBytes?: number
  /** The agent's data thread. @default one of its own */
  thread?: DataThread
}

/** What a fetch checks pieces against: the blob's size and every piece's sha256. */
export interface PieceCheck { size: number, hashes: readonly Uint8Array[] }

/**
 * Piece buffers out at once, all transfers together (piece-budget.ts): three 4 MiB pieces — one
 * being filled while the main thread writes and sends the two before it. Measured on one
 * transfer of 315 MB (loopback): with 8 MiB 183–223 MB/s, 12 MiB 202–244 MB/s at 4.3–5.7 CPU s/GB
 * and 150 MB peak RSS, 24 MiB 196–218 MB/s at 5.3–6.4 CPU s/GB and 162–165 MB (more pieces in
 * circulation, more fresh memory). Transfers from several peers share them.
 */
export const PIECE_BUDGET_BYTES = 12 * 1024 * 1024

/** Pieces in flight from the worker per fetch. */
const CREDITS = 2

interface Waiting {
  chunks: Array<{ offset: number, data: Uint8Array }>
  /** The worker said bytes are arriving (not yet a whole piece): yield a heartbeat. */
  progress: boolean
  done: boolean
  error?: Error
  wake?: () => void
}

/** Yielded while a piece is still arriving (see fetch()). */
const HEARTBEAT = Buffer.alloc(0)

export class Fetcher {
  private port?: MessagePort
  private readonly jobs = new Map<number, Waiting>()
  private nextId = 1
  private readonly thread: DataThread

  constructor (private readonly metrics: Metrics, private readonly init: FetcherInit) {
    this.thread = init.thread ?? new DataThread()
  }

  private get w (): MessagePort {
    if (this.port === undefined) {
      const port = this.thread.open('fetch', (err) => { this.port = undefined; this.failAll(new PeerProtocolError(`data fetch thread: ${err.message}`)) })
      port.on('message', this.onMessage)
      port.postMessage({ type: 'init', pieceBudgetBytes: this.init.pieceBudgetBytes ?? PIECE_BUDGET_BYTES } satisfies ToWorker)
      this.port = port
      this.updateRef()
    }
    return this.port
  }

  /** The thread keeps the process alive only while a fetch runs. */
  private updateRef (): void {
    if (this.jobs.size > 0) this.port?.ref()
    else this.port?.unref()
  }

  private readonly onMessage = (m: FromWorker): void => {
    if (m.type === 'closed') return
    const j = this.jobs.get(m.id)
    if (j === undefined) {
      // A piece that was on its way when its fetch ended (cancelled, or its consumer stopped):
      // straight back, or the thread's piece budget would count it as out for good.
      if (m.type === 'chunk') this.recycle(m.data)
      return
    }
    if (m.type === 'chunk') {
      // Lent to the consumers; once they all let go, the buffer goes back for another piece.
      const data = m.data
      lend(data, () => { this.recycle(data) })
      j.chunks.push({ offset: m.offset, data: new Uint8Array(data) })
    }
    else if (m.type === 'progress') j.progress = true
    else if (m.type === 'end') j.done = true
    else {
      j.done = true
      j.error = m.kind === 'refused' ? new PeerRefusedError(m.code ?? 'UNKNOWN', m.message)
        : m.kind === 'bad-piece' ? new BadPieceError(m.piece ?? -1, m.message)
          : m.kind === 'aborted' ? new AbortedError('aborted')
            : new PeerProtocolError(`data plane: ${m.message}`, { cause: m.kind === 'connect' ? { code: m.code ?? 'ECONNREFUSED' } : undefined })
    }
    const w = j.wake; j.wake = undefined; w?.()
  }

  private failAll (err: Error): void {
    for (const j of this.jobs.values()) { j.done = true; j.error ??= err; const w = j.wake; j.wake = undefined; w?.() }
  }

  private send (m: ToWorker): void { this.w.postMessage(m) }

  /** A piece buffer back to the thread, for the next piece (its budget counts it free again). */
  private recycle (buf: ArrayBuffer): void { this.port?.postMessage({ type: 'recycle', buf } satisfies ToWorker, [buf]) }

  /**
   * Tell the thread of a running fetch, if it is still there: never start it for that (a fetch
   * cancelled while or after the data plane stops: the thread ended its fetches already).
   */
  private tell (m: ToWorker): void { this.port?.postMessage(m) }

  /**
   * Bytes [start, end) of `digest` from `peerId` at `endpoint`. With `check`, whole pieces are
   * fetched and verified in the worker; a bad one throws BadPieceError and nothing of it is yielded.
   * Empty chunks are heartbeats: bytes are arriving for a piece that is not whole yet.
   */
  async * fetch (peerId: string, endpoint: DataEndpoint, digest: string, start: number, end: number, signal?: AbortSignal, check?: PieceCheck): AsyncGenerator<Uint8Array> {
    if (end === start) return
    if (signal?.aborted === true) throw new AbortedError('aborted before the request')
    const id = this.nextId++
    const j: Waiting = { chunks: [], progress: false, done: false }
    this.jobs.set(id, j)
    const firstPiece = Math.floor(start / PIECE_SIZE)
    const lastPiece = Math.floor((end - 1) / PIECE_SIZE)
    const onAbort = (): void => { this.tell({ type: 'cancel', id }); j.done = true; j.error = new AbortedError('aborted'); const w = j.wake; j.wake = undefined; w?.() }
    signal?.addEventListener('abort', onAbort, { once: true })
    let finished = false
    try {
      this.send({
        type: 'fetch',
        id,
        peerId,
        host: endpoint.host,
        port: endpoint.port,
        psk: dataKey(this.init.secret, this.init.self, peerId),
        identity: this.init.self,
        digest,
        start,
        end,
        pieceSize: PIECE_SIZE,
        size: check?.size ?? end,
        ...(check !== undefined ? { firstPiece, hashes: check.hashes.slice(firstPiece, lastPiece + 1) as Uint8Array[] } : {}),
        credits: CREDITS,
        timeoutMs: this.init.timeoutMs,
        connectionsPerPeer: this.init.connectionsPerPeer
      })
      this.updateRef()
      const counter = this.metrics.peerBytesIn.labels({ peer: peerId, path: 'data' })
      let pos = start
      for (;;) {
        const c = j.chunks.shift()
        if (c !== undefined) {
          if (c.offset !== pos || c.offset + c.data.length > end) { letGo(c.data); throw new PeerProtocolError('data fetch worker sent bytes out of order') }
          pos += c.data.length
          counter.inc(c.data.length)
          this.tell({ type: 'credit', id, n: 1 })
          // The consumer took its own holds on the piece before asking for the next one.
          try { yield Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength) } finally { letGo(c.data) }
          continue
        }
        if (j.progress) { j.progress = false; yield HEARTBEAT; continue }
        if (j.error !== undefined) {
          if (j.error instanceof PeerRefusedError) this.metrics.peerFailures.inc({ peer: peerId, reason: `refused-${j.error.peerCode.toLowerCase()}` })
          throw j.error
        }
        if (j.done) {
          if (pos !== end) throw new PeerProtocolError(`short read from ${peerId}: ${pos - start} of ${end - start} bytes`)
          finished = true
          return
        }
        await new Promise<void>(resolve => { j.wake = resolve })
      }
    } finally {
      signal?.removeEventListener('abort', onAbort)
      if (!finished && !j.done) this.tell({ type: 'cancel', id })
      for (const c of j.chunks) letGo(c.data)
      j.chunks = []
      this.jobs.delete(id)
      this.updateRef()
    }
  }

  /** A peer left: close its connections. */
  forget (peerId: string): void { this.tell({ type: 'forget', peerId }) }

  async close (): Promise<void> {
    const port = this.port
    this.port = undefined
    this.failAll(new AbortedError('data plane stopping'))
    if (port === undefined) return
    port.off('message', this.onMessage)
    // Its sockets are closed inside the thread first: terminating a worker while one of its
    // https sockets reports an error can abort the whole process on Node 20 (a fatal
    // v8::FromJust in socketErrorListener, seen once in the unit tests).
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, 1000)
      const onClosed = (m: FromWorker): void => { if (m.type === 'closed') { clearTimeout(timer); port.off('message', onClosed); resolve() } }
      port.on('message', onClosed)
      port.postMessage({ type: 'close' } satisfies ToWorker)
    })
    port.unref()
    await this.thread.release('fetch')
  }
}
