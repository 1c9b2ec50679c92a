// The ids and frame limits of our three protocols, and what range and pieces share: error codes,
// the request / answer helpers of both sides (one request frame, one header frame, then raw
// bytes) and ProtocolService. The wire format is docs/PROTOCOL.md.

import type { Connection, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { DEFAULTS } from '../config/defaults.js'
import { AbortedError, PeerProtocolError, PeerRangeError, errorMessage, isLayerdError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import { isSha256Digest } from '../oci/reference.js'
import { Tasks } from '../util/tasks.js'
import type { Connections } from './connections.js'
import { FrameError, StreamReader, encodeFrame, parseFrameObject } from './frames.js'
import type { PeerHealth } from './peer-health.js'

export const INVENTORY_PROTOCOL = '/layerd/inventory/1.0.0'
/** Inventory 1.1: 1.0 plus the `horizon` frame (who our DHT could name). Senders offer it first. */
export const INVENTORY_PROTOCOL_V11 = '/layerd/inventory/1.1.0'
/**
 * Inventory 1.2: 1.1 plus horizon changes as deltas (`add`/`remove`). An agent joining an office
 * of 30 changed every agent's horizon, and each told all its mesh peers the whole list again:
 * 2.6 MB and 7.5 CPU s across the office per join (bench fig. 11). Senders offer it first.
 */
export const INVENTORY_PROTOCOL_V12 = '/layerd/inventory/1.2.0'
export const RANGE_PROTOCOL = '/layerd/range/1.0.0'
export const PIECES_PROTOCOL = '/layerd/pieces/1.0.0'
/** The office DHT (kad-dht under our own prefix: it never mixes with the public IPFS DHT). */
export const DHT_PROTOCOL = '/layerd/kad/1.0.0'

/** Hard limit for request frames and response headers (range, pieces). */
export const MAX_CONTROL_FRAME_BYTES = 4096
/** Senders keep inventory frames at or below this, whatever maxFrameBytes says. */
export const INVENTORY_FRAME_TARGET = 256 * 1024
/** Most ranges accepted in one inventory entry. */
export const MAX_RANGES_PER_ENTRY = 8192
/** Most piece hashes in a pieces response (4 TiB blobs). */
export const MAX_PIECES = 1 << 20

export type ErrorCode = 'BLOB_UNKNOWN' | 'RANGE_NOT_HELD' | 'OUT_OF_BOUNDS' | 'BUSY' | 'BAD_REQUEST' | 'BANNED' | 'NOT_COMPLETE' | 'INTERNAL'
const ERROR_CODES = new Set<string>(['BLOB_UNKNOWN', 'RANGE_NOT_HELD', 'OUT_OF_BOUNDS', 'BUSY', 'BAD_REQUEST', 'BANNED', 'NOT_COMPLETE', 'INTERNAL'])

/** A peer answered with an error frame. `peerCode` is the protocol error code (BUSY, ...). */
export class PeerRefusedError extends PeerRangeError {
  constructor (readonly peerCode: string, message: string) {
    super(`peer refused: ${peerCode}: ${message}`)
  }
}

/** A piece from a peer failed its sha256: nothing of it was used. `piece` is its index in the blob. */
export class BadPieceError extends PeerProtocolError {
  constructor (readonly piece: number, message: string) {
    super(message)
  }
}

/** Count and log a peer that broke a protocol (reason: the FrameError reason or the error code). */
export function countFailure (metrics: Metrics, logger: Logger, peer: string, protocol: string, err: unknown): void {
  const reason = err instanceof FrameError ? err.reason : (isLayerdError(err) ? err.code.toLowerCase() : 'error')
  metrics.peerFailures.inc({ peer, reason })
  logger.warn({ peer, protocol, reason, err: errorMessage(err) }, 'peer protocol failure')
}

export function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}

// ---------------------------------------------------------------- server side

/** Answer with an error frame and close; a client that keeps its side open is cut off after 1 s. */
export async function refuse (stream: Stream, code: ErrorCode, message: string, timeoutMs: number): Promise<void> {
  try {
    stream.send(encodeFrame({ ok: false, code, message }, MAX_CONTROL_FRAME_BYTES))
    await stream.close({ signal: AbortSignal.timeout(timeoutMs) })
    // A well-behaved client has half-closed already; do not keep a half-open stream around
    // for one that has not.
    if (stream.status === 'open') {
      await new Promise<void>(resolve => {
        const done = (): void => { clearTimeout(timer); stream.removeEventListener('close', done); resolve() }
        const timer = setTimeout(done, 1000)
        stream.addEventListener('close', done)
      })
      if (stream.status === 'open') stream.abort(new PeerProtocolError('request stream left open'))
    }
  } catch (err) {
    stream.abort(asError(err))
  }
}

export interface ReadRequestOptions {
  signal: AbortSignal
  timeoutMs: number
  /** Called for garbage (not for an abort). */
  onFailure: (err: unknown) => void
}

/** Read one request frame; answers BAD_REQUEST / aborts the stream and returns undefined on garbage. */
export async function readRequest (stream: Stream, opts: ReadRequestOptions): Promise<Record<string, unknown> | undefined> {
  const reader = new StreamReader(stream, { highWater: 64 * 1024, signal: opts.signal })
  try {
    const body = await reader.readFrame(MAX_CONTROL_FRAME_BYTES, { idleTimeoutMs: opts.timeoutMs })
    if (body === null) { stream.abort(new PeerProtocolError('no request')); return undefined }
    return parseFrameObject(body)
  } catch (err) {
    if (err instanceof AbortedError) { stream.abort(err); return undefined }
    opts.onFailure(err)
    if (err instanceof FrameError && err.reason === 'frame-malformed') await refuse(stream, 'BAD_REQUEST', errorMessage(err), opts.timeoutMs)
    else stream.abort(asError(err))
    return undefined
  } finally {
    reader.detach()
  }
}

// ---------------------------------------------------------------- client side

export interface Response { stream: Stream, reader: StreamReader, header: Record<string, unknown> }

/** Open a `protocol` stream on `conn`, send `request`, half-close, and read the answer's header. */
export async function request (conn: Connection, protocol: string, body: unknown, signal: AbortSignal, timeoutMs: number): Promise<Response> {
  const stream = await conn.newStream(protocol, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) })
  try {
    const reader = new StreamReader(stream, { signal })
    stream.send(encodeFrame(body, MAX_CONTROL_FRAME_BYTES))
    void stream.close().catch(() => {}) // half-close: we send nothing more
    const frame = await reader.readFrame(MAX_CONTROL_FRAME_BYTES, { idleTimeoutMs: timeoutMs })
    if (frame === null) throw new PeerProtocolError(`peer closed the ${protocol} stream without answering${reader.error !== undefined ? ` (${reader.error.message})` : ''}`)
    const header = parseFrameObject(frame)
    if (header.ok === false) {
      const code = typeof header.code === 'string' && ERROR_CODES.has(header.code) ? header.code : 'UNKNOWN'
      const message = typeof header.message === 'string' ? header.message.slice(0, 500) : ''
      throw new PeerRefusedError(code, message)
    }
    if (header.ok !== true) throw new FrameError('response header has no boolean "ok"', 'frame-malformed')
    return { stream, reader, header }
  } catch (err) {
    stream.abort(asError(err))
    throw err
  }
}

/**
 * Map a client failure to the contract's errors (AbortedError, PeerRangeError, PeerProtocolError)
 * and count it: refusals by code, garbage through `onFailure`.
 */
export function clientError (metrics: Metrics, peer: string, protocol: string, err: unknown, aborted: boolean, onFailure: (err: Error) => void): Error {
  if (aborted || err instanceof AbortedError) return err instanceof AbortedError ? err : new AbortedError('aborted', { cause: err })
  if (err instanceof PeerRefusedError) {
    metrics.peerFailures.inc({ peer, reason: `refused-${err.peerCode.toLowerCase()}` })
    return err
  }
  if (err instanceof PeerRangeError) return err
  const out = err instanceof PeerProtocolError ? err : new PeerProtocolError(`${protocol} with ${peer} failed: ${errorMessage(err)}`, { cause: err })
  onFailure(out)
  return out
}

// ---------------------------------------------------------------- one request/response protocol

export interface ProtocolServiceComponents {
  libp2p: Libp2p
  connections: Pick<Connections, 'connectionTo'>
  health: Pick<PeerHealth, 'isBanned'>
  metrics: Metrics
  logger: Logger
}

export interface ProtocolServiceInit {
  /** Time for a peer to answer a request, and longest silence inside a transfer. @default DEFAULTS.p2p.requestTimeoutMs */
  requestTimeoutMs?: number
}

/**
 * What range and pieces share: the handler's registration and tasks, the stop signal, reading
 * and checking a request (BAD_REQUEST, BANNED) before `answer()`, and on the client side the
 * checks before a request and the error mapping after it (js-libp2p's ping has the same shape).
 */
export abstract class ProtocolService<Request> {
  protected readonly timeoutMs: number
  protected readonly log: Logger
  private readonly tasks: Tasks
  private readonly stopController = new AbortController()
  private running = false

  constructor (protected readonly components: ProtocolServiceComponents, readonly protocol: string, private readonly maxStreams: number, init: ProtocolServiceInit) {
    this.timeoutMs = init.requestTimeoutMs ?? DEFAULTS.p2p.requestTimeoutMs
    this.log = components.logger
    this.tasks = new Tasks(this.log)
  }

  async start (): Promise<void> {
    await this.components.libp2p.handle(this.protocol, (stream, conn) => { this.tasks.track(this.serve(stream, conn)) }, { maxInboundStreams: this.maxStreams, maxOutboundStreams: this.maxStreams })
    this.running = true
  }

  /** Aborts everything at once; resolves when the handlers have unwound. */
  async stop (): Promise<void> {
    this.running = false
    this.stopController.abort(new AbortedError('p2p stopping'))
    await this.tasks.settle()
  }

  protected get stopSignal (): AbortSignal { return this.stopController.signal }

  /** Validate a request frame; throws FrameError for garbage. */
  protected abstract parseRequest (msg: Record<string, unknown>): Request

  /** Answer a well-formed request of a peer that is not banned. */
  protected abstract answer (stream: Stream, peer: string, request: Request): Promise<void>

  private async serve (stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const msg = await readRequest(stream, { signal: this.stopSignal, timeoutMs: this.timeoutMs, onFailure: err => { this.failure(peer, err) } })
    if (msg === undefined) return
    let req: Request
    try {
      req = this.parseRequest(msg)
    } catch (err) {
      this.failure(peer, err)
      await this.refuse(stream, 'BAD_REQUEST', errorMessage(err)); return
    }
    if (this.components.health.isBanned(peer)) { await this.refuse(stream, 'BANNED', 'you are banned'); return }
    await this.answer(stream, peer, req)
  }

  protected failure (peer: string, err: unknown): void {
    countFailure(this.components.metrics, this.log, peer, this.protocol, err)
  }

  protected async refuse (stream: Stream, code: ErrorCode, message: string): Promise<void> {
    await refuse(stream, code, message, this.timeoutMs)
  }

  /** The checks before a request; returns the signal that also ends with stop(). */
  protected begin (digest: string, signal?: AbortSignal): AbortSignal {
    if (!isSha256Digest(digest)) throw new PeerRangeError(`invalid digest ${digest}`)
    if (signal?.aborted === true) throw new AbortedError('aborted before the request')
    if (!this.running) throw new PeerRangeError('p2p is not running')
    return signal !== undefined ? AbortSignal.any([signal, this.stopSignal]) : this.stopSignal
  }

  /** Send a request to a connected, not banned peer and read the answer's header. */
  protected async open (peer: string, body: unknown, signal: AbortSignal): Promise<Response> {
    if (this.components.health.isBanned(peer)) throw new PeerRangeError(`peer ${peer} is banned`)
    const conn = this.components.connections.connectionTo(peer)
    if (conn === undefined) throw new PeerRangeError(`peer ${peer} is not connected`)
    return await request(conn, this.protocol, body, signal, this.timeoutMs)
  }

  protected clientError (peer: string, err: unknown, signal?: AbortSignal): Error {
    const aborted = signal?.aborted === true || this.stopSignal.aborted
    return clientError(this.components.metrics, peer, this.protocol, err, aborted, e => { this.failure(peer, e) })
  }
}
