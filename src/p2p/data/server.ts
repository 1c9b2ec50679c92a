// The data server: `GET /blobs/<digest>` with `Range: bytes=a-b` over HTTPS (TLS 1.3 PSK, see
// keys.ts), for peers only. It serves exactly the bytes we advertise, takes an upload slot per
// request (BUSY beyond), paces by the shared upload rate and follows the client's back-pressure.
// Answers: 206 with the bytes; errors as JSON {code, message} with the status below.

import { constants } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { AbortedError, PeerRangeError, errorMessage } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { Metrics } from '../../metrics/metrics.js'
import { isSha256Digest } from '../../oci/reference.js'
import { rangesCover } from '../../util/ranges.js'
import type { ErrorCode } from '../protocol.js'
import type { PeerHealth } from '../peer-health.js'
import type { InventoryEntry, LocalBlobs } from '../types.js'
import { letGo } from '../../util/lent.js'
import type { Uploads } from '../uploads.js'
import { DATA_TLS, dataKey } from './keys.js'

export interface DataServerComponents {
  local: LocalBlobs
  router: { advertised: (digest: string) => InventoryEntry | undefined }
  uploads: Uploads
  health: Pick<PeerHealth, 'isBanned'>
  connections: { isConnected: (peer: string) => boolean }
  metrics: Metrics
  logger: Logger
}

export interface DataServerInit {
  /** Our peer id (the server side of every key). */
  self: string
  secret?: Uint8Array
  host: string
  port: number
  /** When `port` is taken: any free port (it was not configured; peers ask for it), else fail. */
  anyPortIfTaken?: boolean
  /** Longest silence on a connection. */
  timeoutMs: number
}

const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400, BANNED: 403, BLOB_UNKNOWN: 404, RANGE_NOT_HELD: 416, OUT_OF_BOUNDS: 416, BUSY: 429, NOT_COMPLETE: 409, INTERNAL: 500
}
const PATH = /^\/blobs\/(sha256:[a-f0-9]{64})$/
const RANGE = /^bytes=(\d{1,16})-(\d{1,16})$/
/** Rate-limited sends spend tokens in pieces of at most this, so they stay smooth. */
const PACE_BYTES = 256 * 1024

/** The peer a TLS connection authenticated as (its PSK identity). */
const peerOf = new WeakMap<TLSSocket, string>()

export class DataServer {
  private server?: Server
  private boundPort?: number

  constructor (private readonly components: DataServerComponents, private readonly init: DataServerInit) {}

  /** The port we listen on (after start). */
  get port (): number | undefined { return this.boundPort }

  async start (): Promise<void> {
    const { components: c, init } = this
    const server = createServer({
      ...DATA_TLS,
      pskCallback: (socket: TLSSocket, identity: string) => {
        // Only a peer connected over libp2p (noise authenticated its id) and not banned.
        if (!c.connections.isConnected(identity) || c.health.isBanned(identity)) return null
        peerOf.set(socket, identity)
        return dataKey(init.secret, identity, init.self)
      },
      // No session resumption: every connection proves the key again, and its PSK identity says
      // which peer it is (a resumed session would skip pskCallback).
      secureOptions: constants.SSL_OP_NO_TICKET,
      keepAliveTimeout: 30_000,
      requestTimeout: 0
    } as any, (req, res) => { this.handle(req, res).catch(err => { c.logger.warn({ err: errorMessage(err) }, 'data plane request failed'); res.destroy() }) })
    server.on('tlsClientError', (err) => { c.logger.debug({ err: errorMessage(err) }, 'data plane handshake refused') })
    server.setTimeout(init.timeoutMs)
    const listen = async (port: number): Promise<void> => {
      server.listen(port, init.host)
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => { throw err })])
    }
    try {
      await listen(init.port)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || init.anyPortIfTaken !== true || init.port === 0) throw err
      c.logger.warn({ port: init.port }, 'data port taken by another program: listening on a free port instead (set p2p.dataPort to choose one)')
      await listen(0)
    }
    const addr = server.address()
    this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : undefined
    this.server = server
  }

  async stop (): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    await new Promise<void>(resolve => { server.close(() => resolve()); server.closeAllConnections() })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { components: c } = this
    const peer = peerOf.get(req.socket as TLSSocket)
    if (peer === undefined) { refuse(res, 'BANNED', 'unknown peer'); return }
    const m = req.method === 'GET' ? PATH.exec(req.url ?? '') : null
    const r = RANGE.exec(req.headers.range ?? '')
    if (m === null || r === null) { refuse(res, 'BAD_REQUEST', 'expected GET /blobs/<digest> with Range: bytes=a-b'); return }
    const digest = m[1] as string
    const start = Number(r[1])
    const end = Number(r[2]) + 1
    if (!isSha256Digest(digest) || !Number.isSafeInteger(end) || end <= start) { refuse(res, 'BAD_REQUEST', 'bad digest or range'); return }
    if (c.health.isBanned(peer)) { refuse(res, 'BANNED', 'you are banned'); return }
    const entry = c.router.advertised(digest)
    if (entry === undefined) { refuse(res, 'BLOB_UNKNOWN', `${digest} is not held`); return }
    if (end > entry.size) { refuse(res, 'OUT_OF_BOUNDS', `range ${start}-${end} outside blob of ${entry.size} bytes`); return }
    if (!rangesCover(entry.ranges, start, end)) { refuse(res, 'RANGE_NOT_HELD', `bytes ${start}-${end} are not all held`); return }
    const slot = c.uploads.acquire(peer)
    if (slot === undefined) { refuse(res, 'BUSY', c.uploads.busyMessage(peer)); return }
    res.on('close', () => { slot.abort(new AbortedError('client went away')) })
    let it: AsyncIterator<Uint8Array> | undefined
    let sent = 0
    try {
      it = c.local.read(digest, start, end, slot.signal)[Symbol.asyncIterator]()
      let next: IteratorResult<Uint8Array>
      try { next = await it.next() } catch (err) {
        if (err instanceof PeerRangeError) { refuse(res, 'RANGE_NOT_HELD', errorMessage(err)); return }
        throw err
      }
      res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-length': end - start, 'content-range': `bytes ${start}-${end - 1}/${entry.size}` })
      const out = c.metrics.peerBytesOut.labels({ peer, path: 'data' })
      const bucket = c.uploads.bucket
      while (next.done !== true) {
        const buf = next.value
        const release = (): void => { letGo(buf) } // its hold, if lent (src/util/lent.ts)
        // The last part's write callback releases the chunk (writes complete in order). On any
        // other way out: at once if no part of it was written, else once the response closed
        // (the error path destroys it), so no queued write still reads it.
        let handed = false
        let wrote = false
        try {
          let chunk = buf
          while (chunk.byteLength > 0) {
            const part = bucket.unlimited ? chunk : chunk.subarray(0, PACE_BYTES)
            await bucket.take(part.byteLength, slot.signal)
            if (slot.signal.aborted) throw new AbortedError('upload aborted')
            chunk = chunk.subarray(part.byteLength)
            handed = chunk.byteLength === 0
            const room = res.write(part, handed ? () => { release() } : undefined)
            wrote = true
            if (!room) await drained(res)
            if (slot.signal.aborted) throw new AbortedError('upload aborted')
            out.inc(part.byteLength)
            sent += part.byteLength
          }
        } finally {
          if (!handed) {
            if (!wrote || res.closed) release()
            else res.once('close', release)
          }
        }
        next = await it.next()
      }
      if (sent !== end - start) throw new Error(`local.read ended after ${sent} of ${end - start} bytes`)
      res.end()
    } catch (err) {
      if (!slot.signal.aborted) c.logger.warn({ peer, digest, start, end, err: errorMessage(err) }, 'upload failed')
      if (!res.headersSent) refuse(res, 'INTERNAL', 'read failed')
      else res.destroy()
    } finally {
      await it?.return?.().catch(() => {})
      slot.release()
    }
  }
}

function refuse (res: ServerResponse, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ code, message })
  res.writeHead(STATUS[code], { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

async function drained (res: ServerResponse): Promise<void> {
  if (res.destroyed) return
  await new Promise<void>(resolve => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
    res.on('drain', done)
    res.on('close', done)
  })
}

