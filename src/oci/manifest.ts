import type { Platform } from './platform.js'
import { isSha256Digest } from './reference.js'

export interface Descriptor { digest: string, size: number, kind: 'config' | 'layer' }

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
  const take = (d: unknown, kind: Descriptor['kind']): void => {
    if (d === null || typeof d !== 'object') return
    const { digest, size } = d as { digest?: unknown, size?: unknown }
    if (isSha256Digest(digest) && typeof size === 'number' && Number.isSafeInteger(size) && size >= 0) out.push({ digest, size, kind })
  }
  take(m.config, 'config')
  if (Array.isArray(m.layers)) for (const l of m.layers) take(l, 'layer')
  return out
}

export interface IndexEntry {
  digest: string
  size: number
  mediaType?: string
  platform?: Platform
}

/** The manifests an image index (or Docker manifest list) names; undefined when `body` is not an index. */
export function indexEntries (body: Buffer): IndexEntry[] | undefined {
  let j: unknown
  try { j = JSON.parse(body.toString('utf8')) } catch { return undefined }
  if (j === null || typeof j !== 'object' || !Array.isArray((j as { manifests?: unknown }).manifests)) return undefined
  const out: IndexEntry[] = []
  for (const m of (j as { manifests: unknown[] }).manifests) {
    if (m === null || typeof m !== 'object') continue
    const { digest, size, mediaType, platform } = m as Record<string, unknown>
    if (!isSha256Digest(digest) || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) continue
    const e: IndexEntry = { digest, size }
    if (typeof mediaType === 'string') e.mediaType = mediaType
    if (platform !== null && typeof platform === 'object') {
      const p = platform as Record<string, unknown>
      if (typeof p.os === 'string' && typeof p.architecture === 'string') {
        e.platform = { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' && p.variant !== '' ? { variant: p.variant } : {}) }
      }
    }
    out.push(e)
  }
  return out
}
