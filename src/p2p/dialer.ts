// Getting connected: static peers are dialled at start and re-dialled with bounded, jittered
// backoff whenever no connection to them is open. Peers that discovery (mDNS, the DHT) reports are
// dialled by one side of each pair, and again with backoff while a dial fails: libp2p v3 does not
// dial them itself, and when a hundred agents meet at once, dials fail under the load of the
// handshakes (a new agent's answer reaches every other agent in the same millisecond).

import type { PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { setMaxListeners } from 'node:events'
import type { Libp2p } from 'libp2p'
import { DEFAULTS } from '../config/defaults.js'
import { ConfigError, errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import { sleep } from '../util/sleep.js'
import { Tasks } from '../util/tasks.js'
import type { Connections } from './connections.js'

export interface DialerComponents {
  libp2p: Libp2p
  connections: Pick<Connections, 'connectionTo' | 'noteFoundBy'>
  logger: Logger
}

export interface DialerInit {
  /** Static peers, multiaddrs with or without `/p2p/<id>`. @default [] */
  peers?: string[]
  /** Longest a dial may take. @default DEFAULTS.p2p.requestTimeoutMs */
  dialTimeoutMs?: number
  /** First wait before re-dialling a static peer; doubles up to redialMaxMs. @default DEFAULTS.p2p.redialMinMs */
  redialMinMs?: number
  /** @default DEFAULTS.p2p.redialMaxMs */
  redialMaxMs?: number
  /**
   * A discovered peer whose id sorts before ours dials us; we dial it only if no connection came
   * after this long (±50 %). One handshake per pair instead of two. @default 2000
   */
  yieldMs?: number
  /** Re-dials of a peer mDNS reported, after the first failed (backoff redialMinMs..redialMaxMs; a new report starts again; not after a failed handshake). @default 6 */
  discoveredRetries?: number
}

/** A noise handshake that failed (another office secret): trying again cannot help. */
const HANDSHAKE_FAILED = /handshake|decrypt/i

/** While connected to a static peer, look again this often even if no disconnect comes. */
const RECHECK_MS = 5_000

export function dialer (components: DialerComponents, init: DialerInit = {}): Dialer {
  return new Dialer(components, init)
}

export class Dialer {
  /** Peers mDNS reported (the rest of libp2p's discoveries come from the DHT). */
  readonly mdnsPeers = new Set<string>()
  /** The static peers, parsed. */
  readonly peers: Multiaddr[]
  private readonly dialTimeoutMs: number
  private readonly redialMinMs: number
  private readonly redialMaxMs: number
  private readonly yieldMs: number
  private readonly discoveredRetries: number
  private readonly log: Logger
  private readonly tasks: Tasks
  private readonly dialing = new Set<string>()
  private readonly disconnectWaiters = new Set<() => void>()
  private readonly stopController = new AbortController()
  private started = false
  private running = false

  /** Throws ConfigError for a peer address that is not a multiaddr. */
  constructor (private readonly components: DialerComponents, init: DialerInit = {}) {
    try {
      this.peers = (init.peers ?? []).map(p => multiaddr(p))
    } catch (err) {
      throw new ConfigError(`peers: ${errorMessage(err)}`)
    }
    this.dialTimeoutMs = init.dialTimeoutMs ?? DEFAULTS.p2p.requestTimeoutMs
    this.redialMinMs = init.redialMinMs ?? DEFAULTS.p2p.redialMinMs
    this.redialMaxMs = init.redialMaxMs ?? DEFAULTS.p2p.redialMaxMs
    this.yieldMs = init.yieldMs ?? 2000
    this.discoveredRetries = init.discoveredRetries ?? 6
    this.log = components.logger
    this.tasks = new Tasks(this.log)
    // Every dial, and every discovered peer waiting for its next try, listens for stop().
    setMaxListeners(Infinity, this.stopController.signal)
  }

  /** Listen for discoveries (before the node starts, so none is missed). */
  async start (): Promise<void> {
    this.components.libp2p.addEventListener('peer:discovery', this.onDiscovery)
    this.components.libp2p.addEventListener('peer:disconnect', this.wakeWaiters)
    this.started = true
    this.running = true
  }

  /** Begin dialling the static peers (the node must be started). */
  afterStart (): void {
    for (const addr of this.peers) this.tasks.track(this.staticLoop(addr))
  }

  async stop (): Promise<void> {
    this.running = false
    this.stopController.abort()
    this.wakeWaiters()
    if (!this.started) return
    this.components.libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    this.components.libp2p.removeEventListener('peer:disconnect', this.wakeWaiters)
    await this.tasks.settle()
  }

  private get signal (): AbortSignal {
    return AbortSignal.any([this.stopController.signal, AbortSignal.timeout(this.dialTimeoutMs)])
  }

  private readonly onDiscovery = (evt: CustomEvent<{ id: PeerId }>): void => {
    const id = evt.detail.id
    const peer = id.toString()
    const node = this.components.libp2p
    if (!this.running || peer === node.peerId.toString()) return
    this.components.connections.noteFoundBy(peer, this.mdnsPeers.has(peer) ? 'mdns' : 'dht')
    if (this.dialing.has(peer) || this.components.connections.connectionTo(peer) !== undefined) return
    this.dialing.add(peer)
    this.tasks.track(this.discoveredLoop(id).finally(() => this.dialing.delete(peer)))
  }

  /** Dial a discovered peer until connected (by either side), stopped, or out of retries. */
  private async discoveredLoop (id: PeerId): Promise<void> {
    const peer = id.toString()
    const connected = (): boolean => this.components.connections.connectionTo(peer) !== undefined
    let wait = peer < this.components.libp2p.peerId.toString() ? this.yieldMs * (0.5 + Math.random()) : 0
    const nextWait = this.backoff()
    // Only a peer on our segment is worth more tries: the DHT names departed peers for long
    // (stale routing tables), and a failed handshake is another office's secret, not load.
    const retries = this.mdnsPeers.has(peer) ? this.discoveredRetries : 0
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        await sleep(wait, this.stopController.signal)
      } catch { return }
      if (!this.running || connected()) return
      try {
        await this.components.libp2p.dial(id, { signal: this.signal })
        this.log.debug({ peer }, 'dialled discovered peer')
        return
      } catch (err) {
        if (!this.running) return
        const last = attempt >= retries || HANDSHAKE_FAILED.test(errorMessage(err))
        wait = nextWait()
        this.log.debug({ peer, err: errorMessage(err), attempt, retryInMs: last ? undefined : Math.round(wait) }, 'dialling discovered peer failed')
        if (last) return
      }
    }
  }

  private async staticLoop (addr: Multiaddr): Promise<void> {
    let known = addr.getComponents().find(c => c.name === 'p2p')?.value
    let nextWait = this.backoff()
    const address = addr.toString()
    while (this.running) {
      if (known !== undefined && this.components.connections.connectionTo(known) !== undefined) {
        await this.waitForDisconnect(RECHECK_MS)
        continue
      }
      try {
        const conn = await this.components.libp2p.dial(addr, { signal: this.signal })
        known = conn.remotePeer.toString()
        this.components.connections.noteFoundBy(known, 'static')
        nextWait = this.backoff()
        this.log.debug({ address, peer: known }, 'static peer dialled')
      } catch (err) {
        if (!this.running) return
        const wait = nextWait()
        this.log.debug({ address, err: errorMessage(err), retryInMs: Math.round(wait) }, 'static peer dial failed')
        try {
          await sleep(wait, this.stopController.signal)
        } catch { return }
      }
    }
  }

  /** Waits between dials of one peer: redialMinMs doubling to redialMaxMs, each ±20 %. */
  private backoff (): () => number {
    let next = this.redialMinMs
    return () => {
      const wait = next * (0.8 + Math.random() * 0.4)
      next = Math.min(next * 2, this.redialMaxMs)
      return wait
    }
  }

  private async waitForDisconnect (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(timer); this.disconnectWaiters.delete(done); resolve() }
      const timer = setTimeout(done, ms)
      this.disconnectWaiters.add(done)
      if (!this.running) done()
    })
  }

  private readonly wakeWaiters = (): void => {
    for (const w of this.disconnectWaiters) w()
  }
}
