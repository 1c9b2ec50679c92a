// The data client: bytes [start, end) of a blob from a peer's data server, over a small pool of
// keep-alive HTTPS connections per peer (undici), authenticated with the pre-shared key of the
// pair (keys.ts). Yields exactly end - start bytes or throws: PeerRefusedError with the peer's
// code (BUSY, RANGE_NOT_HELD, ...), PeerProtocolError for anything else, AbortedError on abort.

import { Pool, type Dispatcher } from 'undici'
import { AbortedError, PeerProtocolError, errorMessage } from '../../errors.js'
import type { Metrics } from '../../metrics/metrics.js'
import { PeerRefusedError } from '../protocol.js'
import type { DataEndpoint } from './endpoint.js'
import { DATA_TLS, dataKey } from './keys.js'

export interface DataClientInit {
  self: string
  secret?: Uint8Array
  /** Keep-alive connections per peer (parallel transfers from one peer). */
  connectionsPerPeer: number
  /** Time for headers, and longest silence inside a body. */
  timeoutMs: number
}

const CODES = new Set(['BLOB_UNKNOWN', 'RANGE_NOT_HELD', 'OUT_OF_BOUNDS', 'BUSY', 'BAD_REQUEST', 'BANNED', 'NOT_COMPLETE', 'INTERNAL'])

export class DataClient {
  private readonly pools = new Map<string, { pool: Pool, endpoint: DataEndpoint }>()

  constructor (private readonly metrics: Metrics, private readonly init: DataClientInit) {}

  /** The pool for `peerId` at `endpoint` (a new one when the endpoint changed). */
  private poolFor (peerId: string, endpoint: DataEndpoint): Pool {
    const known = this.pools.get(peerId)
    if (known !== undefined && known.endpoint.host === endpoint.host && known.endpoint.port === endpoint.port) return known.pool
    void known?.pool.destroy().catch(() => {})
    const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host
    const psk = dataKey(this.init.secret, this.init.self, peerId)
    const pool = new Pool(`https://${host}:${endpoint.port}`, {
      connections: this.init.connectionsPerPeer,
      connect: {
        ...DATA_TLS,
        pskCallback: () => ({ psk, identity: this.init.self }),
        // No certificate with a PSK: the key itself authenticates the server.
        checkServerIdentity: () => undefined,
        maxCachedSessions: 0,
        timeout: this.init.timeoutMs
      } as any,
      headersTimeout: this.init.timeoutMs,
      bodyTimeout: this.init.timeoutMs,
      keepAliveTimeout: 20_000
    })
    this.pools.set(peerId, { pool, endpoint })
    return pool
  }

  async * fetchRange (peerId: string, endpoint: DataEndpoint, digest: string, start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    if (end === start) return
    const pool = this.poolFor(peerId, endpoint)
    let res: Dispatcher.ResponseData
    try {
      res = await pool.request({ path: `/blobs/${digest}`, method: 'GET', headers: { range: `bytes=${start}-${end - 1}` }, signal })
    } catch (err) {
      if (signal?.aborted === true) throw new AbortedError('aborted', { cause: err })
      throw new PeerProtocolError(`data plane of ${peerId}: ${errorMessage(err)}`, { cause: err })
    }
    const body = res.body
    let done = false
    try {
      if (res.statusCode !== 206) {
        const text = await body.text().catch(() => '')
        let code = 'UNKNOWN'
        let message = `HTTP ${res.statusCode}`
        try {
          const j = JSON.parse(text) as { code?: unknown, message?: unknown }
          if (typeof j.code === 'string' && CODES.has(j.code)) code = j.code
          if (typeof j.message === 'string') message = j.message.slice(0, 500)
        } catch {}
        done = true
        if (code === 'UNKNOWN') throw new PeerProtocolError(`data plane of ${peerId} answered HTTP ${res.statusCode}`)
        this.metrics.peerFailures.inc({ peer: peerId, reason: `refused-${code.toLowerCase()}` })
        throw new PeerRefusedError(code, message)
      }
      const cr = /^bytes (\d+)-(\d+)\/\d+$/.exec(String(res.headers['content-range'] ?? ''))
      if (cr === null || Number(cr[1]) !== start || Number(cr[2]) !== end - 1) throw new PeerProtocolError(`data plane of ${peerId} sent another range (${String(res.headers['content-range'])})`)
      const counter = this.metrics.peerBytesIn.labels({ peer: peerId })
      let got = 0
      for await (const chunk of body) {
        const b = chunk as Buffer
        if (got + b.length > end - start) throw new PeerProtocolError(`data plane of ${peerId} sent more than asked`)
        got += b.length
        counter.inc(b.length)
        yield b
      }
      if (got !== end - start) throw new PeerProtocolError(`short read from ${peerId}: ${got} of ${end - start} bytes`)
      done = true
    } catch (err) {
      if (signal?.aborted === true) throw new AbortedError('aborted', { cause: err })
      if (err instanceof PeerRefusedError || err instanceof PeerProtocolError) throw err
      throw new PeerProtocolError(`data plane of ${peerId}: ${errorMessage(err)}`, { cause: err })
    } finally {
      // Early exit (error, abort, consumer break): drop the connection so the peer stops sending.
      if (!done && !body.destroyed) { body.on('error', () => {}); body.destroy() }
    }
  }

  /** A peer left: close its connections. */
  forget (peerId: string): void {
    const p = this.pools.get(peerId)
    this.pools.delete(peerId)
    void p?.pool.destroy().catch(() => {})
  }

  async close (): Promise<void> {
    const all = [...this.pools.values()]
    this.pools.clear()
    await Promise.allSettled(all.map(async p => await p.pool.destroy()))
  }
}
