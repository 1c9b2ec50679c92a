// Peer transfers of the whole agent, over all blobs: each holds up to three 4 MiB pieces in
// memory (one arriving in the data worker, two handed over), so their number bounds the agent's
// memory when a client asks for every layer of an image at once. A transfer holds a slot until
// its bytes have all arrived; a freed slot wakes the sessions that may have waited for one.

export class PeerSlots {
  private used = 0

  /** @param onFreed - called after a slot was given back (the manager re-plans its sessions). */
  constructor (private readonly max: number, private readonly onFreed: () => void = () => {}) {}

  /** Slots not taken now. */
  free (): number { return Math.max(0, this.max - this.used) }

  /** Take a slot; the returned function gives it back once (true the first time). */
  take (): () => boolean {
    this.used++
    let held = true
    return () => {
      if (!held) return false
      held = false
      this.used--
      return true
    }
  }

  /** Tell the other sessions a slot is free. */
  freed (): void { this.onFreed() }
}
