import { setTimeout as sleep } from 'node:timers/promises';
import { UpstreamUnavailableError } from '../../../src/errors.js';
/** A tiny in-process upstream for this module's seam: serves one blob, counts what it sends. */
export function fakeUpstream(data, opts = {}) {
    const stats = { calls: [], fetched: [], bytes: 0, failures: opts.failFirst ?? 0 };
    const chunk = opts.chunk ?? 64 * 1024;
    const up = {
        registry: (name) => ({ name, url: 'http://fake.invalid' }),
        isCredentialed: () => false,
        getManifest: async () => { throw new Error('unused'); },
        headManifest: async () => { throw new Error('unused'); },
        statBlob: async () => ({ size: data.length }),
        async fetchBlob(_r, _n, _d, o) {
            stats.calls.push({ start: o.start, end: o.end });
            if (stats.failures > 0) {
                stats.failures--;
                throw new UpstreamUnavailableError('upstream down (test)');
            }
            const end = o.end ?? data.length;
            async function* body() {
                for (let p = o.start; p < end; p += chunk) {
                    if (o.signal?.aborted === true)
                        return;
                    if (opts.delayMs !== undefined)
                        await sleep(opts.delayMs);
                    else
                        await new Promise(resolve => setImmediate(resolve));
                    const b = data.subarray(p, Math.min(end, p + chunk));
                    stats.bytes += b.length;
                    stats.fetched.push([p, p + b.length]);
                    yield b;
                }
            }
            return { size: data.length, body: body() };
        },
        pause: () => false,
        onRateLimited: () => () => { },
        close: async () => { }
    };
    return { up, stats };
}
//# sourceMappingURL=fake-upstream.js.map