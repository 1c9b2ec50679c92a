// Which peers are connected layerd peers. A peer counts once identify shows it speaks our
// inventory protocol (or it opened an inventory stream to us); one that does not is hung up on.
// Everything that depends on membership (inventory senders, holders) follows onConnect /
// onDisconnect instead of watching libp2p itself.

import type { Connection, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p } from 'libp2p'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import { Tasks } from '../util/tasks.js'
import { INVENTORY_PROTOCOL } from './protocol.js'

/** How a peer came to be connected: configured, mDNS, a DHT lookup, or it dialled us. */
export type FoundBy = 'static' | 'mdns' | 'dht' | 'inbound'
const FOUND_RANK: Record<FoundBy, number> = { static: 3, mdns: 2, dht: 1, inbound: 0 }

export interface ConnectionsComponents {
  libp2p: Libp2p
  metrics: Metrics
  logger: Logger
}

export interface ConnectionsInit {
  /** The protocol that makes a peer a layerd peer. @default INVENTORY_PROTOCOL */
  protocol?: string
}

export function connections (components: ConnectionsComponents, init: ConnectionsInit = {}): Connections {
  return new Connections(components, init)
}

export class Connections {
  private readonly connected = new Set<string>()
  /** How each peer was found, when we know (else it called us: `inbound`). */
  private readonly found = new Map<string, FoundBy>()
  private readonly connectListeners = new Set<(peer: string, conn?: Connection) => void>()
  private readonly disconnectListeners = new Set<(peer: string) => void>()
  private readonly protocol: string
  private readonly log: Logger
  private readonly tasks: Tasks
  private self?: string
  private started = false
  private running = false

  constructor (private readonly components: ConnectionsComponents, init: ConnectionsInit = {}) {
    this.protocol = init.protocol ?? INVENTORY_PROTOCOL
    this.log = components.logger
    this.tasks = new Tasks(this.log)
  }

  async start (): Promise<void> {
    const node = this.components.libp2p
    this.self = node.peerId.toString()
    node.addEventListener('peer:identify', this.handleIdentify)
    node.addEventListener('peer:disconnect', this.handleDisconnect)
    this.started = true
    this.running = true
  }

  /** Forget every peer at once (nobody is a member while we stop). */
  async stop (): Promise<void> {
    this.running = false
    if (!this.started) return
    this.components.libp2p.removeEventListener('peer:identify', this.handleIdentify)
    this.components.libp2p.removeEventListener('peer:disconnect', this.handleDisconnect)
    this.connected.clear()
    this.components.metrics.peersConnected.set(0)
    await this.tasks.settle()
  }

  private readonly handleIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[], connection: Connection }>): void => {
    const { peerId, protocols, connection } = evt.detail
    const peer = peerId.toString()
    if (protocols.includes(this.protocol)) {
      this.markConnected(peer, connection)
    } else if (!this.connected.has(peer) && this.running) {
      this.log.debug({ peer }, 'peer does not speak layerd: hanging up')
      this.tasks.track(this.components.libp2p.hangUp(peerId).catch(() => {}))
    }
  }

  private readonly handleDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    if (!this.connected.delete(peer)) return
    this.components.metrics.peersConnected.set(this.connected.size)
    for (const fn of this.disconnectListeners) fn(peer)
    this.log.info({ peer }, 'layerd peer disconnected')
  }

  /**
   * The peer speaks layerd (identify said so, or it opened an inventory stream). onConnect fires
   * every time, not only for a new member: a new connection may replace a dead one.
   */
  markConnected (peer: string, conn?: Connection): void {
    if (!this.running || peer === this.self) return
    if (!this.connected.has(peer)) {
      this.connected.add(peer)
      this.components.metrics.peersConnected.set(this.connected.size)
      this.log.info({ peer, address: conn?.remoteAddr.toString() }, 'layerd peer connected')
    }
    for (const fn of this.connectListeners) fn(peer, conn)
  }

  isConnected (peer: string): boolean { return this.connected.has(peer) }

  /**
   * Remember how a peer was found: the most telling reason wins (static, then mdns, then dht).
   * mDNS answers are paced (src/p2p/mdns.ts), so the DHT may name a neighbour on our own segment
   * a moment before mDNS does.
   */
  noteFoundBy (peer: string, how: FoundBy): void {
    const known = this.found.get(peer)
    if (known === undefined || FOUND_RANK[how] > FOUND_RANK[known]) this.found.set(peer, how)
  }

  foundBy (peer: string): FoundBy { return this.found.get(peer) ?? 'inbound' }

  /** The connected layerd peers. */
  peers (): string[] { return [...this.connected] }

  /** An open connection to `peer` (the newest), layerd peer or not, or undefined. */
  connectionTo (peer: string): Connection | undefined {
    const conns = this.connectionsOf(peer).filter(c => c.status === 'open')
    conns.sort((a, b) => b.timeline.open - a.timeline.open)
    return conns[0]
  }

  /** Remote addresses of our connections to `peer`. */
  addresses (peer: string): string[] {
    return this.connectionsOf(peer).map(c => c.remoteAddr.toString())
  }

  private connectionsOf (peer: string): Connection[] {
    if (!this.started) return []
    try {
      return this.components.libp2p.getConnections(peerIdFromString(peer))
    } catch {
      return [] // not a peer id
    }
  }

  onConnect (fn: (peer: string, conn?: Connection) => void): () => void {
    this.connectListeners.add(fn)
    return () => { this.connectListeners.delete(fn) }
  }

  onDisconnect (fn: (peer: string) => void): () => void {
    this.disconnectListeners.add(fn)
    return () => { this.disconnectListeners.delete(fn) }
  }
}
