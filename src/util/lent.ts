// Buffers lent along the data path and handed back once every holder is done with them.
//
// Peer pieces (sent back to the data worker), upstream chunks and chunks of complete blobs read
// from the file (back to a ChunkPool, src/util/chunk-pool.ts) are lent: the readers of a blob,
// its write-behind and the cache of shared reads each hold a view for a while, and the buffer is
// reused when the last one let go — instead of a fresh buffer per chunk, which made V8 count
// every byte as new external memory and run a full mark-compact every 64 MB. Each holder lets go
// exactly once (a second letGo would take another holder's reference).
//
// What keeps it safe: every consumer of lent bytes holds them for as long as anything may read
// them — until a socket or file write has called back, not just until the call returned (the
// write-behind, the session's readers, the registry's response writes); nothing else sees them.
// A view held and never let go only costs its recycling. A view kept WITHOUT holding it is a
// bug: native writes still in flight would send or store the next piece's bytes. (A JS read of
// such a view after the buffer went back finds it detached, empty.)

interface Loan { refs: number, back: () => void }

const loans = new WeakMap<ArrayBufferLike, Loan>()

/** Lend `buf`; the lender holds one reference (let it go with `letGo`). `back` runs at zero. */
export function lend (buf: ArrayBufferLike, back: () => void): void {
  loans.set(buf, { refs: 1, back })
}

/** Another holder of the bytes `view` points into (no-op for bytes that are not lent). */
export function hold (view: Uint8Array): void {
  const l = loans.get(view.buffer)
  if (l !== undefined) l.refs++
}

/** A holder is done with `view`'s bytes; the last one gives the buffer back. */
export function letGo (view: Uint8Array): void {
  const l = loans.get(view.buffer)
  if (l === undefined) return
  if (--l.refs === 0) {
    loans.delete(view.buffer)
    l.back()
  }
}
