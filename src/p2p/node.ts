// The libp2p node of a layerd agent: TCP, noise (with the office secret as prologue), yamux
// tuned for paused readers, identify, and mDNS with our own service tag. Callers add services and
// discovery (kad-dht, ping, ...) through `services` / `peerDiscovery`. The node is returned
// unstarted so protocol handlers and listeners can be in place before the first connection.

import '../polyfill.js'
import { createHash } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { identify, type Identify } from '@libp2p/identify'
import type { PrivateKey, ServiceMap } from '@libp2p/interface'
import { corkedTcp } from './corked-tcp.js'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p, type Libp2pInit, type ServiceFactoryMap } from 'libp2p'
import { DEFAULTS } from '../config/defaults.js'
import type { Logger } from '../log.js'
import { officeMdns } from './mdns.js'

export const SECRET_PROLOGUE_LABEL = 'layerd/office-secret/v1'

/** The noise prologue for an office secret: peers with another secret fail the handshake. */
export function officePrologue (secret: Uint8Array): Uint8Array {
  return createHash('sha256').update(SECRET_PROLOGUE_LABEL).update(secret).digest()
}

const MiB = 1024 * 1024
/**
 * A paused reader must not reset the stream: yamux's default window (16 MiB) is larger than its
 * read buffer (4 MiB). See /work/shared/notes/environment.md, "libp2p v3 on Node 20".
 */
const YAMUX_STREAM_OPTIONS = { maxStreamWindowSize: 4 * MiB, maxReadBufferLength: 8 * MiB }

/**
 * Idle connections stay silent: libp2p's connection monitor (a ping stream, with protocol
 * negotiation, every 10 s on every connection) and yamux keep-alives cost more than anything an
 * idle office does, and grow with the square of its size. A peer that is gone is found out by the
 * request that needs it (bounded timeouts), or by TCP itself.
 */
const QUIET = { connectionMonitor: { enabled: false } }

/**
 * Idle connections stay open: @libp2p/tcp closes a socket after 2 min without traffic, and since
 * nothing flows at rest every agent then re-dialled every neighbour mDNS named (a noise handshake,
 * identify, an inventory exchange per pair) every few minutes. TCP keep-alive stays on.
 */
const TCP_INIT = { inboundSocketInactivityTimeout: 0, outboundSocketInactivityTimeout: 0 }

export interface NodeInit<S extends ServiceMap = ServiceMap> {
  privateKey: PrivateKey
  /** Listen multiaddrs. @default DEFAULTS.p2p.listen */
  listen?: string[]
  /** Office secret: only agents with the same secret complete the noise handshake. */
  secret?: Uint8Array
  /** mDNS discovery (never in a test's root network namespace). @default DEFAULTS.p2p.mdns */
  mdns?: boolean
  /** mDNS query interval. @default DEFAULTS.p2p.mdnsIntervalMs */
  mdnsIntervalMs?: number
  /** mDNS service tag. @default DEFAULTS.p2p.serviceTag */
  serviceTag?: string
  /** More libp2p services, next to `identify`. */
  services?: ServiceFactoryMap<S>
  /** More discovery modules, next to mDNS. */
  peerDiscovery?: NonNullable<Libp2pInit['peerDiscovery']>
  /** Warns when there is no office secret. */
  logger?: Logger
  /** mDNS reported this peer (before libp2p's peer:discovery for it). */
  onMdnsPeer?: (peerId: string) => void
}

export type LayerdNode<S extends ServiceMap = ServiceMap> = Libp2p<S & { identify: Identify }>

/** Build (not start) the libp2p node. */
export async function createNode<S extends ServiceMap = ServiceMap> (init: NodeInit<S>): Promise<LayerdNode<S>> {
  if (init.secret === undefined) init.logger?.warn('no office secret configured: this agent joins any layerd agent on the LAN')
  const discovery = [...(init.peerDiscovery ?? [])]
  if (init.mdns ?? DEFAULTS.p2p.mdns) {
    // onPeer taps mDNS's own events: libp2p reports every discovery (the DHT's too) as one kind.
    discovery.unshift(officeMdns({
      intervalMs: init.mdnsIntervalMs ?? DEFAULTS.p2p.mdnsIntervalMs,
      serviceTag: init.serviceTag ?? DEFAULTS.p2p.serviceTag,
      ...(init.onMdnsPeer !== undefined ? { onPeer: init.onMdnsPeer } : {})
    }) as any)
  }
  const services = { identify: identify(), ...init.services } as ServiceFactoryMap<S & { identify: Identify }>
  return await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: [...(init.listen ?? DEFAULTS.p2p.listen)] },
    transports: [corkedTcp(TCP_INIT)],
    connectionEncrypters: [noise(init.secret !== undefined ? { prologueBytes: officePrologue(init.secret) } : {})],
    streamMuxers: [yamux({ streamOptions: YAMUX_STREAM_OPTIONS, enableKeepAlive: false })],
    peerDiscovery: discovery,
    services,
    // Up to 128 handshakes at once: when an agent joins an office of a hundred, half of them
    // dial it in the same moment (src/p2p/dialer.ts), and libp2p's 10 refused the rest.
    connectionManager: { inboundConnectionThreshold: 20, maxIncomingPendingConnections: 128 },
    ...QUIET,
    start: false
  })
}
