// The content-routing seam: who holds which bytes of a blob. Fetch sessions and the session
// manager ask a ContentRouter, never the peer network itself. The inventory mesh
// (src/p2p/mesh-router.ts) is the first implementation; MemoryRouter (./memory.ts) serves tests.
/** The holder with `peerId` as a Holder (a Holding without the digest). */
export function holderOf(peerId, h) {
    return { peerId, size: h.size, complete: h.complete, ranges: h.ranges.map(([s, e]) => [s, e]), fetching: h.fetching, claimed: (h.claimed ?? []).map(([s, e]) => [s, e]) };
}
//# sourceMappingURL=router.js.map