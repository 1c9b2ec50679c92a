// Temporary: the old one-object facade over the new PeerNetwork, for src/session until its
// rewrite uses PeerSources (router, transfers, health). Delete with LegacyPeerNetwork.

import type { LegacyPeerNetwork, PeerNetwork } from './types.js'

/** @deprecated Use the PeerNetwork's router, transfers and health. */
export function legacyView (net: PeerNetwork): LegacyPeerNetwork {
  return {
    get peerId () { return net.peerId },
    holders: digest => net.router.holders(digest),
    onHoldersChange: listener => net.router.onChange(listener),
    fetchRange: (peerId, digest, start, end, signal) => net.transfers.fetchRange(peerId, digest, start, end, signal),
    fetchPieceHashes: async (peerId, digest, signal) => await net.transfers.fetchPieceHashes(peerId, digest, signal),
    ban: (peerId, ms, reason) => { net.health.ban(peerId, ms, reason) },
    peers: () => net.peers(),
    start: async () => { await net.start() },
    stop: async () => { await net.stop() }
  }
}
