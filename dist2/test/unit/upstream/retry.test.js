import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlobUnknownError, DeniedError, DigestMismatchError, TooManyRequestsError, UpstreamUnavailableError } from '../../../src/errors.js';
import { RetryableError, retryDecision } from '../../../src/upstream/retry.js';
const OPTS = { maxAttempts: 4, backoffBaseMs: 100, backoffMaxMs: 1000, retryAfterMaxMs: 5000 };
const LABEL = 'r.test: blob lib/app@sha256:x';
const http5xx = () => new RetryableError('HTTP 503', false);
const http429 = (retryAfterMs) => new RetryableError('HTTP 429', true, retryAfterMs);
test('retry: a retryable failure waits a full-jitter delay within base * 2^(n-1), capped by backoffMaxMs', () => {
    const rows = [
        { failures: 1, random: 0.5, delayMs: 50 }, // ceiling 100
        { failures: 2, random: 0.5, delayMs: 100 }, // ceiling 200
        { failures: 3, random: 0.75, delayMs: 300 }, // ceiling 400
        { failures: 3, random: 0, delayMs: 0 } // full jitter: may be no wait at all
    ];
    for (const { failures, random, delayMs } of rows) {
        const d = retryDecision(http5xx(), failures, { ...OPTS, random: () => random }, LABEL);
        assert.deepEqual(d, { retry: true, delayMs }, `failures ${failures}, random ${random}`);
    }
    const big = { ...OPTS, maxAttempts: 100 };
    for (let failures = 1; failures < 20; failures++) {
        const d = retryDecision(http5xx(), failures, { ...big, random: () => 0.999999 }, LABEL);
        assert.equal(d.retry, true);
        assert.ok(d.retry && d.delayMs <= Math.min(1000, 100 * 2 ** (failures - 1)), `failures ${failures}`);
    }
    // Without an injected random the delay still stays under the ceiling.
    for (let i = 0; i < 50; i++) {
        const d = retryDecision(http5xx(), 2, OPTS, LABEL);
        assert.ok(d.retry && d.delayMs >= 0 && d.delayMs <= 200);
    }
});
test('retry: Retry-After replaces the backoff, capped by retryAfterMaxMs', () => {
    const rows = [
        { err: http429(2000), delayMs: 2000 },
        { err: http429(60_000), delayMs: 5000 },
        { err: http429(0), delayMs: 0 },
        { err: new RetryableError('HTTP 503', false, 3000), delayMs: 3000 } // a 503 may send it too
    ];
    for (const { err, delayMs } of rows) {
        assert.deepEqual(retryDecision(err, 1, { ...OPTS, random: () => 0.5 }, LABEL), { retry: true, delayMs });
    }
    // A 429 without Retry-After backs off like any failure.
    assert.deepEqual(retryDecision(http429(), 2, { ...OPTS, random: () => 0.5 }, LABEL), { retry: true, delayMs: 100 });
});
test('retry: out of attempts → TooManyRequestsError after a 429, UpstreamUnavailableError otherwise', () => {
    const rows = [
        { err: http429(1000), failures: 4, type: TooManyRequestsError, message: `${LABEL}: rate limited (HTTP 429) after 4 attempts` },
        { err: http5xx(), failures: 4, type: UpstreamUnavailableError, message: `${LABEL} failed after 4 attempts: HTTP 503` },
        { err: new RetryableError('GET http://h/v2/x failed: connect ECONNREFUSED', false), failures: 5, type: UpstreamUnavailableError, message: `${LABEL} failed after 5 attempts: GET http://h/v2/x failed: connect ECONNREFUSED` }
    ];
    for (const { err, failures, type, message } of rows) {
        const d = retryDecision(err, failures, OPTS, LABEL);
        assert.equal(d.retry, false);
        assert.ok(!d.retry && d.error instanceof type, message);
        assert.equal(d.error.message, message);
        assert.equal(d.error.cause, err);
    }
    // maxAttempts 1: the first failure is final.
    assert.equal(retryDecision(http5xx(), 1, { ...OPTS, maxAttempts: 1 }, LABEL).retry, false);
});
test('retry: anything but a RetryableError is an answer: no retry, the same error', () => {
    const errors = [
        new BlobUnknownError('r.test: blob x is unknown'),
        new DeniedError('r.test: access denied (HTTP 403)'),
        new DigestMismatchError('r.test: manifest x has digest y', 'sha256:a', 'sha256:b'),
        new UpstreamUnavailableError('already final'),
        new Error('a bug'),
        'not even an Error'
    ];
    for (const err of errors) {
        for (const failures of [1, 10]) {
            const d = retryDecision(err, failures, OPTS, LABEL);
            assert.equal(d.retry, false);
            assert.ok(!d.retry && d.error === err);
        }
    }
});
//# sourceMappingURL=retry.test.js.map