// The seams between the libp2p side (src/p2p) and the rest of the agent.
// The agent hands p2p a LocalBlobs (what we hold, read access). p2p hands fetch sessions the
// PeerSources: a ContentRouter (who holds what), PeerTransfers (bytes from a peer) and the
// PeerHealth that remembers how each peer behaved.
export { PIECE_SIZE } from '../util/pieces.js';
//# sourceMappingURL=types.js.map