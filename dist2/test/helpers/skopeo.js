// skopeo as a real pull client: copy docker://… into a dir:, mirror configuration, blob checks.
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run, NO_EGRESS_ENV } from './proc.js';
function withNetns(netns, cmd, args) {
    return netns === undefined ? [cmd, args] : ['ip', ['netns', 'exec', netns, cmd, ...args]];
}
/**
 * `skopeo copy --src-tls-verify=false docker://SRC dir:DEST`. `src` may omit the `docker://`
 * prefix. Never throws on a failed copy: check `ok` / `code` / `stderr`.
 */
export async function skopeoCopy(src, destDir, opts = {}) {
    const ref = src.includes('://') ? src : `docker://${src}`;
    mkdirSync(dirname(destDir), { recursive: true });
    const args = [
        '--insecure-policy',
        ...(opts.arch !== undefined ? ['--override-arch', opts.arch] : []),
        'copy',
        `--src-tls-verify=${opts.srcTlsVerify === true ? 'true' : 'false'}`,
        '--retry-times', '0',
        ...(opts.registriesConf !== undefined ? ['--registries-conf', opts.registriesConf] : []),
        ...(opts.creds !== undefined ? ['--src-creds', `${opts.creds.username}:${opts.creds.password}`] : ['--src-no-creds']),
        ...(opts.all === true ? ['--all'] : []),
        ...(opts.extraArgs ?? []),
        ref, `dir:${destDir}`,
    ];
    const [cmd, full] = withNetns(opts.netns, 'skopeo', args);
    const r = await run(cmd, full, { timeoutMs: opts.timeoutMs ?? 300_000, env: { ...process.env, ...NO_EGRESS_ENV } });
    return { ...r, ok: r.code === 0 };
}
/** `skopeo inspect --raw` of a reference: the manifest bytes as served. */
export async function skopeoInspectRaw(src, opts = {}) {
    const ref = src.includes('://') ? src : `docker://${src}`;
    const args = ['--insecure-policy', 'inspect', '--raw', `--tls-verify=${opts.srcTlsVerify === true ? 'true' : 'false'}`,
        ...(opts.registriesConf !== undefined ? ['--registries-conf', opts.registriesConf] : []),
        ...(opts.creds !== undefined ? ['--creds', `${opts.creds.username}:${opts.creds.password}`] : ['--no-creds']),
        ...(opts.extraArgs ?? []), ref];
    const [cmd, full] = withNetns(opts.netns, 'skopeo', args);
    const r = await run(cmd, full, { timeoutMs: opts.timeoutMs ?? 60_000, env: { ...process.env, ...NO_EGRESS_ENV } });
    return { ...r, ok: r.code === 0 };
}
/**
 * Write a registries.conf (v2) that sends pulls of `prefix` to the mirror(s). `path` may be a
 * directory (then `registries.conf` inside it). Returns the file path.
 */
export function writeRegistriesConf(path, entries) {
    const list = Array.isArray(entries) ? entries : [entries];
    let file = path;
    try {
        if (statSync(path).isDirectory())
            file = join(path, 'registries.conf');
    }
    catch { /* a file path */ }
    mkdirSync(dirname(file), { recursive: true });
    const q = (s) => JSON.stringify(s);
    const parts = ['unqualified-search-registries = []', ''];
    for (const e of list) {
        const insecure = e.insecure ?? true;
        parts.push('[[registry]]', `prefix = ${q(e.prefix)}`, `location = ${q(e.location ?? '127.0.0.1:9')}`, `insecure = ${String(insecure)}`, '');
        for (const m of Array.isArray(e.mirror) ? e.mirror : [e.mirror]) {
            parts.push('[[registry.mirror]]', `location = ${q(m)}`, `insecure = ${String(insecure)}`, '');
        }
    }
    writeFileSync(file, parts.join('\n'));
    return file;
}
/** sha256 (hex) of a file, streamed. */
export async function sha256File(path) {
    const h = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
        h.update(chunk);
    return h.digest('hex');
}
/** Check every blob file of a skopeo `dir:` output against its sha256 name. */
export async function verifyDirBlobs(dir) {
    const blobs = [];
    const bad = [];
    let blobBytes = 0;
    for (const name of readdirSync(dir).sort()) {
        const m = /^([0-9a-f]{64})(\.manifest\.json)?$/.exec(name);
        if (m === null)
            continue;
        const path = join(dir, name);
        const size = statSync(path).size;
        const actual = await sha256File(path);
        const ok = actual === m[1];
        if (!ok)
            bad.push(name);
        if (m[2] === undefined)
            blobBytes += size;
        blobs.push({ file: name, digest: `sha256:${m[1]}`, size, ok });
    }
    const manifestDigest = `sha256:${createHash('sha256').update(readFileSync(join(dir, 'manifest.json'))).digest('hex')}`;
    return { ok: bad.length === 0 && blobs.length > 0, blobs, bad, manifestDigest, blobBytes };
}
//# sourceMappingURL=skopeo.js.map