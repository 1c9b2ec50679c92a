import type { MessagePort } from 'node:worker_threads'
import { DataThread } from '../thread/data-thread.js'
import type { HashReply, HashRequest } from './hash-worker.js'

/** What the worker found: the blob's digest and, when asked for, its piece hashes. */
export interface HashResult {
  digest: string
  pieces?: Buffer[]
}

interface Pending {
  resolve: (result: HashResult) => void
  reject: (err: Error) => void
  size: number
  /** The contiguous end we were told of last (the worker may not have heard of it yet). */
  seen: number
  /** Bytes handed to the worker, and bytes it reported hashed. */
  fedTo: number
  hashedTo: number
}

/**
 * The worker hears of new bytes once this many more are there (or the blob is all there): one
 * message per write would cost the main thread more than the hashing saves.
 */
const AVAIL_STEP = 2 * 1024 * 1024

/**
 * The main-thread side of the hashing (hash-worker.ts, in the agent's data thread): one per
 * store, any number of blobs. A job is opened for a file and size, fed with how far the bytes on
 * disk are contiguous from 0, and settles with the sha256 of the whole file once that reaches
 * the size.
 */
export class Hasher {
  private port?: MessagePort
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private readonly thread: DataThread

  /** @param thread - the agent's data thread (default: one of its own) */
  constructor (thread?: DataThread) { this.thread = thread ?? new DataThread() }

  private readonly onMessage = (m: HashReply): void => {
    const p = this.pending.get(m.id)
    if (p === undefined) return
    if (m.type === 'caught-up') {
      p.hashedTo = m.pos
      if (p.seen >= p.fedTo + AVAIL_STEP) this.feed(m.id, p, p.seen) // what arrived while it was busy
      this.updateRef()
      return
    }
    this.pending.delete(m.id)
    this.updateRef()
    if (m.type === 'done') p.resolve({ digest: m.digest, pieces: m.pieces !== undefined ? splitHashes(Buffer.from(m.pieces)) : undefined })
    else p.reject(new Error(m.message))
  }

  private get w (): MessagePort {
    if (this.port === undefined) {
      const port = this.thread.open('hash', (err) => { this.port = undefined; this.failAll(err) })
      port.on('message', this.onMessage)
      this.port = port
      this.updateRef()
    }
    return this.port
  }

  /**
   * The thread keeps the process alive only while it has bytes to hash (work in progress), never
   * on its own nor for a partial blob waiting for more bytes. Called after the listener is
   * attached too: adding a 'message' listener refs the port again.
   */
  private updateRef (): void {
    if (this.port === undefined) return
    let busy = false
    for (const p of this.pending.values()) if (p.fedTo > p.hashedTo) { busy = true; break }
    if (busy) this.port.ref()
    else this.port.unref()
  }

  private failAll (err: Error): void {
    const all = [...this.pending.values()]
    this.pending.clear()
    for (const p of all) p.reject(err)
  }

  private send (m: HashRequest): void { this.w.postMessage(m) }

  /**
   * Start hashing `path` (of `size` bytes), and every piece of `pieceSize` bytes if given, except
   * the `known` ones (piece index → sha256, reported as they are); returns the job id and the
   * result promise.
   */
  open (path: string, size: number, pieceSize?: number, known?: ReadonlyMap<number, Uint8Array>): { id: number, digest: Promise<HashResult> } {
    const id = this.nextId++
    // An empty file is hashed at once: count it as work so the promise keeps the process alive.
    const digest = new Promise<HashResult>((resolve, reject) => { this.pending.set(id, { resolve, reject, size, seen: 0, fedTo: size === 0 ? 1 : 0, hashedTo: 0 }) })
    digest.catch(() => {})
    this.send({ type: 'open', id, path, size, ...(pieceSize !== undefined ? { pieceSize } : {}), ...(known !== undefined && known.size > 0 ? { known: [...known] } : {}) })
    this.updateRef()
    return { id, digest }
  }

  /** Piece `piece` of the job's file has sha256 `hash` (tell it before its bytes are avail). */
  known (id: number, piece: number, hash: Uint8Array): void {
    if (this.pending.has(id)) this.send({ type: 'known', id, piece, hash })
  }

  /** Bytes [0, upto) of the job's file are on disk. */
  avail (id: number, upto: number): void {
    const p = this.pending.get(id)
    if (p === undefined || upto <= p.fedTo) return
    p.seen = Math.max(p.seen, upto)
    if (upto < p.size && upto - p.fedTo < AVAIL_STEP) return // tell it when there is more (or all)
    this.feed(id, p, upto)
    this.updateRef()
  }

  private feed (id: number, p: Pending, upto: number): void {
    p.fedTo = upto
    this.send({ type: 'avail', id, upto })
  }

  close (id: number): void {
    if (!this.pending.delete(id)) return
    this.port?.postMessage({ type: 'close', id } satisfies HashRequest)
    this.updateRef()
  }

  async stop (): Promise<void> {
    const port = this.port
    this.port = undefined
    // The thread may go on serving the data client: its jobs of ours end now.
    for (const id of this.pending.keys()) port?.postMessage({ type: 'close', id } satisfies HashRequest)
    this.failAll(new Error('store closed'))
    if (port === undefined) return
    port.off('message', this.onMessage)
    port.unref()
    await this.thread.release('hash')
  }
}

function splitHashes (all: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i + 32 <= all.length; i += 32) out.push(all.subarray(i, i + 32))
  return out
}
