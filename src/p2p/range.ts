// The range protocol (/layerd/range/1.0.0): bytes [offset, offset + length) of a blob we
// advertise. The server checks the request against what we advertise, takes an upload slot,
// paces by the shared rate and sends through the capped writer; the client yields exactly the
// bytes asked for or throws.

import type { Stream } from '@libp2p/interface'
import { AbortedError, PeerProtocolError, PeerRangeError, errorMessage } from '../errors.js'
import { rangesCover } from '../util/ranges.js'
import { FrameError, encodeFrame, sendCapped } from './frames.js'
import { MAX_CONTROL_FRAME_BYTES, ProtocolService, RANGE_PROTOCOL, asError, type ProtocolServiceComponents, type ProtocolServiceInit } from './protocol.js'
import type { InventoryEntry, LocalBlobs } from './types.js'
import type { Uploads } from './uploads.js'
import { expectDigest, expectSize, isSize } from './validate.js'

export interface RangeComponents extends ProtocolServiceComponents {
  uploads: Uploads
  /** What we advertise: only those bytes are served. */
  router: { advertised: (digest: string) => InventoryEntry | undefined }
  local: LocalBlobs
}

export type RangeInit = ProtocolServiceInit

interface RangeRequest { digest: string, offset: number, length: number }

/** Rate-limited sends spend tokens in pieces of at most this, so they stay smooth. */
const PACE_BYTES = 256 * 1024
const MAX_STREAMS = 64

export function rangeProtocol (components: RangeComponents, init: RangeInit = {}): RangeService {
  return new RangeService(components, init)
}

export class RangeService extends ProtocolService<RangeRequest> {
  constructor (protected override readonly components: RangeComponents, init: RangeInit = {}) {
    super(components, RANGE_PROTOCOL, MAX_STREAMS, init)
  }

  protected parseRequest (msg: Record<string, unknown>): RangeRequest {
    const digest = expectDigest(msg.digest)
    const offset = expectSize(msg.offset, 'offset')
    const length = expectSize(msg.length, 'length')
    if (!Number.isSafeInteger(offset + length)) throw new FrameError('offset + length is not a safe integer', 'frame-malformed')
    return { digest, offset, length }
  }

  protected async answer (stream: Stream, peer: string, { digest, offset, length }: RangeRequest): Promise<void> {
    const end = offset + length
    const entry = this.components.router.advertised(digest)
    if (entry === undefined) { await this.refuse(stream, 'BLOB_UNKNOWN', `${digest} is not held`); return }
    if (end > entry.size) { await this.refuse(stream, 'OUT_OF_BOUNDS', `range ${offset}-${end} outside blob of ${entry.size} bytes`); return }
    if (!rangesCover(entry.ranges, offset, end)) { await this.refuse(stream, 'RANGE_NOT_HELD', `bytes ${offset}-${end} are not all held`); return }
    const slot = this.components.uploads.acquire(peer)
    if (slot === undefined) { await this.refuse(stream, 'BUSY', this.components.uploads.busyMessage(peer)); return }
    const onClose = (): void => { slot.abort(new AbortedError('stream closed')) }
    stream.addEventListener('close', onClose)
    const signal = AbortSignal.any([slot.signal, this.stopSignal])
    let headerSent = false
    let it: AsyncIterator<Uint8Array> | undefined
    let exhausted = false
    try {
      it = this.components.local.read(digest, offset, end, signal)[Symbol.asyncIterator]()
      let next: IteratorResult<Uint8Array> | undefined
      if (length > 0) {
        try {
          next = await it.next()
        } catch (err) {
          if (err instanceof PeerRangeError) { await this.refuse(stream, 'RANGE_NOT_HELD', errorMessage(err)); return }
          throw err
        }
      }
      stream.send(encodeFrame({ ok: true }, MAX_CONTROL_FRAME_BYTES))
      headerSent = true
      let sent = 0
      const out = this.components.metrics.peerBytesOut.labels({ peer, path: 'libp2p' })
      const bucket = this.components.uploads.bucket
      while (next !== undefined && next.done !== true) {
        let chunk = next.value
        if (sent + chunk.byteLength > length) throw new Error(`local.read returned more than ${length} bytes`)
        while (chunk.byteLength > 0) {
          const part = bucket.unlimited ? chunk : chunk.subarray(0, PACE_BYTES)
          await bucket.take(part.byteLength, signal)
          await sendCapped(stream, part, { signal, idleTimeoutMs: this.timeoutMs })
          out.inc(part.byteLength)
          sent += part.byteLength
          chunk = chunk.subarray(part.byteLength)
        }
        next = sent < length ? await it.next() : undefined
      }
      exhausted = next?.done === true
      if (sent !== length) throw new Error(`local.read ended after ${sent} of ${length} bytes`)
      await stream.close({ signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) })
    } catch (err) {
      if (signal.aborted || err instanceof AbortedError) {
        this.log.debug({ peer, digest, err: errorMessage(err) }, 'upload aborted')
      } else {
        this.log.warn({ peer, digest, offset, length, err: errorMessage(err) }, 'upload failed')
      }
      if (!headerSent && !signal.aborted) await this.refuse(stream, 'INTERNAL', 'read failed')
      else stream.abort(asError(err))
    } finally {
      stream.removeEventListener('close', onClose)
      // Let the store release its file handle even when we stopped before its end.
      if (it !== undefined && !exhausted) await it.return?.().catch(() => {})
      slot.release()
    }
  }

  /**
   * Bytes [start, end) of `digest` from `peerId`: exactly end - start bytes, or a throw
   * (PeerRangeError for an error frame, PeerProtocolError for garbage, AbortedError on abort).
   */
  async * fetchRange (peerId: string, digest: string, start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    if (!isSize(start) || !isSize(end) || end < start) throw new PeerRangeError(`invalid range ${start}-${end}`)
    const sig = this.begin(digest, signal)
    if (end === start) return
    let stream: Stream | undefined
    let done = false
    const total = end - start
    let got = 0
    try {
      const r = await this.open(peerId, { digest, offset: start, length: total }, sig)
      stream = r.stream
      const counter = this.components.metrics.peerBytesIn.labels({ peer: peerId, path: 'libp2p' })
      while (got < total) {
        const chunk = await r.reader.readSome(total - got, { idleTimeoutMs: this.timeoutMs })
        if (chunk === null) {
          throw new PeerProtocolError(`short read from ${peerId}: ${got} of ${total} bytes${r.reader.error !== undefined ? ` (${r.reader.error.message})` : ''}`)
        }
        got += chunk.byteLength
        counter.inc(chunk.byteLength)
        yield chunk
      }
      done = true
    } catch (err) {
      throw this.clientError(peerId, err, signal)
    } finally {
      // Early exit (error, abort, consumer break): reset the stream so the peer stops sending.
      if (!done) stream?.abort(new AbortedError('range fetch ended early'))
      else if (stream !== undefined && stream.status === 'open') {
        // The peer closes its side right after the last byte; do not keep a stream open for one that does not.
        const s = stream
        const timer = setTimeout(() => { s.abort(new PeerProtocolError('peer kept the range stream open')) }, this.timeoutMs)
        timer.unref()
        s.addEventListener('close', () => { clearTimeout(timer) }, { once: true })
      }
    }
  }
}
