// An in-memory ContentRouter: a table of holdings per peer that a test fills by hand (spegel's
// MemoryRouter plays the same part). Several MemoryRouters can share one MemoryOffice, so that
// what one advertises the others see, the way agents on a LAN would.

import { holderOf, type ContentRouter, type Holder, type Holding, type LookupOptions } from './router.js'

export class MemoryOffice {
  private readonly holdings = new Map<string, Map<string, Holding>>()
  private readonly listeners = new Set<(digest: string) => void>()

  set (peerId: string, h: Holding): void {
    let m = this.holdings.get(h.digest)
    if (m === undefined) { m = new Map(); this.holdings.set(h.digest, m) }
    m.set(peerId, { ...h, ranges: h.ranges.map(([s, e]) => [s, e]), claimed: (h.claimed ?? []).map(([s, e]) => [s, e]) })
    this.fire(h.digest)
  }

  delete (peerId: string, digest: string): void {
    if (this.holdings.get(digest)?.delete(peerId) === true) this.fire(digest)
  }

  /** Forget everything a peer advertised (it left). */
  leave (peerId: string): void {
    for (const [digest, m] of this.holdings) if (m.delete(peerId)) this.fire(digest)
  }

  holders (digest: string, except: string): Holder[] {
    const out: Holder[] = []
    for (const [peerId, h] of this.holdings.get(digest) ?? []) if (peerId !== except) out.push(holderOf(peerId, h))
    return out
  }

  onChange (fn: (digest: string) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  private fire (digest: string): void { for (const fn of this.listeners) fn(digest) }
}

export class MemoryRouter implements ContentRouter {
  /** Lookups answered so far (tests assert on them). */
  lookups = 0

  constructor (readonly self: string, readonly office: MemoryOffice = new MemoryOffice(), private readonly exclude: (peerId: string) => boolean = () => false) {}

  async lookup (digest: string, opts: LookupOptions = {}): Promise<Holder[]> {
    opts.signal?.throwIfAborted()
    this.lookups++
    return this.holders(digest)
  }

  holders (digest: string): Holder[] { return this.office.holders(digest, this.self).filter(h => !this.exclude(h.peerId)) }
  advertise (holding: Holding): void { this.office.set(this.self, holding) }
  withdraw (digest: string): void { this.office.delete(this.self, digest) }
  onChange (listener: (digest: string) => void): () => void { return this.office.onChange(listener) }
}
