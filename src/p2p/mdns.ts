// mDNS discovery for an office: @libp2p/mdns for the packets (queries, answers, parsing), with the
// schedule of RFC 6762 §7.3 (duplicate question suppression) on top. Answers are multicast, so one
// query on a segment tells every agent about every other: an agent that heard someone else ask
// within the interval does not ask itself. With every agent asking once a minute, 20 agents parsed
// 380 answers a minute each (N² per agent, N³ on the segment), the largest cost of an idle office.
//
// Also: two early queries after start (1 s, 4 s: two agents that start at the same instant can
// both ask before the other listens), and no 'peer' event for a peer this node is connected to
// (libp2p would only merge the same addresses into its peer store again).
//
// Answers are paced as RFC 6762 §6 asks: 20–120 ms after the query, at most one a second, one for
// all queries in between. @libp2p/mdns answers every query at once, and every agent asks when it
// starts: five agents starting together in an office of 35 drew 175 answers, to every agent's
// socket, within a few milliseconds; now 35, spread over 100 ms.

import { mdns as libp2pMdns } from '@libp2p/mdns'
import { peerDiscoverySymbol, type PeerDiscovery, type PeerDiscoveryEvents, type PeerInfo, type Startable } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { networkInterfaces } from 'node:os'
import { DEFAULTS } from '../config/defaults.js'

export interface OfficeMdnsInit {
  /** At most one query per this interval on the segment (with jitter). @default DEFAULTS.p2p.mdnsIntervalMs */
  intervalMs?: number
  /** @default DEFAULTS.p2p.serviceTag */
  serviceTag?: string
  /** Queries after start, ms after it, unless someone else asked since. @default [1000, 4000] */
  earlyQueriesMs?: number[]
  /** mDNS reported this peer (before libp2p's peer:discovery for it). */
  onPeer?: (peerId: string) => void
}

export interface OfficeMdnsComponents {
  connectionManager: { getConnections: (peerId?: PeerInfo['id']) => unknown[] }
  [key: string]: unknown
}

/** An answer goes out this long after the query (random in the range)... */
const ANSWER_DELAY_MS: [number, number] = [20, 120]
/** ...and at most once per this long. */
const ANSWER_EVERY_MS = 1000

type QueryPacket = { questions?: Array<{ name: string, type: string }> }
type QueryHandler = (packet: QueryPacket, rinfo: { address: string }) => void

/** What this module uses of multicast-dns (the instance @libp2p/mdns keeps in `.mdns`). */
interface MulticastDns {
  query: (q: { questions: Array<{ name: string, type: string }> }) => void
  on: (ev: 'query', fn: (packet: { questions?: Array<{ name: string, type: string }> }, rinfo: { address: string }) => void) => void
  removeListener: (ev: 'query', fn: (...args: any[]) => void) => void
}

/** setInterval's largest delay: the inner module then asks only once, at its start. */
const NEVER = 2 ** 31 - 1

export function officeMdns (init: OfficeMdnsInit = {}): (components: OfficeMdnsComponents) => PeerDiscovery {
  return (components) => new OfficeMdns(components, init)
}

export class OfficeMdns extends TypedEventEmitter<PeerDiscoveryEvents> implements PeerDiscovery, Startable {
  readonly [Symbol.toStringTag] = 'layerd:mdns'
  readonly [peerDiscoverySymbol] = this
  private readonly inner: PeerDiscovery & Startable & { mdns?: MulticastDns, _onMdnsQuery?: QueryHandler }
  private readonly intervalMs: number
  private readonly serviceTag: string
  private readonly early: number[]
  private readonly timers = new Set<NodeJS.Timeout>()
  private localAddrs = new Set<string>()
  private startedAt = 0
  /** When another agent last asked for our service (ms, Date.now()). */
  private lastOtherQuery = 0
  /** When we last answered (ms), and the query an answer is scheduled for. */
  private lastAnswer = 0
  private answerDue: { packet: QueryPacket, rinfo: { address: string } } | undefined
  /** @libp2p/mdns's own query handler: it answers, when we let it. */
  private answer: QueryHandler | undefined

  constructor (private readonly components: OfficeMdnsComponents, private readonly init: OfficeMdnsInit = {}) {
    super()
    this.intervalMs = init.intervalMs ?? DEFAULTS.p2p.mdnsIntervalMs
    this.serviceTag = init.serviceTag ?? DEFAULTS.p2p.serviceTag
    this.early = init.earlyQueriesMs ?? [1000, 4000]
    this.inner = libp2pMdns({ interval: NEVER, serviceTag: this.serviceTag })(components as any) as any
    this.inner.addEventListener('peer', this.onInnerPeer)
  }

  async start (): Promise<void> {
    this.localAddrs = localAddresses()
    this.startedAt = Date.now()
    await this.inner.start()
    // Take over @libp2p/mdns's answering (its handler is bound in its constructor, so the
    // instance holds the very function it registered) to pace it.
    const own = this.inner._onMdnsQuery
    if (this.inner.mdns !== undefined && typeof own === 'function') {
      this.inner.mdns.removeListener('query', own)
      this.answer = own
    }
    this.inner.mdns?.on('query', this.onQuery)
    for (const ms of this.early) this.after(ms, () => { if (this.lastOtherQuery <= this.startedAt) this.query() })
    this.schedule()
  }

  async stop (): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.inner.mdns?.removeListener('query', this.onQuery)
    this.answerDue = undefined
    this.answer = undefined
    await this.inner.stop()
  }

  private readonly onInnerPeer = (e: CustomEvent<PeerInfo>): void => {
    // Told even when connected: the peer that dials first may be heard after its connection came.
    this.init.onPeer?.(e.detail.id.toString())
    if (this.components.connectionManager.getConnections(e.detail.id).length > 0) return
    this.safeDispatchEvent('peer', { detail: e.detail })
  }

  private readonly onQuery = (packet: QueryPacket, rinfo: { address: string }): void => {
    const ours = packet.questions?.some(q => q.name === this.serviceTag) === true
    if (ours && !this.localAddrs.has(rinfo.address)) this.lastOtherQuery = Date.now() // not our own, looped back
    if (this.answer === undefined) return // @libp2p/mdns answers by itself
    if (!ours) return
    // One answer for every query until it goes out, not sooner than a second after the last.
    if (this.answerDue !== undefined) return
    this.answerDue = { packet, rinfo }
    const [lo, hi] = ANSWER_DELAY_MS
    const delay = Math.max(lo + Math.random() * (hi - lo), this.lastAnswer + ANSWER_EVERY_MS - Date.now())
    this.after(delay, () => {
      const due = this.answerDue
      this.answerDue = undefined
      if (due === undefined || this.answer === undefined) return
      this.lastAnswer = Date.now()
      this.answer(due.packet, due.rinfo)
    })
  }

  /** The periodic query: skipped when another agent asked within the last interval. */
  private schedule (): void {
    const delay = this.intervalMs * (0.75 + Math.random() * 0.5)
    this.after(delay, () => {
      this.localAddrs = localAddresses()
      if (Date.now() - this.lastOtherQuery >= this.intervalMs * 0.75) this.query()
      this.schedule()
    })
  }

  private query (): void {
    this.inner.mdns?.query({ questions: [{ name: this.serviceTag, type: 'PTR' }] })
  }

  private after (ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); fn() }, ms)
    t.unref()
    this.timers.add(t)
  }
}

function localAddresses (): Set<string> {
  const out = new Set<string>()
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address)
  return out
}
