import { DEFAULTS } from '../config/defaults.js';
/** The options of a session, every default from DEFAULTS.fetch. */
export function resolveSessionOptions(i) {
    const d = DEFAULTS.fetch;
    return {
        maxUpstreamStreams: i.maxUpstreamStreams ?? d.maxUpstreamStreams,
        segmentBytes: i.segmentBytes ?? d.segmentBytes,
        detachedTimeoutMs: i.detachedTimeoutMs ?? d.detachedTimeoutMs,
        tailHoldBytes: i.tailHoldBytes ?? d.tailHoldBytes,
        maxPeerTransfers: i.maxPeerTransfers ?? d.maxPeerTransfers,
        perPeerTransfers: i.perPeerTransfers ?? d.perPeerTransfers,
        peerStallMs: i.peerStallMs ?? d.peerStallMs,
        ownerStallMs: i.ownerStallMs ?? d.ownerStallMs,
        banMs: i.banMs ?? d.banMs
    };
}
//# sourceMappingURL=options.js.map