import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * One Prometheus registry per agent (not the global one), so several agents can live in one
 * process during tests. Every module gets this object injected and increments what it owns.
 */
export interface Metrics {
  registry: Registry
  /** Bytes sent to HTTP clients (blob and manifest bodies). */
  bytesServed: Counter<'kind'>
  /** Bytes received, by source: `local` (served from disk), `upstream`, `peer`. */
  bytesBySource: Counter<'source'>
  /** Blob bytes sent to HTTP clients, by where they came from: `local` (already on disk), `peer`, `upstream`. */
  bytesServedBySource: Counter<'source'>
  /** Bytes received from upstream registries, by registry. */
  upstreamBytes: Counter<'registry'>
  /** Upstream requests by registry and outcome. */
  upstreamRequests: Counter<'registry' | 'outcome'>
  /** Resumed upstream transfers (Range: bytes=<next>- after a break). */
  resumes: Counter<'registry'>
  /** Blobs whose sha256 did not match their digest (discarded). */
  verificationFailures: Counter<'source'>
  /** Blobs that verified and became complete. */
  blobsCompleted: Counter
  /** Blobs evicted by GC, by reason. */
  evictions: Counter<'reason'>
  /** Blobs and bytes in the store by state (set on scrape). */
  storedBlobs: Gauge<'state'>
  storedBytes: Gauge<'state'>
  /** HTTP requests at the registry edge by route and status. */
  httpRequests: Counter<'route' | 'status'>
  /** Per-peer counters (issue B). */
  peerBytesIn: Counter<'peer' | 'path'>
  peerBytesOut: Counter<'peer' | 'path'>
  peerFailures: Counter<'peer' | 'reason'>
  peersConnected: Gauge
}

/** Resolution of the `layerd_nodejs_eventloop_lag_*` histogram. */
const EVENT_LOOP_SAMPLE_MS = 1000

export function createMetrics (opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry()
  // The event-loop delay histogram samples with a libuv timer; prom-client's default (10 ms) woke
  // an idle agent 100 times a second: 0.4–0.5 % of a core per agent at rest, 0.13 % without it.
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'layerd_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })
  const registers = [registry]
  return {
    registry,
    bytesServed: new Counter({ name: 'layerd_bytes_served_total', help: 'Bytes sent to registry clients', labelNames: ['kind'], registers }),
    bytesBySource: new Counter({ name: 'layerd_bytes_by_source_total', help: 'Blob bytes obtained, by source (local disk, peer, upstream)', labelNames: ['source'], registers }),
    bytesServedBySource: new Counter({ name: 'layerd_bytes_served_by_source_total', help: 'Blob bytes sent to registry clients, by where they came from (local disk, peer, upstream)', labelNames: ['source'], registers }),
    upstreamBytes: new Counter({ name: 'layerd_upstream_bytes_total', help: 'Bytes fetched from upstream registries', labelNames: ['registry'], registers }),
    upstreamRequests: new Counter({ name: 'layerd_upstream_requests_total', help: 'Upstream HTTP requests by outcome', labelNames: ['registry', 'outcome'], registers }),
    resumes: new Counter({ name: 'layerd_upstream_resumes_total', help: 'Broken upstream transfers resumed with a Range request', labelNames: ['registry'], registers }),
    verificationFailures: new Counter({ name: 'layerd_verification_failures_total', help: 'Blobs whose sha256 did not match their digest', labelNames: ['source'], registers }),
    blobsCompleted: new Counter({ name: 'layerd_blobs_completed_total', help: 'Blobs verified and marked complete', registers }),
    evictions: new Counter({ name: 'layerd_gc_evictions_total', help: 'Blobs removed by garbage collection', labelNames: ['reason'], registers }),
    storedBlobs: new Gauge({ name: 'layerd_store_blobs', help: 'Blobs in the store by state', labelNames: ['state'], registers }),
    storedBytes: new Gauge({ name: 'layerd_store_bytes', help: 'Bytes present in the store by blob state', labelNames: ['state'], registers }),
    httpRequests: new Counter({ name: 'layerd_http_requests_total', help: 'Registry API requests by route and status', labelNames: ['route', 'status'], registers }),
    peerBytesIn: new Counter({ name: 'layerd_peer_bytes_received_total', help: 'Blob bytes received from each peer, by path (data: the TLS data plane; libp2p: the range protocol, for peers without one)', labelNames: ['peer', 'path'], registers }),
    peerBytesOut: new Counter({ name: 'layerd_peer_bytes_sent_total', help: 'Blob bytes sent to each peer, by path (data, libp2p)', labelNames: ['peer', 'path'], registers }),
    peerFailures: new Counter({ name: 'layerd_peer_failures_total', help: 'Failed peer transfers by reason', labelNames: ['peer', 'reason'], registers }),
    peersConnected: new Gauge({ name: 'layerd_peers_connected', help: 'Connected layerd peers', registers })
  }
}
