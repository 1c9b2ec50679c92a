// The running transfers of one fetch session, as the byte ranges they claim: what the session
// tells neighbours it fetches upstream, and where a new transfer must stop.

import type { Claim } from './transfers.js'

export class Claims extends Set<Claim> {
  /** Byte ranges being fetched from upstream right now (advertised to neighbours as `claimed`), sorted. */
  upstream (): Array<[number, number]> {
    const out: Array<[number, number]> = []
    for (const c of this) if (c.source === 'upstream' && c.end > c.pos) out.push([c.pos, c.end])
    return out.sort((a, b) => a[0] - b[0])
  }

  /** Whether a running transfer will deliver the byte at `pos`. */
  covers (pos: number): boolean {
    for (const c of this) if (c.pos <= pos && pos < c.end) return true
    return false
  }

  /** The first claim start after `pos`, or `bound` if none comes before it. */
  nextStart (pos: number, bound: number): number {
    let b = bound
    for (const c of this) if (c.pos > pos && c.pos < b) b = c.pos
    return b
  }
}
