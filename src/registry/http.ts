import type { ServerResponse } from 'node:http'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics/metrics.js'
import type { PeerNetwork } from '../p2p/types.js'
import type { SessionManager } from '../session/manager.js'
import type { BlobStore } from '../store/blob-store.js'
import type { Upstream } from '../upstream/types.js'

/** What every route of the registry edge is given. */
export interface EdgeDeps {
  store: BlobStore
  sessions: SessionManager
  upstream: Upstream
  metrics: Metrics
  logger: Logger
  /** Largest manifest we accept or serve. */
  maxManifestBytes: number
  /** The office, for tags while upstream is away (and to tell it of tags we resolved). */
  office?: Pick<PeerNetwork, 'resolveTag' | 'tagResolved'>
}

export const API_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' }

/** Wait until the response can take more, or is gone; leaves no listener behind. */
export async function drainOrClose (res: ServerResponse): Promise<void> {
  if (res.destroyed) return
  await new Promise<void>(resolve => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
    res.on('drain', done)
    res.on('close', done)
  })
}

/** A JSON answer with its length. */
export function sendJson (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value, null, 2)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers })
  res.end(body)
}
