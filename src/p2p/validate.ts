// Strict validation of everything a peer sends. Anything that fails throws FrameError
// ('frame-malformed'); callers close the stream and count a peer failure.

import { isSha256Digest } from '../oci/reference.js'
import type { Ranges } from '../util/ranges.js'
import { FrameError } from './frames.js'
import type { InventoryEntry } from './types.js'


export function isSize (value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function bad (message: string): never {
  throw new FrameError(message, 'frame-malformed')
}

export function expectDigest (value: unknown, what = 'digest'): string {
  if (!isSha256Digest(value)) bad(`${what} is not sha256:<64 lowercase hex>`)
  return value
}

export function expectSize (value: unknown, what: string): number {
  if (!isSize(value)) bad(`${what} is not a non-negative safe integer`)
  return value
}

export function expectBool (value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') bad(`${what} is not a boolean`)
  return value
}

/**
 * Ranges must be [start, end) pairs of safe integers with start < end <= size, sorted and
 * non-overlapping. Adjacent ranges are accepted and merged.
 */
export function expectRanges (value: unknown, size: number, maxRanges: number): Ranges {
  if (!Array.isArray(value)) bad('ranges is not an array')
  if (value.length > maxRanges) bad(`more than ${maxRanges} ranges`)
  const out: Ranges = []
  let prevEnd = -1
  for (const r of value as unknown[]) {
    if (!Array.isArray(r) || r.length !== 2) bad('a range is not a [start, end] pair')
    const [start, end] = r as unknown[]
    if (!isSize(start) || !isSize(end)) bad('range bounds are not non-negative safe integers')
    if (start >= end) bad('empty or inverted range')
    if (end > size) bad('range ends past the blob size')
    if (start < prevEnd) bad('ranges are unsorted or overlapping')
    const last = out[out.length - 1]
    if (last !== undefined && last[1] === start) last[1] = end
    else out.push([start, end])
    prevEnd = end
  }
  return out
}

export function expectEntry (value: unknown, maxRanges: number): InventoryEntry {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad('entry is not an object')
  const v = value as Record<string, unknown>
  const digest = expectDigest(v.digest)
  const size = expectSize(v.size, 'size')
  const complete = expectBool(v.complete, 'complete')
  const fetching = expectBool(v.fetching, 'fetching')
  const ranges = expectRanges(v.ranges, size, maxRanges)
  if (complete && size > 0 && (ranges.length !== 1 || ranges[0][0] !== 0 || ranges[0][1] !== size)) {
    bad('a complete entry must hold [[0, size]]')
  }
  const claimed = v.claimed === undefined ? [] : expectRanges(v.claimed, size, maxRanges)
  return { digest, size, complete, ranges, fetching, claimed }
}

/** A libp2p peer id as text (base58btc or a CID): checked for shape only, it is compared, never dialled. */
export function expectPeerIdText (value: unknown, what = 'peer id'): string {
  if (typeof value !== 'string' || !/^[1-9A-HJ-NP-Za-km-z]{32,128}$/.test(value)) bad(`${what} is not a peer id`)
  return value
}

export function expectArray (value: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(value)) bad(`${what} is not an array`)
  if (value.length > max) bad(`${what} has more than ${max} items`)
  return value
}
