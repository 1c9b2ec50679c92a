// Numbers for people: sizes in binary units (the same spelling the config takes: 50 GiB), rates,
// durations, short digests.
import bytes from 'bytes';
/** `0 B`, `1.5 KiB`, `50 GiB` (the bytes package counts in 1024s but spells them KB, MB). */
export function formatSize(n) {
    return (bytes.format(n, { unitSeparator: ' ', decimalPlaces: n >= 1024 * 1024 ? 1 : 2 }) ?? `${n} B`).replace(/([KMGTP])B$/, '$1iB');
}
export function formatRate(bytesPerSecond) { return `${formatSize(Math.round(bytesPerSecond))}/s`; }
/** `850 ms`, `2.1 s`, `3 min 20 s`, `2 h 5 min`. */
export function formatDuration(ms) {
    if (ms < 1000)
        return `${Math.round(ms)} ms`;
    if (ms < 60_000)
        return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
    const m = Math.floor(ms / 60_000);
    if (m < 60)
        return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
}
/** `sha256:0123456789ab` (the first 12 hex digits, as docker shows layers). */
export function shortDigest(digest) {
    return digest.startsWith('sha256:') ? digest.slice(0, 'sha256:'.length + 12) : digest;
}
/** `a` as a share of `b`, `37.5%`. */
export function percent(a, b) {
    return b > 0 ? `${(Math.min(1, a / b) * 100).toFixed(a >= b ? 0 : 1)}%` : '0%';
}
//# sourceMappingURL=format.js.map