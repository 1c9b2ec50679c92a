import { Worker } from 'node:worker_threads'
import type { HashReply, HashRequest } from './hash-worker.js'

interface Pending {
  resolve: (digest: string) => void
  reject: (err: Error) => void
  /** Bytes handed to the worker, and bytes it reported hashed. */
  fedTo: number
  hashedTo: number
}

/**
 * The main-thread side of the hash worker: one worker per store, any number of blobs. A job is
 * opened for a file and size, fed with how far the bytes on disk are contiguous from 0, and
 * settles with the sha256 of the whole file once that reaches the size.
 */
export class Hasher {
  private worker?: Worker
  private readonly pending = new Map<number, Pending>()
  private nextId = 1

  private get w (): Worker {
    if (this.worker === undefined) {
      const w = new Worker(new URL('./hash-worker.js', import.meta.url))
      w.on('message', (m: HashReply) => {
        const p = this.pending.get(m.id)
        if (p === undefined) return
        if (m.type === 'caught-up') { p.hashedTo = m.pos; this.updateRef(); return }
        this.pending.delete(m.id)
        this.updateRef()
        if (m.type === 'done') p.resolve(m.digest)
        else p.reject(new Error(m.message))
      })
      w.on('error', (err) => this.failAll(err))
      w.on('exit', () => { this.worker = undefined; this.failAll(new Error('hash worker exited')) })
      this.worker = w
      this.updateRef()
    }
    return this.worker
  }

  /**
   * The worker keeps the process alive only while it has bytes to hash (work in progress), never
   * on its own nor for a partial blob waiting for more bytes. Called after the listeners are
   * attached too: adding a 'message' listener refs it again.
   */
  private updateRef (): void {
    if (this.worker === undefined) return
    let busy = false
    for (const p of this.pending.values()) if (p.fedTo > p.hashedTo) { busy = true; break }
    if (busy) this.worker.ref()
    else this.worker.unref()
  }

  private failAll (err: Error): void {
    const all = [...this.pending.values()]
    this.pending.clear()
    for (const p of all) p.reject(err)
  }

  private send (m: HashRequest): void { this.w.postMessage(m) }

  /** Start hashing `path` (of `size` bytes); returns the job id and the digest promise. */
  open (path: string, size: number): { id: number, digest: Promise<string> } {
    const id = this.nextId++
    // An empty file is hashed at once: count it as work so the promise keeps the process alive.
    const digest = new Promise<string>((resolve, reject) => { this.pending.set(id, { resolve, reject, fedTo: size === 0 ? 1 : 0, hashedTo: 0 }) })
    digest.catch(() => {})
    this.send({ type: 'open', id, path, size })
    this.updateRef()
    return { id, digest }
  }

  /** Bytes [0, upto) of the job's file are on disk. */
  avail (id: number, upto: number): void {
    const p = this.pending.get(id)
    if (p === undefined || upto <= p.fedTo) return
    p.fedTo = upto
    this.send({ type: 'avail', id, upto })
    this.updateRef()
  }

  close (id: number): void {
    if (!this.pending.delete(id)) return
    this.worker?.postMessage({ type: 'close', id } satisfies HashRequest)
    this.updateRef()
  }

  async stop (): Promise<void> {
    const w = this.worker
    this.worker = undefined
    this.failAll(new Error('store closed'))
    await w?.terminate()
  }
}
