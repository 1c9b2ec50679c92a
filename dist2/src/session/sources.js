// Where a blob's bytes came from, as people are told (status, `layerd pull`, the page): the local
// disk, peers, upstream, or a mix of them.
export const SOURCES = ['local', 'peer', 'upstream'];
/** The one source all the bytes came from, `mixed`, or undefined while there are none. */
export function sourceOf(b) {
    const used = SOURCES.filter(s => b[s] > 0);
    return used.length === 0 ? undefined : used.length === 1 ? used[0] : 'mixed';
}
/**
 * Split `n` bytes sent to a client in the proportions `b` (a blob's bytes by source): a client
 * reading a blob through its session gets bytes that arrived from several places, and which byte
 * came from where is not tracked. Exact when one source delivered everything. Rounded so the
 * parts add up to `n`.
 */
export function apportion(b, n) {
    const total = b.local + b.peer + b.upstream;
    if (total <= 0)
        return { local: n, peer: 0, upstream: 0 };
    const peer = Math.round(n * b.peer / total);
    const upstream = Math.min(n - peer, Math.round(n * b.upstream / total));
    return { local: n - peer - upstream, peer, upstream };
}
//# sourceMappingURL=sources.js.map