// Everything layerd remembers about how a peer behaved, in one place: banned (sent bad bytes:
// neither asked nor served for a long while), busy (its upload slots were full a moment ago),
// failed (a transfer of one blob broke: skip it for that blob for a moment) and stalled (a peer
// fetching a blob whose holdings stopped growing loses its share of the upstream work).

import type { Logger } from '../log.js'

export interface PeerHealthInit {
  logger?: Logger
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number
}

export type HealthEvent = { type: 'banned' | 'unbanned', peerId: string }

interface Growth { bytes: number, at: number }

export class PeerHealth {
  private readonly bans = new Map<string, number>()
  private readonly busyUntil = new Map<string, number>()
  /** `${peer}\n${digest}` → until */
  private readonly failedUntil = new Map<string, number>()
  /** When a transfer of a blob from a peer last stalled (see stalledAgain). */
  private readonly lastStall = new Map<string, number>()
  /** `${peer}\n${digest}` → when its advertised bytes last grew */
  private readonly growth = new Map<string, Growth>()
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private readonly listeners = new Set<(ev: HealthEvent) => void>()
  private readonly now: () => number

  constructor (private readonly init: PeerHealthInit = {}) {
    this.now = init.now ?? Date.now
  }

  /** Stop using and serving a peer for `ms` (it sent bad bytes). Bans only ever get longer. */
  ban (peerId: string, ms: number, reason: string): void {
    const before = this.bans.get(peerId) ?? 0
    const until = Math.max(before, this.now() + Math.max(0, ms))
    this.bans.set(peerId, until)
    this.init.logger?.warn({ peer: peerId, ms, reason }, 'peer banned')
    this.emit({ type: 'banned', peerId })
    // One expiry timer per peer, so a ban period ends with exactly one 'unbanned'.
    if (until === before && this.timers.has(peerId)) return
    clearTimeout(this.timers.get(peerId))
    const timer = setTimeout(() => {
      this.timers.delete(peerId)
      if (!this.isBanned(peerId)) {
        this.init.logger?.info({ peer: peerId }, 'peer ban expired')
        this.emit({ type: 'unbanned', peerId })
      }
    }, Math.max(0, until - this.now()) + 5)
    timer.unref()
    this.timers.set(peerId, timer)
  }

  isBanned (peerId: string): boolean {
    const until = this.bans.get(peerId)
    if (until === undefined) return false
    if (this.now() >= until) { this.bans.delete(peerId); return false }
    return true
  }

  bannedUntil (peerId: string): number | undefined {
    return this.isBanned(peerId) ? this.bans.get(peerId) : undefined
  }

  /** The peer answered BUSY: do not ask it for bytes for `ms` (it stays a holder and a member). */
  busy (peerId: string, ms: number): void { this.busyUntil.set(peerId, this.now() + ms) }

  isBusy (peerId: string): boolean { return this.busyFor(peerId) > 0 }

  /** How many ms until the peer may be asked again (0: now). */
  busyFor (peerId: string): number {
    const until = this.busyUntil.get(peerId)
    if (until === undefined) return 0
    const left = until - this.now()
    if (left <= 0) { this.busyUntil.delete(peerId); return 0 }
    return left
  }

  /**
   * A transfer of `digest` from the peer failed (garbage, stall, hang-up): for `ms`, what it
   * advertises of that blob cannot be counted on, so its bytes and its share go to other sources.
   */
  failed (peerId: string, digest: string, ms: number): void { this.failedUntil.set(key(peerId, digest), this.now() + ms) }

  hasFailed (peerId: string, digest: string): boolean {
    const k = key(peerId, digest)
    const until = this.failedUntil.get(k)
    if (until === undefined) return false
    if (this.now() >= until) { this.failedUntil.delete(k); return false }
    return true
  }

  /**
   * A transfer of `digest` from the peer sent nothing for a while: record it, and say whether it
   * had already stalled within the last `windowMs` (a second stall in a row, not a slow moment).
   */
  stalledAgain (peerId: string, digest: string, windowMs: number): boolean {
    const k = key(peerId, digest)
    const now = this.now()
    const before = this.lastStall.get(k)
    this.lastStall.set(k, now)
    return before !== undefined && now - before <= windowMs
  }

  /**
   * Owner stall rule: record how many bytes of `digest` the peer advertises and say whether they
   * grew within the last `stallMs` (a first sighting counts as growth).
   */
  progressing (peerId: string, digest: string, bytes: number, stallMs: number): boolean {
    const k = key(peerId, digest)
    const now = this.now()
    const g = this.growth.get(k)
    if (g === undefined || g.bytes !== bytes) { this.growth.set(k, { bytes, at: now }); return true }
    return now - g.at <= stallMs
  }

  /** Drop per-blob state (its session ended). */
  forget (digest: string): void {
    const suffix = '\n' + digest
    for (const k of this.failedUntil.keys()) if (k.endsWith(suffix)) this.failedUntil.delete(k)
    for (const k of this.growth.keys()) if (k.endsWith(suffix)) this.growth.delete(k)
    for (const k of this.lastStall.keys()) if (k.endsWith(suffix)) this.lastStall.delete(k)
  }

  onChange (listener: (ev: HealthEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  stop (): void {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    this.listeners.clear()
  }

  private emit (ev: HealthEvent): void {
    for (const fn of this.listeners) {
      try { fn(ev) } catch (err) { this.init.logger?.warn({ err: String(err) }, 'peer health listener threw') }
    }
  }
}

function key (peerId: string, digest: string): string { return `${peerId}\n${digest}` }
