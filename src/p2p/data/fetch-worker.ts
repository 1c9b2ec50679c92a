// Worker thread of the data client: it runs the HTTPS requests to peers' data servers (TLS
// decryption, HTTP parsing, with Node's own https client), gathers the bytes into whole pieces (or 1 MiB chunks), checks every
// piece against its expected sha256 when given, and hands each one to the main thread as a
// transferred ArrayBuffer — no copy, one message per piece instead of one event per 16 KiB TLS
// record. The main thread grants credit for more (flow control). See fetcher.ts.

import { createHash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import type { IncomingMessage } from 'node:http'
import { Agent, request } from 'node:https'
import { DATA_TLS } from './keys.js'
import { ChunkPool } from '../../util/chunk-pool.js'

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

export type ToWorker = FetchJob | { type: 'credit', id: number, n: number } | { type: 'cancel', id: number } | { type: 'forget', peerId: string }
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
const SPARE_PER_SIZE = 3
const SPARE_IDLE_MS = 10_000
/** At most one progress message per job this often, while bytes arrive. */
const PROGRESS_MS = 500
const CODES = new Set(['BLOB_UNKNOWN', 'RANGE_NOT_HELD', 'OUT_OF_BOUNDS', 'BUSY', 'BAD_REQUEST', 'BANNED', 'NOT_COMPLETE', 'INTERNAL'])

interface Running { abort: AbortController, credits: number, wake?: () => void }

const agents = new Map<string, { key: string, agent: Agent }>()

/**
 * Piece buffers given back by the main thread, one pool per size asked for again: whole pieces
 * and 1 MiB chunks (a blob's last piece and a partly wanted piece have odd sizes, and are left
 * to the garbage collector). Reusing them keeps the main thread's V8 from counting every byte as
 * new external memory (src/util/lent.ts).
 */
const spares = new Map<number, ChunkPool>([[CHUNK, new ChunkPool(SPARE_PER_SIZE, SPARE_IDLE_MS, CHUNK)]])

function pieceBuffer (len: number): Uint8Array {
  return spares.get(len)?.take() ?? Buffer.allocUnsafeSlow(len)
}

function recycle (ab: ArrayBuffer): void { spares.get(ab.byteLength)?.put(Buffer.from(ab)) }

const running = new Map<number, Running>()

class Fail extends Error {
  constructor (readonly kind: Failure, message: string, readonly code?: string, readonly piece?: number) { super(message) }
}

/** One keep-alive agent per peer (Node's own https client: its C++ parser costs far less per chunk). */
function agentFor (job: FetchJob): Agent {
  const key = `${job.host}:${job.port}:${Buffer.from(job.psk).toString('hex')}`
  const known = agents.get(job.peerId)
  if (known !== undefined && known.key === key) return known.agent
  known?.agent.destroy()
  const agent = new Agent({ keepAlive: true, maxSockets: job.connectionsPerPeer, maxCachedSessions: 0, timeout: job.timeoutMs })
  agents.set(job.peerId, { key, agent })
  return agent
}

const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => { parentPort!.postMessage(m, transfer ?? []) }

async function open (job: FetchJob, from: number, to: number, signal: AbortSignal): Promise<IncomingMessage> {
  const psk = Buffer.from(job.psk)
  return await new Promise((resolve, reject) => {
    const req = request({
      host: job.host,
      port: job.port,
      path: `/blobs/${job.digest}`,
      headers: { range: `bytes=${from}-${to - 1}` },
      agent: agentFor(job),
      signal,
      timeout: job.timeoutMs,
      ...DATA_TLS,
      pskCallback: () => ({ psk, identity: job.identity }),
      // No certificate with a PSK: the key itself authenticates the server.
      checkServerIdentity: () => undefined
    } as any, resolve)
    req.on('timeout', () => { req.destroy(new Fail('connect', `no answer for ${job.timeoutMs} ms`, 'ETIMEDOUT')) })
    req.on('error', (err: any) => {
      if (signal.aborted) reject(new Fail('aborted', 'aborted'))
      else if (err instanceof Fail) reject(err)
      else reject(new Fail('connect', String(err?.message ?? err), err?.code))
    })
    req.end()
  })
}

async function run (job: FetchJob, r: Running): Promise<void> {
  const checked = job.hashes !== undefined && job.firstPiece !== undefined
  // With hashes, whole pieces; else exactly what was asked for.
  const from = checked ? job.firstPiece! * job.pieceSize : job.start
  const to = checked ? Math.min(job.size, (job.firstPiece! + job.hashes!.length) * job.pieceSize) : job.end
  const res = await open(job, from, to, r.abort.signal)
  if (res.statusCode !== 206) {
    const text = await readText(res)
    let code = 'UNKNOWN'
    let message = `HTTP ${String(res.statusCode)}`
    try {
      const j = JSON.parse(text) as { code?: unknown, message?: unknown }
      if (typeof j.code === 'string' && CODES.has(j.code)) code = j.code
      if (typeof j.message === 'string') message = j.message.slice(0, 500)
    } catch {}
    if (code === 'UNKNOWN') throw new Fail('protocol', `answered HTTP ${String(res.statusCode)}`)
    throw new Fail('refused', message, code)
  }
  const cr = /^bytes (\d+)-(\d+)\/\d+$/.exec(String(res.headers['content-range'] ?? ''))
  if (cr === null || Number(cr[1]) !== from || Number(cr[2]) !== to - 1) { res.destroy(); throw new Fail('protocol', `sent another range (${String(res.headers['content-range'])})`) }
  // Gather into one buffer per piece (checked) or per chunk; hand over what the caller wants.
  await new Promise<void>((resolve, reject) => {
    let pos = from
    let bufStart = from
    let bufEnd = checked ? Math.min(to, from + job.pieceSize) : Math.min(to, from + CHUNK)
    let buf: Uint8Array = pieceBuffer(bufEnd - bufStart)
    let fill = 0
    let settled = false
    // A 4 MiB piece from a peer serving many can take seconds: bytes still flowing is progress,
    // told at most every PROGRESS_MS (a piece handed over tells it too).
    let told = Date.now()
    const fail = (err: Fail): void => { if (settled) return; settled = true; res.destroy(); reject(err) }
    const flush = (): boolean => {
      if (checked) {
        const piece = Math.floor(bufStart / job.pieceSize)
        const want = job.hashes![piece - job.firstPiece!] as Uint8Array
        if (!createHash('sha256').update(buf).digest().equals(want)) { fail(new Fail('bad-piece', `piece ${piece} failed its sha256`, undefined, piece)); return false }
      }
      const s = Math.max(bufStart, job.start)
      const e = Math.min(bufEnd, job.end)
      if (e > s) {
        r.credits--
        // A buffer of its own (a piece buffer, or a copy of the part wanted): safe to transfer.
        const whole = s === bufStart && e === bufEnd
        const out = whole ? buf : Uint8Array.prototype.slice.call(buf, s - bufStart, e - bufStart)
        post({ type: 'chunk', id: job.id, offset: s, data: out.buffer as ArrayBuffer }, [out.buffer as ArrayBuffer])
        if (!whole) recycle(buf.buffer as ArrayBuffer)
        told = Date.now()
        // Out of credit: stop reading until the main thread took what it has.
        if (r.credits <= 0) { res.pause(); r.wake = () => { if (!settled) res.resume() } }
      }
      bufStart = bufEnd
      bufEnd = checked ? Math.min(to, bufStart + job.pieceSize) : Math.min(to, bufStart + CHUNK)
      buf = pieceBuffer(Math.max(0, bufEnd - bufStart))
      fill = 0
      return true
    }
    res.on('data', (chunk: Buffer) => {
      if (settled) return
      if (pos + chunk.length > to) { fail(new Fail('protocol', 'sent more than asked')); return }
      const now = Date.now()
      if (now - told >= PROGRESS_MS) { told = now; post({ type: 'progress', id: job.id }) }
      let c = chunk
      while (c.length > 0) {
        const take = Math.min(c.length, buf.length - fill)
        buf.set(take === c.length ? c : c.subarray(0, take), fill)
        fill += take
        pos += take
        c = c.subarray(take)
        if (fill === buf.length && !flush()) return
      }
    })
    res.on('end', () => {
      if (settled) return
      settled = true
      if (pos !== to) reject(new Fail('protocol', `short read: ${pos - from} of ${to - from} bytes`))
      else resolve()
    })
    res.on('error', (err: any) => { fail(r.abort.signal.aborted ? new Fail('aborted', 'aborted') : new Fail('protocol', String(err?.message ?? err))) })
    res.on('aborted', () => { fail(new Fail('protocol', 'connection closed mid-body')) })
    r.abort.signal.addEventListener('abort', () => { fail(new Fail('aborted', 'aborted')) }, { once: true })
  })
}

async function readText (res: IncomingMessage): Promise<string> {
  const parts: Buffer[] = []
  let n = 0
  for await (const c of res) { n += (c as Buffer).length; if (n > 64 * 1024) break; parts.push(c as Buffer) }
  return Buffer.concat(parts).toString('utf8')
}

parentPort!.on('message', (m: ToWorker) => {
  if (m.type === 'fetch') {
    if (!spares.has(m.pieceSize)) spares.set(m.pieceSize, new ChunkPool(SPARE_PER_SIZE, SPARE_IDLE_MS, m.pieceSize))
    const r: Running = { abort: new AbortController(), credits: m.credits }
    running.set(m.id, r)
    run(m, r).then(() => { post({ type: 'end', id: m.id }) }, (err: Fail) => {
      post({ type: 'fail', id: m.id, kind: err.kind ?? 'protocol', message: err.message, ...(err.code !== undefined ? { code: err.code } : {}), ...(err.piece !== undefined ? { piece: err.piece } : {}) })
    }).finally(() => { running.delete(m.id) })
  } else if (m.type === 'credit') {
    const r = running.get(m.id)
    if (r === undefined) return
    r.credits += m.n
    if (r.credits > 0) { const w = r.wake; r.wake = undefined; w?.() }
  } else if (m.type === 'cancel') {
    running.get(m.id)?.abort.abort()
  } else if (m.type === 'recycle') {
    recycle(m.buf)
  } else if (m.type === 'close') {
    for (const r of running.values()) r.abort.abort()
    for (const a of agents.values()) a.agent.destroy()
    agents.clear()
    // The sockets' error and close events run first (a few turns), then the main thread may terminate us.
    setTimeout(() => { post({ type: 'closed' }) }, 50)
  } else {
    agents.get(m.peerId)?.agent.destroy()
    agents.delete(m.peerId)
  }
})
