// A per-registry circuit breaker. Closed: requests flow, consecutive failures are counted. After
// `threshold` consecutive failures it opens: every request fails at once with CircuitOpenError for
// `openMs`. Then it is half-open: exactly one trial request is let through; its success closes the
// breaker, its failure opens it again for another `openMs`.

import { DEFAULTS } from '../config/defaults.js'
import { CircuitOpenError } from '../errors.js'

export type BreakerState = 'closed' | 'open' | 'half-open'

export interface CircuitBreakerInit {
  /** Name used in error messages (the registry name; never a URL or credentials). */
  name: string
  /** Consecutive failures that open the breaker. Default 5. */
  threshold?: number
  /** How long the breaker stays open before allowing one trial request, in ms. Default 30 000. */
  openMs?: number
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number
}

export interface CircuitBreaker {
  readonly name: string
  /** Current state (an open breaker whose period has elapsed reports `half-open`). */
  readonly state: BreakerState
  /**
   * Ask to send one request. Throws CircuitOpenError when open, or when half-open and the single
   * trial request is already in flight. Every successful acquire must be followed by exactly one of
   * success(), failure() or release().
   */
  acquire (): void
  /** The upstream answered (any answer that proves it alive, including 404). Closes the breaker. */
  success (): void
  /** The upstream failed (connection error, timeout, 5xx, broken transfer). */
  failure (): void
  /** The request ended without telling anything about the upstream (e.g. caller abort). */
  release (): void
}

class Breaker implements CircuitBreaker {
  readonly name: string
  private readonly threshold: number
  private readonly openMs: number
  private readonly now: () => number
  private failures = 0
  private openUntil = 0
  private isOpen = false
  private trialInFlight = false

  constructor (init: CircuitBreakerInit) {
    this.name = init.name
    this.threshold = Math.max(1, init.threshold ?? DEFAULTS.upstream.breakerThreshold)
    this.openMs = Math.max(0, init.openMs ?? DEFAULTS.upstream.breakerOpenMs)
    this.now = init.now ?? Date.now
  }

  get state (): BreakerState {
    if (!this.isOpen) return 'closed'
    return this.now() >= this.openUntil ? 'half-open' : 'open'
  }

  acquire (): void {
    if (!this.isOpen) return
    const now = this.now()
    if (now < this.openUntil) {
      const retryAfterMs = this.openUntil - now
      throw new CircuitOpenError(`upstream registry ${this.name} is unavailable: circuit open after ${this.failures} consecutive failures, retry in ${Math.ceil(retryAfterMs / 1000)} s`, retryAfterMs)
    }
    if (this.trialInFlight) {
      throw new CircuitOpenError(`upstream registry ${this.name} is unavailable: circuit half-open, a trial request is in flight`, Math.min(this.openMs, 1000))
    }
    this.trialInFlight = true
  }

  success (): void {
    this.failures = 0
    this.isOpen = false
    this.trialInFlight = false
  }

  failure (): void {
    this.failures++
    if (this.isOpen) {
      // A failed trial (or a late failure while open) re-opens for a full period.
      if (this.trialInFlight || this.now() >= this.openUntil) this.openUntil = this.now() + this.openMs
      this.trialInFlight = false
      return
    }
    if (this.failures >= this.threshold) {
      this.isOpen = true
      this.openUntil = this.now() + this.openMs
    }
  }

  release (): void {
    this.trialInFlight = false
  }
}

export function createCircuitBreaker (init: CircuitBreakerInit): CircuitBreaker {
  return new Breaker(init)
}
