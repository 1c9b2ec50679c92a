// What the range and pieces protocols share: ids, frame limits, error codes, and the request /
// answer helpers of both sides (one request frame, one header frame, then raw bytes). The wire
// format is docs/PROTOCOL.md.

import type { Connection, Stream } from '@libp2p/interface'
import { AbortedError, PeerProtocolError, PeerRangeError, errorMessage, isLayerdError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import { FrameError, StreamReader, encodeFrame, parseFrameObject } from './frames.js'

export const INVENTORY_PROTOCOL = '/layerd/inventory/1.0.0'
export const RANGE_PROTOCOL = '/layerd/range/1.0.0'
export const PIECES_PROTOCOL = '/layerd/pieces/1.0.0'

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
