// The data client's side of the data thread (src/thread/): it runs the requests to peers' data
// servers (HTTP/1.1 over TLS with a pre-shared key, tls-http.ts), reads each response body
// straight into whole pieces (or 1 MiB chunks), hashes them as the bytes land, checks every piece
// against its expected sha256 when given, and hands each one to the main thread as a transferred
// ArrayBuffer — no copy, one message per piece instead of one event per 16 KiB TLS record. The
// main thread grants credit for more (flow control). See fetcher.ts.

import { createHash, type Hash } from 'node:crypto'
import type { MessagePort } from 'node:worker_threads'
import { DATA_TLS } from './keys.js'
import { ChunkPool } from '../../util/chunk-pool.js'
import { ConnectionPool, ExchangeError, type BodySink, type ResponseHead } from './tls-http.js'
import { PieceBudget } from './piece-budget.js'

export interface FetchJob {
  type: 'fetch'
  id: number
  peerId: string
  host: string
  port: number
  psk: Uint8Array
  identity: string
  digest: string
  /** The bytes the caller wants: [start, end). */
  start: number
  end: number
  /** With `hashes`: whole pieces are fetched and checked; hashes[i] is piece `firstPiece + i`. */
  pieceSize: number
  size: number
  firstPiece?: number
  hashes?: Uint8Array[]
  /** Chunks that may be in flight to the main thread before it grants more. */
  credits: number
  timeoutMs: number
  connectionsPerPeer: number
}

export type ToWorker =
  /** First message on the port: the fetcher's settings. */
  | { type: 'init', pieceBudgetBytes: number }
  | FetchJob | { type: 'credit', id: number, n: number } | { type: 'cancel', id: number } | { type: 'forget', peerId: string }
  /** Stop everything and close every socket; the worker answers `closed` when they are closed. */
  | { type: 'close' }
  /** A piece buffer the main thread is done with, transferred back for the next piece. */
  | { type: 'recycle', buf: ArrayBuffer }

export type Failure = 'refused' | 'protocol' | 'connect' | 'bad-piece' | 'aborted'
export type FromWorker =
  | { type: 'chunk', id: number, offset: number, data: ArrayBuffer }
  | { type: 'end', id: number }
  /** Bytes are arriving for a piece or chunk not yet whole (the caller's stall watchdog). */
  | { type: 'progress', id: number }
  | { type: 'fail', id: number, kind: Failure, message: string, code?: string, piece?: number }
  | { type: 'closed' }

const CHUNK = 1024 * 1024
/** Spare buffers kept per size, dropped when none came back for SPARE_IDLE_MS (an idle agent keeps none). */
const SPARE_PER_SIZE = 2
const SPARE_IDLE_MS = 10_000
/** The longest a transfer waits for room in the budget (held pieces may belong to a stalled client). */
const BUDGET_WAIT_MS = 1000
/** Bytes that still arrive after a transfer paused for room (decrypted records, a socket read) go here meanwhile. */
const SPILL_BYTES = 256 * 1024
/** At most one progress message per job this often, while bytes arrive. */
const PROGRESS_MS = 500
const CODES = new Set(['BLOB_UNKNOWN', 'RANGE_NOT_HELD', 'OUT_OF_BOUNDS', 'BUSY', 'BAD_REQUEST', 'BANNED', 'NOT_COMPLETE', 'INTERNAL'])

interface Running { abort: AbortController, credits: number, wake?: () => void }

const pools = new Map<string, { key: string, pool: ConnectionPool }>()

/**
 * Piece buffers given back by the main thread, one pool per size asked for again: whole pieces
 * and 1 MiB chunks (a blob's last piece and a partly wanted piece have odd sizes, and are left
 * to the garbage collector). Reusing them keeps the main thread's V8 from counting every byte as
 * new external memory (src/util/lent.ts).
 */
const spares = new Map<number, ChunkPool>([[CHUNK, new ChunkPool(SPARE_PER_SIZE, SPARE_IDLE_MS, CHUNK)]])
let budget!: PieceBudget // made on 'init', the fetcher's first message
let out: MessagePort | undefined

const running = new Map<number, Running>()

class Fail extends Error {
  constructor (readonly kind: Failure, message: string, readonly code?: string, readonly piece?: number) { super(message) }
}

/** The keep-alive connections to a peer's data server (a new pool when its address or key changed). */
function poolFor (job: FetchJob): ConnectionPool {
  const key = `${job.host}:${job.port}:${Buffer.from(job.psk).toString('hex')}`
  const known = pools.get(job.peerId)
  if (known !== undefined && known.key === key) return known.pool
  known?.pool.close()
  const psk = Buffer.from(job.psk)
  const pool = new ConnectionPool({
    host: job.host,
    port: job.port,
    ...DATA_TLS,
    pskCallback: () => ({ psk, identity: job.identity }),
    // No certificate with a PSK: the key itself authenticates the server.
    checkServerIdentity: () => undefined
  }, job.connectionsPerPeer, job.timeoutMs)
  pools.set(job.peerId, { key, pool })
  return pool
}

const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => { out!.postMessage(m, transfer ?? []) }

/** A JSON error body of the data server ({code, message}), at most this long. */
const ERROR_BODY_MAX = 64 * 1024

async function run (job: FetchJob, r: Running): Promise<void> {
  const checked = job.hashes !== undefined && job.firstPiece !== undefined
  // With hashes, whole pieces; else exactly what was asked for.
  const from = checked ? job.firstPiece! * job.pieceSize : job.start
  const to = checked ? Math.min(job.size, (job.firstPiece! + job.hashes!.length) * job.pieceSize) : job.end
  let failure: Fail | undefined
  let errorBody: { status: number, text: () => string } | undefined
  let conn: { pause: () => void, resume: () => void, destroy: (err?: ExchangeError) => void } | undefined
  const fail = (f: Fail): void => { failure ??= f; conn?.destroy(new ExchangeError(f.message, 'FAILED')) }
  const onAbort = (): void => { fail(new Fail('aborted', 'aborted')) }
  r.abort.signal.addEventListener('abort', onAbort, { once: true })

  // Gather into one buffer per piece (checked) or per chunk, hashed as the bytes land; hand
  // over what the caller wants. `buf` is undefined while the transfer waits for room in the
  // budget; bytes that arrive meanwhile go to `spill`, and move into the piece in order.
  let bufStart = from
  let bufEnd = checked ? Math.min(to, from + job.pieceSize) : Math.min(to, from + CHUNK)
  // A transfer starts once the budget has room for its first piece (or waited long enough).
  await budget.roomFor(bufEnd - bufStart, r.abort.signal)
  if (r.abort.signal.aborted) throw new Fail('aborted', 'aborted')
  let buf: Uint8Array | undefined = budget.take(bufEnd - bufStart, true)
  let fill = 0
  let spill: Buffer | undefined
  let spilled = 0
  // Where the socket puts the next bytes: the view target() handed out last. The socket keeps
  // it until its next read, whatever happens here meanwhile (a piece buffer arriving).
  let intoSpill = false
  let hash: Hash | undefined = checked ? createHash('sha256') : undefined
  let creditPaused = false
  let budgetPaused = false
  let stopWaiting: (() => void) | undefined
  const resume = (): void => { if (!creditPaused && !budgetPaused) conn?.resume() }
  r.wake = () => { creditPaused = false; resume() }
  // A 4 MiB piece from a peer serving many can take seconds: bytes still flowing is progress,
  // told at most every PROGRESS_MS (a piece handed over tells it too).
  let told = Date.now()
  /**
   * The piece buffer for [bufStart, bufEnd), now (`force`) or once the budget has room. The
   * spilled bytes move into it with the next bytes that arrive (or at the end), never here.
   */
  const nextBuffer = (force: boolean): void => {
    stopWaiting?.()
    stopWaiting = undefined
    budgetPaused = false
    const len = bufEnd - bufStart
    buf = len === 0 ? new Uint8Array(0) : budget.take(len, force)
    if (buf !== undefined) return
    budgetPaused = true
    conn?.pause()
    stopWaiting = budget.wait(() => {
      stopWaiting = undefined
      if (failure !== undefined || buf !== undefined) return
      nextBuffer(true)
      resume()
    })
  }
  /** The next bytes of the range (`inPlace`: already where they belong in the piece): hashed, counted, handed over when a piece is whole. */
  const land = (src: Uint8Array, inPlace: boolean): void => {
    let c = src
    while (c.byteLength > 0 && failure === undefined) {
      if (buf === undefined) nextBuffer(true) // spilled bytes that run on into the next piece
      const k = Math.min(c.byteLength, buf!.length - fill)
      if (!inPlace) buf!.set(c.subarray(0, k), fill)
      hash?.update(buf!.subarray(fill, fill + k))
      fill += k
      c = c.subarray(k)
      if (fill === buf!.length) flush()
    }
  }
  /** Move what waited in the spill into the piece (there is one now). */
  const drainSpill = (): void => {
    if (spilled === 0 || buf === undefined) return
    const n = spilled
    spilled = 0
    land(spill!.subarray(0, n), false)
  }
  const flush = (): void => {
    const piece = buf!
    if (checked) {
      const i = Math.floor(bufStart / job.pieceSize)
      const want = job.hashes![i - job.firstPiece!] as Uint8Array
      if (!hash!.digest().equals(want)) { fail(new Fail('bad-piece', `piece ${i} failed its sha256`, undefined, i)); return }
      hash = createHash('sha256')
    }
    const s = Math.max(bufStart, job.start)
    const e = Math.min(bufEnd, job.end)
    if (e > s) {
      r.credits--
      // A buffer of its own (a piece buffer, or a copy of the part wanted): safe to transfer.
      const whole = s === bufStart && e === bufEnd
      const out = whole ? piece : Uint8Array.prototype.slice.call(piece, s - bufStart, e - bufStart)
      if (!whole) { budget.adopt(out.byteLength); budget.back(piece.buffer) }
      post({ type: 'chunk', id: job.id, offset: s, data: out.buffer as ArrayBuffer }, [out.buffer as ArrayBuffer])
      told = Date.now()
      // Out of credit: stop reading until the main thread took what it has (a few KiB already
      // decrypted still land in the next piece).
      if (r.credits <= 0) { creditPaused = true; conn?.pause() }
    } else budget.back(piece.buffer)
    bufStart = bufEnd
    bufEnd = checked ? Math.min(to, bufStart + job.pieceSize) : Math.min(to, bufStart + CHUNK)
    fill = 0
    nextBuffer(false)
  }
  const body: BodySink = {
    target: () => {
      if (buf !== undefined) drainSpill() // a piece buffer came while bytes waited
      if (buf === undefined && spilled === SPILL_BYTES) {
        // More came than a paused socket should still deliver: take the buffer after all.
        nextBuffer(true)
        drainSpill()
        queueMicrotask(resume)
      }
      intoSpill = buf === undefined
      if (!intoSpill) return buf!.subarray(fill)
      spill ??= Buffer.allocUnsafe(SPILL_BYTES)
      return spill.subarray(spilled)
    },
    wrote: (n) => {
      if (failure !== undefined) return
      const now = Date.now()
      if (now - told >= PROGRESS_MS) { told = now; post({ type: 'progress', id: job.id }) }
      if (intoSpill) { spilled += n; return }
      land(buf!.subarray(fill, fill + n), true)
    }
  }
  const onHead = (head: ResponseHead): BodySink => {
    if (head.status !== 206) {
      if (head.contentLength > ERROR_BODY_MAX) throw new Error(`answered HTTP ${head.status} with a ${head.contentLength}-byte body`)
      const text = Buffer.allocUnsafe(Math.max(1, head.contentLength))
      let got = 0
      errorBody = { status: head.status, text: () => text.toString('utf8', 0, got) }
      return { target: () => text.subarray(got), wrote: (n) => { got += n } }
    }
    const cr = /^bytes (\d+)-(\d+)\/\d+$/.exec(head.headers.get('content-range') ?? '')
    if (cr === null || Number(cr[1]) !== from || Number(cr[2]) !== to - 1 || head.contentLength !== to - from) throw new Error(`sent another range (${String(head.headers.get('content-range'))})`)
    return body
  }
  try {
    await poolFor(job).get(`/blobs/${job.digest}`, { range: `bytes=${from}-${to - 1}` }, onHead, (c) => { conn = c; if (r.abort.signal.aborted) onAbort() }, r.abort.signal)
    if (spilled > 0 && failure === undefined) {
      // The last bytes arrived while the transfer waited for room: they end the last piece.
      if (buf === undefined) nextBuffer(true)
      drainSpill()
    }
  } catch (err) {
    if (failure !== undefined) throw failure
    const e = err as ExchangeError
    // Nothing of a response yet: the peer could not be reached (or refused the handshake).
    if (e.code === 'PROTOCOL') throw new Fail('protocol', e.message)
    if (bufStart === from && fill === 0 && errorBody === undefined) throw new Fail('connect', e.message, e.code)
    throw new Fail('protocol', `connection closed mid-body: ${e.message}`)
  } finally {
    r.abort.signal.removeEventListener('abort', onAbort)
    stopWaiting?.()
    // The buffer being filled never left: its bytes are free again.
    if (buf !== undefined && buf.byteLength > 0) budget.back(buf.buffer)
    buf = undefined
  }
  if (failure !== undefined) throw failure
  if (errorBody !== undefined) {
    let code = 'UNKNOWN'
    let message = `HTTP ${String(errorBody.status)}`
    try {
      const j = JSON.parse(errorBody.text()) as { code?: unknown, message?: unknown }
      if (typeof j.code === 'string' && CODES.has(j.code)) code = j.code
      if (typeof j.message === 'string') message = j.message.slice(0, 500)
    } catch {}
    if (code === 'UNKNOWN') throw new Fail('protocol', `answered HTTP ${String(errorBody.status)}`)
    throw new Fail('refused', message, code)
  }
  if (bufStart !== to) throw new Fail('protocol', `short read: ${bufStart - from} of ${to - from} bytes`)
}

/** The budget's floor: a piece being filled per running transfer and one more (piece-budget.ts). */
function setFloor (pieceSize: number): void { budget.floor = running.size > 0 ? (running.size + 1) * pieceSize : 0 }

/** Take fetches from `port` (one per thread). */
export function serveFetching (port: MessagePort): void {
  out = port
  port.on('message', onMessage)
}

function onMessage (m: ToWorker): void {
  if (m.type === 'init') {
    budget = new PieceBudget(m.pieceBudgetBytes, BUDGET_WAIT_MS, (len) => spares.get(len))
  } else if (m.type === 'fetch') {
    if (!spares.has(m.pieceSize)) spares.set(m.pieceSize, new ChunkPool(SPARE_PER_SIZE, SPARE_IDLE_MS, m.pieceSize))
    const r: Running = { abort: new AbortController(), credits: m.credits }
    running.set(m.id, r)
    setFloor(m.pieceSize)
    run(m, r).then(() => { post({ type: 'end', id: m.id }) }, (err: Fail) => {
      post({ type: 'fail', id: m.id, kind: err.kind ?? 'protocol', message: err.message, ...(err.code !== undefined ? { code: err.code } : {}), ...(err.piece !== undefined ? { piece: err.piece } : {}) })
    }).finally(() => { running.delete(m.id); setFloor(m.pieceSize) })
  } else if (m.type === 'credit') {
    const r = running.get(m.id)
    if (r === undefined) return
    r.credits += m.n
    if (r.credits > 0) r.wake?.()
  } else if (m.type === 'cancel') {
    running.get(m.id)?.abort.abort()
  } else if (m.type === 'recycle') {
    budget.back(m.buf)
  } else if (m.type === 'close') {
    for (const r of running.values()) r.abort.abort()
    for (const p of pools.values()) p.pool.close()
    pools.clear()
    // The sockets' error and close events run first (a few turns), then the main thread may terminate us.
    setTimeout(() => { post({ type: 'closed' }) }, 50)
  } else {
    pools.get(m.peerId)?.pool.close()
    pools.delete(m.peerId)
  }
}
