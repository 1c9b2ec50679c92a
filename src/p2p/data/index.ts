// The data plane: bulk bytes between agents over HTTPS with a pre-shared key (keys.ts), beside
// libp2p, which keeps discovery, inventory and control. A peer's data endpoint is asked over
// libp2p once (endpoint.ts); a peer that has none, or whose data port cannot be reached, is
// served over the libp2p range protocol instead for a while.

import type { Logger } from '../../log.js'
import type { Connections } from '../connections.js'
import type { ProtocolServiceComponents, ProtocolServiceInit } from '../protocol.js'
import type { PieceCheck } from '../types.js'
import { raceSignal } from 'race-signal'
import { AbortedError } from '../../errors.js'
import { PeerRefusedError } from '../protocol.js'
import { verifiedRange } from '../verify.js'
import { Fetcher } from './fetcher.js'
import type { DataThread } from '../../thread/data-thread.js'
import { EndpointService, type DataEndpoint } from './endpoint.js'
import { DataServer, type DataServerComponents } from './server.js'

export interface DataPlaneComponents extends ProtocolServiceComponents, Omit<DataServerComponents, 'connections'> {
  connections: Pick<Connections, 'connectionTo' | 'isConnected' | 'onDisconnect'>
  logger: Logger
}

export interface DataPlaneInit extends ProtocolServiceInit {
  self: string
  secret?: Uint8Array
  /** libp2p listen multiaddrs: the data server listens on the first TCP one's address. */
  listen: string[]
  /** Data server port. Default: the libp2p port + 1 (any free port when that is 0). */
  dataPort?: number
  /** Keep-alive connections per peer. Default 4. */
  connectionsPerPeer?: number
  /** How long a peer whose data port failed is reached over libp2p instead. Default 60 s. */
  fallbackMs?: number
  /** Bytes of piece buffers out at once, all transfers together (src/p2p/data/piece-budget.ts). Default 12 MiB. */
  pieceBudgetBytes?: number
  /** The agent's data thread, where transfers run. Default: one of the data plane's own. */
  thread?: DataThread
}

type Fetch = (peerId: string, digest: string, start: number, end: number, signal?: AbortSignal) => AsyncIterable<Uint8Array>

/**
 * Host and port the data server binds, from the first TCP listen multiaddr; `fixed` when the
 * port was configured (else it is the libp2p port + 1, and any free port will do when that one
 * is taken: peers ask for it over libp2p).
 */
export function dataListen (listen: string[], dataPort?: number): { host: string, port: number, fixed: boolean } | undefined {
  for (const a of listen) {
    const m = /^\/ip([46])\/([^/]+)\/tcp\/(\d+)/.exec(a)
    if (m === null) continue
    const p2pPort = Number(m[3])
    return { host: m[2] as string, port: dataPort ?? (p2pPort === 0 ? 0 : p2pPort + 1), fixed: dataPort !== undefined }
  }
  return undefined
}

export class DataPlane {
  private readonly server: DataServer | undefined
  private readonly endpoint: EndpointService
  private readonly client: Fetcher
  /** Per peer: its endpoint (asked once), or null when it has none. */
  private readonly endpoints = new Map<string, Promise<DataEndpoint | null>>()
  /** Peers reached over libp2p until the time given (their data port failed). */
  private readonly viaLibp2p = new Map<string, number>()
  private readonly fallbackMs: number
  private unsubscribe?: () => void

  constructor (private readonly components: DataPlaneComponents, init: DataPlaneInit, private readonly libp2pFetch: Fetch) {
    const at = dataListen(init.listen, init.dataPort)
    const timeoutMs = init.requestTimeoutMs ?? 30_000
    if (at !== undefined) this.server = new DataServer(components, { self: init.self, secret: init.secret, host: at.host, port: at.port, anyPortIfTaken: !at.fixed, timeoutMs })
    this.endpoint = new EndpointService(components, { ...init, port: () => this.server?.port })
    this.client = new Fetcher(components.metrics, { self: init.self, secret: init.secret, connectionsPerPeer: init.connectionsPerPeer ?? 4, timeoutMs, pieceBudgetBytes: init.pieceBudgetBytes, thread: init.thread })
    this.fallbackMs = init.fallbackMs ?? 60_000
  }

  /** The port our data server listens on. */
  get port (): number | undefined { return this.server?.port }

  async start (): Promise<void> {
    await this.server?.start()
    await this.endpoint.start()
    this.unsubscribe = this.components.connections.onDisconnect(peer => {
      this.endpoints.delete(peer)
      this.viaLibp2p.delete(peer)
      this.client.forget(peer)
    })
  }

  async stop (): Promise<void> {
    this.unsubscribe?.()
    await this.endpoint.stop()
    await this.client.close()
    await this.server?.stop()
  }

  /**
   * Bytes [start, end) of `digest` from `peerId`: over the data plane (pieces checked in its
   * worker), else over libp2p (pieces checked here).
   */
  async * fetchRange (peerId: string, digest: string, start: number, end: number, signal?: AbortSignal, check?: PieceCheck): AsyncIterable<Uint8Array> {
    let ep: DataEndpoint | null = null
    if ((this.viaLibp2p.get(peerId) ?? 0) <= Date.now()) {
      try {
        ep = await this.endpointOf(peerId, signal)
      } catch (err) {
        if (signal?.aborted === true) throw err
        // No answer this time (a timeout on a busy peer, a stream refused): this one range goes
        // over libp2p and the next fetch asks again. Only a peer that has no data plane is
        // reached over libp2p for a while.
        this.components.logger.debug({ peer: peerId, err: String((err as Error).message) }, 'data endpoint not known yet; libp2p for this range')
      }
    }
    if (ep === null) { yield * this.overLibp2p(peerId, digest, start, end, signal, check); return }
    let got = 0
    try {
      for await (const chunk of this.client.fetch(peerId, ep, digest, start, end, signal, check)) {
        got += chunk.length
        yield chunk
      }
    } catch (err) {
      // The data port did not answer at all: reach this peer over libp2p for a while.
      if (got === 0 && signal?.aborted !== true && isConnectFailure(err)) {
        this.components.logger.info({ peer: peerId, err: String((err as Error).message) }, 'data plane unreachable; using libp2p for this peer')
        this.viaLibp2p.set(peerId, Date.now() + this.fallbackMs)
        yield * this.overLibp2p(peerId, digest, start, end, signal, check)
        return
      }
      throw err
    }
  }

  private overLibp2p (peerId: string, digest: string, start: number, end: number, signal?: AbortSignal, check?: PieceCheck): AsyncIterable<Uint8Array> {
    if (check === undefined) return this.libp2pFetch(peerId, digest, start, end, signal)
    return verifiedRange((s, e) => this.libp2pFetch(peerId, digest, s, e, signal), start, end, check)
  }

  /**
   * A peer's data endpoint, or null when it has none (then libp2p for a while). The question is
   * shared by every fetch from that peer, so it is asked without any one fetch's signal: a
   * cancelled fetch must not leave the others without an answer, nor send them to libp2p. A
   * failed question (no answer) throws and is asked again next time.
   */
  private async endpointOf (peerId: string, signal?: AbortSignal): Promise<DataEndpoint | null> {
    let p = this.endpoints.get(peerId)
    if (p === undefined) {
      const asked: Promise<DataEndpoint | null> = this.endpoint.endpointOf(peerId).catch((err) => {
        if (this.endpoints.get(peerId) === asked) this.endpoints.delete(peerId)
        if (!hasNoDataPlane(err)) throw err
        this.components.logger.debug({ peer: peerId, err: String(err?.message ?? err) }, 'peer has no data plane')
        this.viaLibp2p.set(peerId, Date.now() + this.fallbackMs)
        return null
      })
      asked.catch(() => {}) // a question nobody waits for any more must not go unhandled
      this.endpoints.set(peerId, asked)
      p = asked
    }
    return await raceSignal(p, signal, { translateError: () => new AbortedError('aborted') })
  }
}

/** Whether `err` or its cause (our errors wrap what libp2p and undici threw) matches. */
function errOrCause (err: unknown, match: (e: unknown) => boolean): boolean {
  return match(err) || match((err as { cause?: unknown })?.cause)
}

/** The peer answered that it has no data plane, or does not speak the protocol (an older agent). */
function hasNoDataPlane (err: unknown): boolean {
  return errOrCause(err, e => e instanceof PeerRefusedError || (e as { name?: unknown })?.name === 'UnsupportedProtocolError')
}

/** A failure to reach the data port (refused, unreachable, timed out, handshake refused). */
function isConnectFailure (err: unknown): boolean {
  return errOrCause(err, e => {
    const code = (e as { code?: unknown })?.code
    return typeof code === 'string' && /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ECONNRESET|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET|ERR_SSL_.*)$/.test(code)
  })
}
