import bytes from 'bytes';
import ms from 'ms';
import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
// Every option and its type; the defaults come from config/defaults.ts. config/layerd.yaml documents the same
// options for users; test/unit/config checks that the two agree.
/** A size: a number of bytes or a string such as "50GiB", "8MiB". */
const size = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'number')
        return v;
    const n = bytes.parse(v.replace(/([KMGTP])iB$/i, '$1B'));
    if (n === null || !Number.isFinite(n) || n < 0) {
        ctx.addIssue({ code: 'custom', message: `expected a size such as 8MiB or 50GiB, got ${JSON.stringify(v)}` });
        return z.NEVER;
    }
    return n;
});
/** A duration: milliseconds, or a string such as "30s", "10m", "24h". */
const duration = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'number')
        return v;
    const n = ms(v);
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 30s, 10m or 24h, got ${JSON.stringify(v)}` });
        return z.NEVER;
    }
    return n;
});
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:5050');
const registryName = z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'expected a registry host name such as docker.io or registry.example.com:5000');
const upstreamEntry = z.object({
    /** Base URL; its scheme decides TLS. */
    url: z.string().url().refine(u => /^https?:\/\//.test(u), 'must be an http:// or https:// URL'),
    /** Credentials: a user name and a file that holds the password (never the password itself). */
    username: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    /** Share blobs fetched with credentials with peers anyway (default false). */
    shareable: z.boolean().default(false),
    /** PEM CA bundle trusted (besides the system CAs) for this registry, its token realm and its redirects. */
    caFile: z.string().min(1).optional()
}).strict().refine(u => (u.username === undefined) === (u.passwordFile === undefined), 'username and passwordFile go together');
export const configSchema = z.object({
    /** Registry API and /metrics listener. */
    listen: hostPort.default(DEFAULTS.listen),
    /** Where blobs and the index live. Default: the per-user data directory (see cli). */
    dataDir: z.string().min(1).optional(),
    /** Registry used for requests without ?ns= (Docker sends none). */
    defaultRegistry: registryName.default(DEFAULTS.defaultRegistry),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(DEFAULTS.logLevel),
    /** auto: readable lines when stdout is a terminal, JSON lines otherwise; json; pretty. */
    logFormat: z.enum(['auto', 'json', 'pretty']).default(DEFAULTS.logFormat),
    /** Upstream registries by host name. docker.io is always there unless overridden. */
    upstreams: z.record(registryName, upstreamEntry).default({}),
    store: z.object({
        /** Disk quota for blob data; least recently used complete blobs are evicted above it. */
        maxBytes: size.default(DEFAULTS.store.maxBytes),
        /** Partial blobs nobody touched for this long are removed. */
        partialTtl: duration.default(DEFAULTS.store.partialTtlMs),
        /** How often the agent runs GC (0 = never). */
        gcInterval: duration.default(DEFAULTS.store.gcIntervalMs),
        /** Digests kept regardless of quota and TTL. */
        pinned: z.array(z.string().regex(/^sha256:[a-f0-9]{64}$/, 'expected sha256:<64 hex>')).default([]),
        /** Make bytes durable and record them in the index every this many bytes (or every second). */
        syncBytes: size.default(DEFAULTS.store.syncBytes)
    }).strict().prefault({}),
    fetch: z.object({
        /** Parallel upstream transfers for one blob (clients that fetch in chunks get them). */
        maxUpstreamStreams: z.number().int().min(1).max(32).default(DEFAULTS.fetch.maxUpstreamStreams),
        /** Upstream requests ask for at most this much (a closed Range); a client waiting beyond gets its own request. */
        segmentBytes: size.default(DEFAULTS.fetch.segmentBytes),
        /** Keep downloading a blob with no client attached for at most this long. */
        detachedTimeout: duration.default(DEFAULTS.fetch.detachedTimeoutMs)
    }).strict().prefault({}),
    upstream: z.object({
        connectTimeout: duration.default(DEFAULTS.upstream.connectTimeoutMs),
        headersTimeout: duration.default(DEFAULTS.upstream.headersTimeoutMs),
        /** A transfer with no new byte for this long is resumed on a new connection. */
        noProgressTimeout: duration.default(DEFAULTS.upstream.noProgressTimeoutMs),
        /** Attempts per request (first try included). */
        maxAttempts: z.number().int().min(1).max(100).default(DEFAULTS.upstream.maxAttempts),
        backoffBase: duration.default(DEFAULTS.upstream.backoffBaseMs),
        backoffMax: duration.default(DEFAULTS.upstream.backoffMaxMs),
        /** Consecutive failures that open a registry's circuit breaker... */
        breakerThreshold: z.number().int().min(1).default(DEFAULTS.upstream.breakerThreshold),
        /** ...and how long it stays open before one trial request. */
        breakerOpen: duration.default(DEFAULTS.upstream.breakerOpenMs),
        /** Proxy for every upstream request; wins over HTTPS_PROXY / HTTP_PROXY. The URL may carry user:password. */
        proxy: z.string().min(1).optional(),
        /** Hosts that bypass the proxy; wins over NO_PROXY. */
        noProxy: z.array(z.string().min(1)).optional(),
        /** Cap on upstream blob bytes per second for the whole agent (0 = none). */
        rate: size.default(DEFAULTS.upstream.bytesPerSecond)
    }).strict().prefault({}),
    p2p: z.object({
        /** Switch the peer network off entirely. */
        enabled: z.boolean().default(true),
        /** libp2p listen multiaddrs. */
        listen: z.array(z.string().startsWith('/')).default([...DEFAULTS.p2p.listen]),
        /** Static peers (multiaddrs) for networks without multicast. */
        peers: z.array(z.string().startsWith('/')).default([]),
        /** Find peers on the LAN with mDNS. */
        mdns: z.boolean().default(DEFAULTS.p2p.mdns),
        mdnsInterval: duration.default(DEFAULTS.p2p.mdnsIntervalMs),
        /** File holding the office secret (`layerd secret` makes one). Without it, any layerd may join. */
        secretFile: z.string().min(1).optional(),
        /** Above the 2 transfers a fetching agent runs per peer, so a new request never races the release of the last one. */
        maxUploadsPerPeer: z.number().int().min(1).default(DEFAULTS.p2p.maxUploadsPerPeer),
        maxUploadsTotal: z.number().int().min(1).default(DEFAULTS.p2p.maxUploadsTotal),
        /** Upload cap to peers in bytes per second (0 = unlimited). */
        uploadRate: size.default(DEFAULTS.p2p.uploadBytesPerSecond),
        /** Bulk bytes between agents over the data plane (HTTPS, TLS 1.3 with a key from the office secret). */
        dataPlane: z.boolean().default(DEFAULTS.p2p.dataPlane),
        /** Data plane TCP port. Default: the libp2p port + 1 (4051). */
        dataPort: z.number().int().min(0).max(65535).optional(),
        /** Content routing across subnets on kad-dht; the static peers are its bootstrap. */
        dht: z.boolean().default(DEFAULTS.p2p.dht),
        /** Neighbours that get our whole inventory pushed; the DHT reaches everyone else. */
        maxMeshPeers: z.number().int().min(0).default(DEFAULTS.p2p.maxMeshPeers),
        /** How long a DHT lookup, and a provider's answer, may take before the next source. */
        dhtLookupTimeout: duration.default(DEFAULTS.p2p.dhtLookupTimeoutMs),
        dhtDialTimeout: duration.default(DEFAULTS.p2p.dhtDialTimeoutMs),
        /** How many agents keep each provider record. */
        dhtKBucketSize: z.number().int().min(2).max(64).default(DEFAULTS.p2p.dhtKBucketSize),
        /** Provider records expire after this (an agent that left is forgotten), and are republished every dhtReprovide. */
        dhtRecordTtl: duration.default(DEFAULTS.p2p.dhtRecordTtlMs),
        dhtReprovide: duration.default(DEFAULTS.p2p.dhtReprovideMs)
    }).strict().prefault({})
}).strict();
//# sourceMappingURL=schema.js.map