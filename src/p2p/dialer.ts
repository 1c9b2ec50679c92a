// Getting connected: static peers are dialled at start and re-dialled with bounded, jittered
// backoff whenever no connection to them is open; peers that discovery (mDNS) reports are
// dialled once at a time each (libp2p v3 does not dial them itself, and mDNS repeats itself).

import type { PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { DEFAULTS } from '../config/defaults.js'
import { ConfigError, errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import { sleep } from '../util/sleep.js'
import { Tasks } from '../util/tasks.js'
import type { Connections } from './connections.js'

export interface DialerComponents {
  libp2p: Libp2p
  connections: Pick<Connections, 'connectionTo'>
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
}

/** While connected to a static peer, look again this often even if no disconnect comes. */
const RECHECK_MS = 5_000

export function dialer (components: DialerComponents, init: DialerInit = {}): Dialer {
  return new Dialer(components, init)
}

export class Dialer {
  /** The static peers, parsed. */
  readonly peers: Multiaddr[]
  private readonly dialTimeoutMs: number
  private readonly redialMinMs: number
  private readonly redialMaxMs: number
  private readonly log: Logger
  private readonly tasks: Tasks
  private readonly dialing = new Set<string>()
  /** How each peer was found (for status): discovery (mDNS, the only discovery service) or the static list. */
  private readonly found = new Map<string, 'mdns' | 'static'>()
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
    this.log = components.logger
    this.tasks = new Tasks(this.log)
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

  foundBy (peer: string): 'mdns' | 'static' | undefined { return this.found.get(peer) }

  private get signal (): AbortSignal {
    return AbortSignal.any([this.stopController.signal, AbortSignal.timeout(this.dialTimeoutMs)])
  }

  private readonly onDiscovery = (evt: CustomEvent<{ id: PeerId }>): void => {
    const id = evt.detail.id
    const peer = id.toString()
    const node = this.components.libp2p
    if (this.running && !this.found.has(peer)) this.found.set(peer, 'mdns')
    if (!this.running || peer === node.peerId.toString() || this.dialing.has(peer) || this.components.connections.connectionTo(peer) !== undefined) return
    this.dialing.add(peer)
    this.tasks.track(node.dial(id, { signal: this.signal })
      .then(() => { this.log.debug({ peer }, 'dialled discovered peer') })
      .catch(err => { this.log.debug({ peer, err: errorMessage(err) }, 'dialling discovered peer failed') })
      .finally(() => this.dialing.delete(peer)))
  }

  private async staticLoop (addr: Multiaddr): Promise<void> {
    let known = addr.getComponents().find(c => c.name === 'p2p')?.value
    if (known !== undefined) this.found.set(known, 'static')
    let backoff = this.redialMinMs
    const address = addr.toString()
    while (this.running) {
      if (known !== undefined && this.components.connections.connectionTo(known) !== undefined) {
        await this.waitForDisconnect(RECHECK_MS)
        continue
      }
      try {
        const conn = await this.components.libp2p.dial(addr, { signal: this.signal })
        known = conn.remotePeer.toString()
        this.found.set(known, 'static')
        backoff = this.redialMinMs
        this.log.debug({ address, peer: known }, 'static peer dialled')
      } catch (err) {
        if (!this.running) return
        this.log.debug({ address, err: errorMessage(err), retryInMs: backoff }, 'static peer dial failed')
        try {
          await sleep(backoff * (0.8 + Math.random() * 0.4), this.stopController.signal)
        } catch { return }
        backoff = Math.min(backoff * 2, this.redialMaxMs)
      }
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
