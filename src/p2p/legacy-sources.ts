// Temporary bridge while the p2p split lands: the old network facade seen as PeerSources.
import type { Holder } from '../routing/router.js'
import { PeerHealth } from './peer-health.js'
import type { LegacyPeerNetwork, PeerSources } from './types.js'

export function legacySources (net: LegacyPeerNetwork): PeerSources {
  const health = new PeerHealth()
  health.onChange((ev) => { if (ev.type === 'banned') net.ban(ev.peerId, Math.max(0, (health.bannedUntil(ev.peerId) ?? Date.now()) - Date.now()), 'bad piece') })
  const holders = (d: string): Holder[] => net.holders(d)
  return {
    get peerId () { return net.peerId },
    router: { lookup: async (d) => holders(d), holders, advertise: () => {}, withdraw: () => {}, onChange: (fn) => net.onHoldersChange(fn) },
    transfers: net,
    health,
    neighbours: () => net.peers().length
  }
}
