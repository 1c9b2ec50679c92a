import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
export function createMetrics(opts = {}) {
    const registry = new Registry();
    if (opts.defaultMetrics !== false)
        collectDefaultMetrics({ register: registry, prefix: 'layerd_' });
    const registers = [registry];
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
        peerBytesIn: new Counter({ name: 'layerd_peer_bytes_received_total', help: 'Blob bytes received from each peer', labelNames: ['peer'], registers }),
        peerBytesOut: new Counter({ name: 'layerd_peer_bytes_sent_total', help: 'Blob bytes sent to each peer', labelNames: ['peer'], registers }),
        peerFailures: new Counter({ name: 'layerd_peer_failures_total', help: 'Failed peer transfers by reason', labelNames: ['peer', 'reason'], registers }),
        peersConnected: new Gauge({ name: 'layerd_peers_connected', help: 'Connected layerd peers', registers })
    };
}
//# sourceMappingURL=metrics.js.map