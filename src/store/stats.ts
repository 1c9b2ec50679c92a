import type { BlobState } from './index-db.js'
import { rangesBytes, type Ranges } from '../util/ranges.js'

/**
 * Blobs and present bytes by state, counted once from the index at start and then moved with
 * every change, so a /metrics scrape or a status page costs nothing however big the store is.
 */
export class StoreStats {
  readonly blobs: Record<BlobState, number> = { partial: 0, complete: 0 }
  readonly bytes: Record<BlobState, number> = { partial: 0, complete: 0 }

  add (state: BlobState, ranges: Ranges): void {
    this.blobs[state]++
    this.bytes[state] += rangesBytes(ranges)
  }

  remove (state: BlobState, ranges: Ranges): void {
    this.blobs[state] = Math.max(0, this.blobs[state] - 1)
    this.bytes[state] = Math.max(0, this.bytes[state] - rangesBytes(ranges))
  }

  grow (state: BlobState, bytes: number): void { this.bytes[state] += bytes }

  /** Present bytes in the store, partial and complete. */
  get usedBytes (): number { return this.bytes.partial + this.bytes.complete }
}
