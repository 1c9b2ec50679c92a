// Debian's `chromium` in headless mode as the browser of the status page tests: the DOM after the
// page's scripts ran (--dump-dom) and screenshots. Virtual time (--virtual-time-budget) lets the
// page's timers run for that long before the dump. Chromium resolves no host name but loopback
// and its background services are off: it sends nothing off this machine.
import { makeTempDir, removeTempDir, run, NO_EGRESS_ENV, haveCommand } from './proc.js';
export const HAVE_CHROMIUM = haveCommand('chromium');
async function chromium(url, action, opts) {
    const profile = makeTempDir('chromium');
    try {
        const r = await run('chromium', [
            '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--no-first-run', '--disable-extensions', '--no-default-browser-check', `--user-data-dir=${profile}`,
            '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
            `--window-size=${opts.width ?? 1200},${opts.height ?? 800}`,
            `--virtual-time-budget=${opts.virtualTimeMs ?? 3000}`,
            ...action, url
        ], { timeoutMs: opts.timeoutMs ?? 60_000, env: { ...process.env, ...NO_EGRESS_ENV } });
        if (r.code !== 0)
            throw new Error(`chromium ${action.join(' ')} ${url} failed (${r.code ?? r.signal}):\n${r.stderr.slice(-3000)}`);
        return r.stdout;
    }
    finally {
        removeTempDir(profile);
    }
}
/** The page's DOM (serialized) once its scripts ran for `virtualTimeMs`. */
export async function dumpDom(url, opts = {}) {
    return await chromium(url, ['--dump-dom'], opts);
}
/** A PNG of the page once its scripts ran for `virtualTimeMs`. */
export async function screenshot(url, file, opts = {}) {
    await chromium(url, [`--screenshot=${file}`], opts);
}
//# sourceMappingURL=chromium.js.map