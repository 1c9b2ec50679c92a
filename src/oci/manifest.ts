import { isSha256Digest } from './reference.js'

export interface Descriptor { digest: string, size: number }

/**
 * The blobs an image manifest names (its config and layers), with their sizes. An index, a
 * schema 1 manifest or anything that does not parse yields none: this is a hint, never a check.
 */
export function blobDescriptors (body: Buffer): Descriptor[] {
  let j: unknown
  try { j = JSON.parse(body.toString('utf8')) } catch { return [] }
  if (j === null || typeof j !== 'object') return []
  const m = j as { config?: unknown, layers?: unknown }
  const out: Descriptor[] = []
  const take = (d: unknown): void => {
    if (d === null || typeof d !== 'object') return
    const { digest, size } = d as { digest?: unknown, size?: unknown }
    if (isSha256Digest(digest) && typeof size === 'number' && Number.isSafeInteger(size) && size >= 0) out.push({ digest, size })
  }
  take(m.config)
  if (Array.isArray(m.layers)) for (const l of m.layers) take(l)
  return out
}
