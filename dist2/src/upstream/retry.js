// The retry policy of the upstream client, as one pure decision (in the style of undici's retry
// handler: given the error and the attempt count, retry after a delay or stop with the final
// error), and the loop that runs attempts through a registry's circuit breaker with it.
//
// Only RetryableError is retried: connection errors, timeouts, 5xx, 429 and broken bodies. Every
// other error is an answer (404, 403, a digest mismatch...) and is passed through as it is.
import { AbortedError, TooManyRequestsError, UpstreamUnavailableError } from '../errors.js';
import { sleep } from '../util/sleep.js';
/** A failure worth another attempt (connection error, timeout, 5xx, 429, broken body). */
export class RetryableError extends Error {
    rateLimited;
    retryAfterMs;
    constructor(message, rateLimited, retryAfterMs, options) {
        super(message, options);
        this.rateLimited = rateLimited;
        this.retryAfterMs = retryAfterMs;
        this.name = 'RetryableError';
    }
}
/**
 * What to do after `failures` failed attempts, the last one failing with `err`. `label` prefixes
 * the final error's message (`registry: what`). Pure but for `opts.random`.
 */
export function retryDecision(err, failures, opts, label) {
    if (!(err instanceof RetryableError))
        return { retry: false, error: err };
    if (failures >= opts.maxAttempts) {
        const error = err.rateLimited
            ? new TooManyRequestsError(`${label}: rate limited (HTTP 429) after ${failures} attempts`, { cause: err })
            : new UpstreamUnavailableError(`${label} failed after ${failures} attempts: ${err.message}`, { cause: err });
        return { retry: false, error };
    }
    if (err.retryAfterMs !== undefined)
        return { retry: true, delayMs: Math.min(err.retryAfterMs, opts.retryAfterMaxMs) };
    const ceiling = Math.min(opts.backoffMaxMs, opts.backoffBaseMs * 2 ** Math.max(0, failures - 1));
    return { retry: true, delayMs: (opts.random ?? Math.random)() * ceiling };
}
/**
 * Run one attempt after another through the registry's breaker until one succeeds, fails for
 * good, or the decision gives up. The breaker hears of every attempt: a failure for a retryable
 * error, a success for any answer (even an error status: the registry is alive), and a release
 * (neither) when we were aborted, which says nothing about the registry.
 */
export async function withRetry(deps, reg, what, signal, budget, fn) {
    const name = reg.def.name;
    for (;;) {
        deps.checkOpen(signal);
        // Rate-limited (by its answer to us or to a neighbour): wait as a Retry-After would, or give
        // up at once when that is longer than we ever wait (the office may then serve from peers).
        const pause = reg.pausedUntil - Date.now();
        if (pause > 0) {
            if (pause > deps.retry.retryAfterMaxMs)
                throw new TooManyRequestsError(`${name}: ${what}: rate limited for another ${Math.ceil(pause / 1000)} s`);
            await sleep(pause, signal, () => new AbortedError(`${what} from ${name} aborted`));
        }
        try {
            reg.breaker.acquire();
        }
        catch (err) {
            deps.count(reg, 'circuit_open');
            throw err;
        }
        let result;
        try {
            result = await fn();
        }
        catch (err) {
            if (err instanceof RetryableError) {
                reg.breaker.failure();
                budget.failures++;
                if (err.rateLimited && err.retryAfterMs !== undefined) {
                    reg.pausedUntil = Math.max(reg.pausedUntil, Date.now() + err.retryAfterMs);
                    deps.rateLimited?.(name, reg.pausedUntil);
                }
                const decision = retryDecision(err, budget.failures, deps.retry, `${name}: ${what}`);
                if (!decision.retry)
                    throw decision.error;
                deps.log.warn({ registry: name, what, attempt: budget.failures, delayMs: Math.round(decision.delayMs), reason: err.message }, 'upstream request failed, retrying');
                await sleep(decision.delayMs, signal, () => new AbortedError(`${what} from ${name} aborted`));
                continue;
            }
            if (err instanceof AbortedError || signal?.aborted === true || deps.closed()) {
                reg.breaker.release();
                throw err instanceof AbortedError ? err : new AbortedError(`${what} from ${name} aborted`, { cause: err });
            }
            reg.breaker.success(); // it answered: alive, even if the answer is an error
            throw err;
        }
        reg.breaker.success();
        return result;
    }
}
//# sourceMappingURL=retry.js.map