// Process and cleanup plumbing shared by the integration-test helpers.
//
// Every helper starts its processes through spawnTracked(): the PID is recorded, stdout/stderr are
// kept in a bounded in-memory buffer, and the child (and its pipes) are unref'd so a test that
// forgets to clean up cannot hang the test file forever. Each helper registers its stop() with
// registerCleanup(); stopAll() runs them (call it from `after()`), and a process 'exit' /
// SIGINT / SIGTERM handler kills exactly the recorded PIDs, removes the recorded temp dirs and
// deletes the recorded network namespaces as a last resort.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
/**
 * Environment for Go clients (skopeo, ctr, dockerd): any request that is not to loopback or to the
 * test namespaces goes to a dead loopback "proxy", so a registry-mirror fallback to a real host
 * (docker.io, ...) can never leave the machine (no DNS lookup either: the proxy would resolve).
 */
export const NO_EGRESS_ENV = {
    HTTP_PROXY: 'http://127.0.0.1:9',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    http_proxy: 'http://127.0.0.1:9',
    https_proxy: 'http://127.0.0.1:9',
    NO_PROXY: '127.0.0.1,localhost,::1,10.77.0.0/16',
    no_proxy: '127.0.0.1,localhost,::1,10.77.0.0/16',
};
// ---------------------------------------------------------------------------------------------
// Global registry of what this process started / created, for the last-resort exit handler.
const livePids = new Set();
const liveDirs = new Set();
const liveNetns = new Set();
const cleanups = new Set();
let handlersInstalled = false;
function syncLastResort() {
    for (const pid of livePids) {
        try {
            process.kill(pid, 'SIGKILL');
        }
        catch { /* already gone */ }
    }
    livePids.clear();
    for (const ns of liveNetns) {
        try {
            execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
        }
        catch { /* gone */ }
    }
    liveNetns.clear();
    for (const dir of liveDirs) {
        try {
            unmountUnder(dir);
        }
        catch { /* best effort */ }
        try {
            rmSync(dir, { recursive: true, force: true });
        }
        catch { /* best effort */ }
    }
    liveDirs.clear();
}
function installHandlers() {
    if (handlersInstalled)
        return;
    handlersInstalled = true;
    process.on('exit', syncLastResort);
    for (const sig of ['SIGINT', 'SIGTERM']) {
        process.once(sig, () => {
            syncLastResort();
            process.exit(sig === 'SIGINT' ? 130 : 143);
        });
    }
}
/** Remember a PID for the exit handler (removed automatically when the process exits). */
export function trackPid(pid) { installHandlers(); livePids.add(pid); }
export function untrackPid(pid) { livePids.delete(pid); }
export function trackNetns(name) { installHandlers(); liveNetns.add(name); }
export function untrackNetns(name) { liveNetns.delete(name); }
/** Register an async cleanup; returns a function that unregisters it. */
export function registerCleanup(fn) {
    installHandlers();
    cleanups.add(fn);
    return () => { cleanups.delete(fn); };
}
/** Run every registered cleanup (most recent first). Use as `after(stopAll)` in test files. */
export async function stopAll() {
    const fns = [...cleanups].reverse();
    cleanups.clear();
    const errors = [];
    for (const fn of fns) {
        try {
            await fn();
        }
        catch (err) {
            errors.push(err);
        }
    }
    if (errors.length > 0)
        throw new AggregateError(errors, 'cleanup failed');
}
/** Hook a resource's stop() into the global registry and, when given, a test's `after`. */
export function own(stop, scope) {
    const unregister = registerCleanup(stop);
    if (scope !== undefined)
        scope.after(async () => { await stop(); });
    return unregister;
}
/** mkdtemp under os.tmpdir(), removed by the exit handler if nobody removed it before. */
export function makeTempDir(prefix) {
    installHandlers();
    const dir = mkdtempSync(join(tmpdir(), `layerd-${prefix}-`));
    liveDirs.add(dir);
    return dir;
}
/** Have the exit handler remove `dir` if it still exists then (see forgetDir). */
export function trackDir(dir) { installHandlers(); liveDirs.add(dir); }
export function forgetDir(dir) { liveDirs.delete(dir); }
/** Remove a temp dir made by makeTempDir (unmounting anything we left mounted under it). */
export function removeTempDir(dir) {
    try {
        unmountUnder(dir);
    }
    catch { /* best effort */ }
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
}
/** Lazily unmount every mount point below `dir` (deepest first): dockerd/containerd leftovers. */
export function unmountUnder(dir) {
    let text;
    try {
        text = readFileSync('/proc/self/mountinfo', 'utf8');
    }
    catch {
        return;
    }
    const prefix = dir.endsWith('/') ? dir : dir + '/';
    const points = text.split('\n')
        .map(l => l.split(' ')[4])
        .filter((p) => p !== undefined && (p === dir || p.startsWith(prefix)))
        .map(p => p.replace(/\\040/g, ' '))
        .sort((a, b) => b.length - a.length);
    for (const p of points) {
        try {
            execFileSync('umount', ['-l', p], { stdio: 'ignore' });
        }
        catch { /* ignore */ }
    }
}
/** spawn() with PID tracking, bounded output capture and unref'd handles. */
export function spawnTracked(cmd, args, opts = {}) {
    const { name = cmd, maxLog = 1 << 20, ...spawnOpts } = opts;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
    if (child.pid === undefined) {
        // spawn failed synchronously (ENOENT is reported through 'error'); make it visible.
        throw new Error(`failed to spawn ${cmd}`);
    }
    const pid = child.pid;
    trackPid(pid);
    let log = '';
    let partial = '';
    const lineWaiters = new Set();
    const onData = (buf) => {
        const s = buf.toString('utf8');
        log += s;
        if (log.length > maxLog)
            log = log.slice(log.length - maxLog);
        partial += s;
        if (lineWaiters.size === 0) {
            const nl = partial.lastIndexOf('\n');
            if (nl >= 0)
                partial = partial.slice(nl + 1);
            return;
        }
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines)
            for (const w of [...lineWaiters])
                w(line);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    let exitInfo;
    const exited = new Promise(resolve => {
        child.once('error', err => {
            log += `\n[spawn error] ${String(err)}\n`;
            if (exitInfo === undefined) {
                exitInfo = { code: -1, signal: null };
                untrackPid(pid);
                resolve(exitInfo);
            }
        });
        child.once('close', (code, signal) => {
            if (exitInfo === undefined) {
                exitInfo = { code, signal };
                untrackPid(pid);
                resolve(exitInfo);
            }
        });
    });
    child.unref();
    for (const s of [child.stdout, child.stderr])
        s?.unref?.();
    const waitForLine = async (pred, timeoutMs) => {
        // Look in what we already have first.
        for (const line of log.split('\n'))
            if (pred(line))
                return line;
        if (partial !== '' && pred(partial) && exitInfo !== undefined)
            return partial;
        return await new Promise((resolve, reject) => {
            const timer = setTimeout(() => { done(); reject(new Error(`${name}: timed out after ${timeoutMs} ms waiting for output line; output:\n${log.slice(-4000)}`)); }, timeoutMs);
            const waiter = (line) => { if (pred(line)) {
                done();
                resolve(line);
            } };
            const done = () => { clearTimeout(timer); lineWaiters.delete(waiter); };
            lineWaiters.add(waiter);
            void exited.then(info => {
                if (!lineWaiters.has(waiter))
                    return;
                // Flush a last partial line.
                if (partial !== '' && pred(partial)) {
                    done();
                    resolve(partial);
                    return;
                }
                done();
                reject(new Error(`${name} exited (${info.code ?? info.signal}) before the expected line; output:\n${log.slice(-4000)}`));
            });
        });
    };
    return {
        name,
        child,
        pid,
        exited,
        alive: () => exitInfo === undefined,
        output: () => log,
        waitForLine,
    };
}
/** SIGTERM (or `signal`), wait up to timeoutMs, then SIGKILL. Only ever signals t.pid. */
export async function killAndWait(t, opts = {}) {
    const { signal = 'SIGTERM', timeoutMs = 10_000 } = opts;
    if (!t.alive())
        return await t.exited;
    try {
        process.kill(t.pid, signal);
    }
    catch { /* already gone */ }
    let timer;
    const timedOut = new Promise(resolve => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    const r = await Promise.race([t.exited, timedOut]);
    clearTimeout(timer);
    if (r !== 'timeout')
        return r;
    try {
        process.kill(t.pid, 'SIGKILL');
    }
    catch { /* gone */ }
    return await t.exited;
}
/** Run a command to completion, bounded by timeoutMs (SIGKILL after). Never rejects on exit code. */
export async function run(cmd, args, opts = {}) {
    const { timeoutMs = 120_000, input, ...spawnOpts } = opts;
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...spawnOpts });
    const pid = child.pid;
    if (pid !== undefined)
        trackPid(pid);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b) => { stdout += b.toString('utf8'); });
    child.stderr?.on('data', (b) => { stderr += b.toString('utf8'); });
    if (input !== undefined)
        child.stdin?.end(input);
    const timer = setTimeout(() => {
        stderr += `\n[killed after ${timeoutMs} ms]`;
        if (pid !== undefined) {
            try {
                process.kill(pid, 'SIGKILL');
            }
            catch { /* gone */ }
        }
    }, timeoutMs);
    return await new Promise(resolve => {
        let settled = false;
        const finish = (code, signal) => {
            if (settled)
                return;
            settled = true;
            clearTimeout(timer);
            if (pid !== undefined)
                untrackPid(pid);
            resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
        };
        child.once('error', err => { stderr += String(err); finish(-1, null); });
        child.once('close', finish);
    });
}
/** run() that throws with the output when the exit code is not 0. */
export async function runOk(cmd, args, opts = {}) {
    const r = await run(cmd, args, opts);
    if (r.code !== 0) {
        throw new Error(`${cmd} ${args.join(' ')} failed (${r.code ?? r.signal}):\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-2000)}`);
    }
    return r;
}
/** Poll `fn` until it returns a value other than undefined/false; bounded. */
export async function waitFor(fn, opts = {}) {
    const { timeoutMs = 15_000, intervalMs = 100, what = 'condition' } = opts;
    const deadline = Date.now() + timeoutMs;
    let lastErr;
    for (;;) {
        try {
            const v = await fn();
            if (v !== undefined && v !== false)
                return v;
        }
        catch (err) {
            lastErr = err;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr !== undefined ? `: ${String(lastErr)}` : ''}`);
        }
        await sleep(intervalMs);
    }
}
/** Whether a command exists on PATH (or as an absolute path). */
export function haveCommand(cmd) {
    try {
        execFileSync('sh', ['-c', `command -v "$1"`, 'sh', cmd], { stdio: 'ignore' });
        return true;
    }
    catch {
        return false;
    }
}
//# sourceMappingURL=proc.js.map