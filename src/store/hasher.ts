import { Worker } from 'node:worker_threads'
import type { HashReply, HashRequest } from './hash-worker.js'

interface Pending { resolve: (digest: string) => void, reject: (err: Error) => void }

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
        this.pending.delete(m.id)
        if (m.type === 'done') p.resolve(m.digest)
        else p.reject(new Error(m.message))
      })
      w.on('error', (err) => this.failAll(err))
      w.on('exit', () => { this.worker = undefined; this.failAll(new Error('hash worker exited')) })
      // After the listeners: adding a 'message' listener refs the worker again. The worker must
      // never keep a process alive on its own.
      w.unref()
      this.worker = w
    }
    return this.worker
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
    const digest = new Promise<string>((resolve, reject) => { this.pending.set(id, { resolve, reject }) })
    digest.catch(() => {})
    this.send({ type: 'open', id, path, size })
    return { id, digest }
  }

  /** Bytes [0, upto) of the job's file are on disk. */
  avail (id: number, upto: number): void {
    if (this.pending.has(id)) this.send({ type: 'avail', id, upto })
  }

  close (id: number): void {
    if (!this.pending.delete(id)) return
    this.worker?.postMessage({ type: 'close', id } satisfies HashRequest)
  }

  async stop (): Promise<void> {
    const w = this.worker
    this.worker = undefined
    this.failAll(new Error('store closed'))
    await w?.terminate()
  }
}
