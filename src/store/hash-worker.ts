// The hashing side of the data thread (src/thread/): computes the sha256 of blobs from their
// files, in order, as the main thread reports how far the contiguous prefix on disk reaches —
// and, in the same pass, the sha256 of every piece, which peers ask for, except the pieces whose
// hash is already known (a peer piece checked against it on arrival: hashing it again would be a
// third pass over those bytes). Hashing is the costliest CPU step of a download; here it runs
// beside the network and disk work instead of between them.
import { createHash, type Hash } from 'node:crypto'
import { closeSync, openSync, readSync } from 'node:fs'
import type { MessagePort } from 'node:worker_threads'

export type HashRequest =
  /** `pieceSize`: also hash every piece of that size; `known`: pieces whose sha256 is known already. */
  | { type: 'open', id: number, path: string, size: number, pieceSize?: number, known?: Array<[number, Uint8Array]> }
  | { type: 'avail', id: number, upto: number }
  /** The sha256 of a piece is known (told before the bytes of that piece are avail). */
  | { type: 'known', id: number, piece: number, hash: Uint8Array }
  | { type: 'close', id: number }

export type HashReply =
  /** `pieces`: the pieces' sha256, 32 bytes each, when asked for. */
  | { type: 'done', id: number, digest: string, pieces?: ArrayBuffer }
  | { type: 'caught-up', id: number, pos: number }
  | { type: 'error', id: number, message: string }

interface Job {
  path: string
  size: number
  pos: number
  avail: number
  hash: Hash
  fd?: number
  pieceSize?: number
  piece?: Hash
  /** The piece being read has a known hash: it is not hashed again. */
  pieceKnown?: boolean
  pieces?: Buffer
  known: Map<number, Uint8Array>
}

const jobs = new Map<number, Job>()
const runnable = new Set<number>()
const buf = Buffer.allocUnsafe(1024 * 1024)
// Bytes hashed per job per turn (a few ms), so one big blob does not starve the others, nor the
// peer transfers that share the thread (their sockets are read between turns).
const SLICE = 2 * 1024 * 1024
let scheduled = false
let out: MessagePort | undefined

function post (m: HashReply): void { out!.postMessage(m) }

function close (id: number): void {
  const j = jobs.get(id)
  if (j?.fd !== undefined) { try { closeSync(j.fd) } catch {} }
  jobs.delete(id)
  runnable.delete(id)
}

function step (id: number, j: Job): boolean {
  j.fd ??= openSync(j.path, 'r')
  let budget = SLICE
  while (j.pos < j.avail && budget > 0) {
    // Reads stop at piece boundaries, so each read belongs to one piece.
    const toPiece = j.pieceSize !== undefined ? j.pieceSize - (j.pos % j.pieceSize) : Infinity
    const n = readSync(j.fd, buf, 0, Math.min(buf.length, j.avail - j.pos, toPiece), j.pos)
    if (n === 0) throw new Error(`unexpected end of file at ${j.pos}`)
    const bytes = buf.subarray(0, n)
    j.hash.update(bytes)
    if (j.pieceSize !== undefined) {
      const piece = Math.floor(j.pos / j.pieceSize)
      if (j.pos % j.pieceSize === 0) j.pieceKnown = j.known.has(piece)
      if (j.pieceKnown !== true) {
        j.piece ??= createHash('sha256')
        j.piece.update(bytes)
      }
      if ((j.pos + n) % j.pieceSize === 0 || j.pos + n === j.size) {
        if (j.pieceKnown === true) j.pieces!.set(j.known.get(piece)!, piece * 32)
        else j.piece!.digest().copy(j.pieces!, piece * 32)
        j.piece = undefined
        j.known.delete(piece)
      }
    }
    j.pos += n
    budget -= n
  }
  if (j.pos === j.size) {
    const pieces = j.pieces === undefined ? undefined : new Uint8Array(j.pieces).buffer
    post({ type: 'done', id, digest: 'sha256:' + j.hash.digest('hex'), ...(pieces !== undefined ? { pieces } : {}) })
    close(id)
    return false
  }
  if (j.pos < j.avail) return true
  post({ type: 'caught-up', id, pos: j.pos })
  return false
}

function run (): void {
  scheduled = false
  for (const id of [...runnable]) {
    const j = jobs.get(id)
    if (j === undefined) { runnable.delete(id); continue }
    try {
      if (!step(id, j)) runnable.delete(id)
    } catch (err) {
      post({ type: 'error', id, message: err instanceof Error ? err.message : String(err) })
      close(id)
    }
  }
  if (runnable.size > 0) schedule()
}

function schedule (): void {
  if (scheduled) return
  scheduled = true
  setImmediate(run) // lets messages in between slices
}

/** Take hash jobs from `port` (one per thread). */
export function serveHashing (port: MessagePort): void {
  out = port
  port.on('message', onMessage)
}

function onMessage (m: HashRequest): void {
  if (m.type === 'open') {
    close(m.id)
    const pieces = m.pieceSize !== undefined && m.size > 0 ? Buffer.alloc(Math.ceil(m.size / m.pieceSize) * 32) : undefined
    jobs.set(m.id, { path: m.path, size: m.size, pos: 0, avail: 0, hash: createHash('sha256'), pieceSize: m.pieceSize, pieces, known: new Map(m.known ?? []) })
    if (m.size === 0) { runnable.add(m.id); schedule() }
  } else if (m.type === 'known') {
    const j = jobs.get(m.id)
    if (j?.pieceSize !== undefined && m.hash.length === 32 && m.piece * j.pieceSize >= j.pos) j.known.set(m.piece, m.hash)
  } else if (m.type === 'avail') {
    const j = jobs.get(m.id)
    if (j === undefined || m.upto <= j.avail) return
    j.avail = Math.min(m.upto, j.size)
    runnable.add(m.id)
    schedule()
  } else {
    close(m.id)
  }
}
