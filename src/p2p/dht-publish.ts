// Our provider records in the office DHT: one per blob we hold or fetch, and one per other key
// (tags we resolved). Published only while records are needed (see PeerNetwork), counted as
// published once enough peers acknowledged an ADD_PROVIDER, and tried again — when a peer
// connects, and after a growing pause — when a provide reached too few. kad-dht republishes
// what got out.

import type { KadDHT } from '@libp2p/kad-dht'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { createHash } from 'node:crypto'
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Tasks } from '../util/tasks.js'

const RAW = 0x55
const SHA2_256 = 0x12
/** Provides that reached nobody are tried again this long after a peer connects (batching a burst of connections). */
const PROVIDE_RETRY_MS = 2000
/** ...and, with no new connection, again after a growing pause up to this. */
const PROVIDE_RETRY_MAX_MS = 60_000
/**
 * A record counts as published once this many peers (or every peer we know, if fewer) stored
 * it. A provide sends the record to the closest peers its query found; in a young or loaded
 * office that query can end early, and a record held by one or two peers far from the key is
 * missed by lookups that converge elsewhere (seen in the 100-agent test: records on 3 of 100
 * agents, ranks 1, 30 and 75 from the key).
 */
const MIN_ACKS = 3

/** The DHT key of a blob: a CIDv1 (raw) whose multihash is the blob's own sha256. */
export function blobKey (digest: string): CID {
  return CID.createV1(RAW, Digest.create(SHA2_256, Buffer.from(digest.slice('sha256:'.length), 'hex')))
}

/** The DHT key under which agents that resolved a tag provide it (offline tag resolution). */
export function tagKey (registry: string, repository: string, tag: string): CID {
  return CID.createV1(RAW, Digest.create(SHA2_256, createHash('sha256').update(`layerd-tag\n${registry}/${repository}:${tag}`).digest()))
}

export interface PublisherDeps {
  dht: () => KadDHT
  tasks: Tasks
  logger: Logger
  signal: AbortSignal
  /** Whether anyone needs our records now. */
  needed: () => boolean
  /** The digests we advertise. */
  mine: () => ReadonlyMap<string, unknown>
  /** Peers in our DHT routing table (a small office cannot give MIN_ACKS). */
  peers: () => number
}

export class Publisher {
  private readonly provided = new Set<string>()
  private readonly providing = new Set<string>()
  /** Keys other than blobs (tags) whose provide waits for `needed`. */
  private readonly pendingKeys = new Map<string, CID>()
  private retryTimer?: NodeJS.Timeout
  /** Until the next try of provides that reached no one; doubles up to PROVIDE_RETRY_MAX_MS. */
  private retryDelay = PROVIDE_RETRY_MS
  private running = false

  constructor (private readonly d: PublisherDeps) {}

  start (): void {
    this.running = true
    this.waiting()
  }

  stop (): void {
    this.running = false
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
  }

  /** A peer connected: what reached no one so far may reach it. */
  connected (): void {
    this.retryDelay = PROVIDE_RETRY_MS
    this.scheduleRetry()
  }

  /** Whether records are needed may have changed: publish what waited, now. */
  refresh (): void { this.waiting() }

  /** Our provider record of `digest` reached the DHT. */
  has (digest: string): boolean { return this.provided.has(digest) }

  /** We hold or fetch `digest` now. */
  blob (digest: string): void {
    if (this.running && !this.provided.has(digest) && !this.providing.has(digest) && this.d.needed()) this.provideBlob(digest)
  }

  /** We no longer hold `digest`: stop republishing it. */
  withdrawn (digest: string): void {
    this.provided.delete(digest)
    if (this.running) void this.d.dht().cancelReprovide(blobKey(digest)).catch(() => {})
  }

  /** Publish a provider record for any key (e.g. a tag this agent resolved). */
  key (key: CID): void {
    if (!this.running) return
    if (!this.d.needed()) { this.pendingKeys.set(key.toString(), key); return }
    this.pendingKeys.delete(key.toString())
    this.d.tasks.track((async () => {
      try { for await (const ev of this.d.dht().provide(key, { signal: this.d.signal })) void ev } catch {}
    })())
  }

  /**
   * Try again, a moment from now, the provides that have not reached the DHT (a peer connected,
   * or a provide reached no one: under load every peer it asked can time out).
   */
  private scheduleRetry (): void {
    if (!this.running || this.retryTimer !== undefined || (this.d.mine().size === this.provided.size && this.pendingKeys.size === 0)) return
    this.retryTimer = setTimeout(() => { this.retryTimer = undefined; this.waiting() }, this.retryDelay)
    this.retryTimer.unref()
    this.retryDelay = Math.min(this.retryDelay * 2, PROVIDE_RETRY_MAX_MS)
  }

  /** Publish what has not reached the DHT yet, if anyone needs it now. */
  private waiting (): void {
    if (!this.running || !this.d.needed()) return
    for (const digest of this.d.mine().keys()) if (!this.provided.has(digest) && !this.providing.has(digest)) this.provideBlob(digest)
    for (const key of this.pendingKeys.values()) this.key(key)
  }

  private provideBlob (digest: string): void {
    this.providing.add(digest)
    this.d.tasks.track((async () => {
      let acks = 0
      try {
        for await (const ev of this.d.dht().provide(blobKey(digest), { signal: this.d.signal })) {
          // An acknowledged ADD_PROVIDER, not merely a hop of the query that finds where to put it.
          if (ev.name === 'PEER_RESPONSE' && String((ev as { messageType?: unknown }).messageType) === 'ADD_PROVIDER') acks++
        }
      } catch (err) {
        this.d.logger.debug({ digest, err: errorMessage(err) }, 'provide failed (tried again)')
      } finally {
        this.providing.delete(digest)
        const reached = acks > 0 && acks >= Math.min(MIN_ACKS, this.d.peers())
        if (!reached && acks > 0) this.d.logger.debug({ digest, acks }, 'provider record reached too few peers (tried again)')
        if (reached && this.d.mine().has(digest)) this.provided.add(digest)
        else if (this.d.mine().has(digest)) this.scheduleRetry()
      }
    })())
  }
}
