// One worker thread per agent for the CPU work of the data path: the blob hashing of the store
// (src/store/hash-worker.ts) and the data client's TLS transfers with their piece checks
// (src/p2p/data/fetch-worker.ts). Each worker is a V8 isolate of its own — about 10 MB of heap,
// code and malloc arena even when idle — and the two rarely compete at full speed: an upstream
// pull hashes while no peer transfer runs, and a peer transfer's pieces arrive with their piece
// hashes done (the store then computes only the blob digest).
// Each side talks to the thread over its own MessageChannel, so neither knows of the other.

import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'

export type DataThreadRole = 'hash' | 'fetch'

/** What the worker gets: its side of each channel (data-thread-worker.ts). */
export interface DataThreadData { hash: MessagePort, fetch: MessagePort }

interface User { onExit: (err: Error) => void }

export class DataThread {
  private worker?: Worker
  private ports?: Record<DataThreadRole, MessagePort>
  private readonly users = new Map<DataThreadRole, User>()

  /** The worker's thread id while it runs (one per agent: the same for both roles). */
  get threadId (): number | undefined { return this.worker?.threadId }

  /**
   * The main side of `role`'s channel, starting the thread if it is not running. `onExit` hears
   * of the thread failing or exiting; the next open() starts a new one. The port is unref'd:
   * its user refs it while it has work, so an idle thread never keeps the process alive.
   */
  open (role: DataThreadRole, onExit: (err: Error) => void): MessagePort {
    if (this.users.has(role)) throw new Error(`data thread: ${role} is open already`)
    if (this.worker === undefined) this.start()
    this.users.set(role, { onExit })
    return this.ports![role]
  }

  /** `role`'s user is done (it removed its listeners); the thread ends when no one uses it. */
  async release (role: DataThreadRole): Promise<void> {
    if (!this.users.delete(role) || this.users.size > 0) return
    const w = this.worker
    this.worker = undefined
    this.ports = undefined
    await w?.terminate()
  }

  private start (): void {
    const hash = new MessageChannel()
    const fetch = new MessageChannel()
    const w = new Worker(new URL('./data-thread-worker.js', import.meta.url), {
      workerData: { hash: hash.port2, fetch: fetch.port2 } satisfies DataThreadData,
      transferList: [hash.port2, fetch.port2]
    })
    w.unref()
    const gone = (err: Error): void => {
      if (this.worker !== w) return
      this.worker = undefined
      this.ports = undefined
      const users = [...this.users.values()]
      this.users.clear()
      for (const u of users) u.onExit(err)
    }
    w.on('error', gone)
    w.on('exit', (code) => { gone(new Error(`data thread exited (code ${code})`)) })
    hash.port1.unref()
    fetch.port1.unref()
    this.worker = w
    this.ports = { hash: hash.port1, fetch: fetch.port1 }
  }
}
