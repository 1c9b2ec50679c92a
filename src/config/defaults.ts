// Every default of layerd, once. The zod schema (config/schema.ts) and each module's XxxInit
// fallbacks both read from here, so a default cannot disagree with itself; config/layerd.yaml
// documents the user-facing ones (test/unit/config checks the file against the schema).

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB
const SECOND = 1000
const MINUTE = 60 * SECOND

export const DEFAULTS = {
  listen: '127.0.0.1:5050',
  defaultRegistry: 'docker.io',
  logLevel: 'info',
  /** `auto`: readable lines on a terminal, JSON lines otherwise. */
  logFormat: 'auto',
  store: {
    maxBytes: 50 * GiB,
    partialTtlMs: 24 * 60 * MINUTE,
    gcIntervalMs: 10 * MINUTE,
    /** Checkpoint (fdatasync, then index) after this many new bytes of a blob... */
    syncBytes: 4 * MiB,
    /** ...or after this long with unsynced bytes. */
    syncIntervalMs: SECOND,
    /** Keep a released blob's file open this long: clients often ask again at once. */
    keepOpenMs: 5 * SECOND
  },
  fetch: {
    maxUpstreamStreams: 4,
    segmentBytes: 32 * MiB,
    detachedTimeoutMs: 10 * MINUTE,
    /** Bytes held back from a reader at the end of a blob until its sha256 verified. */
    tailHoldBytes: 64 * KiB,
    maxPeerTransfers: 6,
    /** Peer transfers of the whole agent at once, over all blobs (memory: src/session/peer-slots.ts). */
    maxPeerTransfersTotal: 8,
    perPeerTransfers: 2,
    peerStallMs: 5 * SECOND,
    ownerStallMs: 15 * SECOND,
    banMs: 10 * MINUTE,
    /** A peer that answered BUSY is asked again after this long. */
    busyRetryMs: 250,
    /** How often a session waiting on neighbours plans again. */
    replanMs: 300,
    /**
     * With neighbours around, a cold blob starts with a request this long (see FetchSession.lead).
     * Agents that start a blob in the same moment each fetch it (docs/COALESCING.md): eight
     * pulling one image's five layers by blob URL (bench fig 12) sent 1.03-1.05x the image
     * upstream with 256 KiB. Its only other use is the time it gives agents to hear of each
     * other: a LAN round trip, well inside even 128 KiB on an office link.
     */
    leadBytes: 128 * KiB,
    /** A cold blob of at most one piece (size known) is fetched in one request: dividing it gains nothing. */
    smallBlobBytes: 4 * MiB,
    peerQuarantineMs: 10 * MINUTE
  },
  upstream: {
    connectTimeoutMs: 10 * SECOND,
    headersTimeoutMs: 30 * SECOND,
    noProgressTimeoutMs: 30 * SECOND,
    maxAttempts: 6,
    backoffBaseMs: 250,
    backoffMaxMs: 10 * SECOND,
    breakerThreshold: 5,
    breakerOpenMs: 30 * SECOND,
    maxRedirects: 5,
    maxManifestBytes: 4 * MiB,
    userAgent: 'layerd/0.1',
    tokenExpiryMarginMs: 10 * SECOND,
    keepAliveTimeoutMs: 30 * SECOND,
    /** Cap on upstream blob bytes per second for the whole agent (0 = none). */
    bytesPerSecond: 0
  },
  preheat: {
    /** Blobs of one `layerd pull` fetched at a time (each session runs its own parallel transfers). */
    concurrentBlobs: 3,
    /** A finished pull job stays visible this long... */
    keepJobsMs: 10 * MINUTE,
    /** ...and at most this many jobs are kept. */
    maxJobs: 64,
    /** How often `layerd pull` asks the agent for progress. */
    pollMs: 250
  },
  status: {
    /** How often the status page polls /_layerd/status. */
    pagePollMs: SECOND,
    /** The page's chart: the served-bytes counters sampled this often in the agent... */
    sampleMs: 2 * SECOND,
    /** ...and this many samples kept (5 minutes). */
    samples: 150,
    /** The page lists this many most recently used blobs... */
    recentBlobs: 30,
    /** ...and asks for them again this often (listing walks the index). */
    blobsPollMs: 5 * SECOND
  },
  p2p: {
    listen: ['/ip4/0.0.0.0/tcp/4050'],
    mdns: true,
    /** About one mDNS query per interval on a segment (src/p2p/mdns.ts); agents also ask at start. */
    mdnsIntervalMs: MINUTE,
    serviceTag: 'layerd',
    /** Bulk bytes between agents over HTTPS with a pre-shared key (src/p2p/data/). */
    dataPlane: true,
    maxUploadsPerPeer: 4,
    maxUploadsTotal: 8,
    uploadBytesPerSecond: 0,
    inventoryThrottleMs: 250,
    maxFrameBytes: MiB,
    requestTimeoutMs: 30 * SECOND,
    redialMinMs: SECOND,
    redialMaxMs: 30 * SECOND,
    maxInventoryEntries: 100_000,
    /** Content routing across subnets on kad-dht (src/p2p/dht-router.ts). */
    dht: true,
    /**
     * Neighbours that get our whole inventory pushed (the mesh); the DHT reaches the rest. A
     * segment of up to 33 agents is a full mesh: cheaper than the DHT there (one message per
     * change to each, vs a query and K messages per blob provided).
     */
    maxMeshPeers: 32,
    dhtLookupTimeoutMs: SECOND,
    dhtDialTimeoutMs: SECOND,
    dhtMaxProviders: 16,
    /** K of the office DHT: how many agents keep each provider record (8 missed holders in a young 100-agent office). */
    dhtKBucketSize: 20,
    /** Provider records live this long on the agents that keep them, and are republished before. */
    dhtRecordTtlMs: 60 * MINUTE,
    dhtReprovideMs: 20 * MINUTE
  },
  /** Where `layerd setup` writes each client's configuration (the clients' own default paths). */
  setup: {
    containerdHostsDir: '/etc/containerd/certs.d',
    dockerDaemonJson: '/etc/docker/daemon.json',
    podmanRegistriesConf: '/etc/containers/registries.conf'
  }
} as const
