// Offline, deterministic OCI test images.
//
// Layer data is an AES-256-CTR keystream keyed by sha256(seed, platform, layer index): stable
// across runs (same digests every time on the same tar/gzip) and incompressible. Each layer is a
// GNU tar (--owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name) of one data file, gzip'd
// with `gzip -n` (no name/timestamp). Built layouts are cached under
// os.tmpdir()/layerd-fixtures/<key>/layout so several test files (and runs) reuse them.
import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import { trackDir, forgetDir, run, NO_EGRESS_ENV } from './proc.js';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const BUILD_VERSION = 1;
const ZERO_IV = Buffer.alloc(16);
const CHUNK = Buffer.alloc(1 << 20);
export function fixturesRoot() { return join(tmpdir(), 'layerd-fixtures'); }
/** Path of a blob inside an OCI layout. */
export function blobPath(layoutDir, digest) {
    const [alg, hex] = digest.split(':');
    return join(layoutDir, 'blobs', alg ?? 'sha256', hex ?? '');
}
/** Deterministic incompressible bytes for (key material) — exported for tests that need raw data. */
export function keystream(seedMaterial, size) {
    const key = createHash('sha256').update(seedMaterial).digest();
    const c = createCipheriv('aes-256-ctr', key, ZERO_IV);
    return c.update(Buffer.alloc(size));
}
function parsePlatform(p) {
    const [os, architecture, variant] = p.split('/');
    if (os === undefined || architecture === undefined || os === '' || architecture === '')
        throw new Error(`bad platform ${p}`);
    return variant !== undefined && variant !== '' ? { os, architecture, variant } : { os, architecture };
}
class HashTap extends Transform {
    hash = createHash('sha256');
    bytes = 0;
    _transform(chunk, _enc, cb) {
        this.hash.update(chunk);
        this.bytes += chunk.length;
        cb(null, chunk);
    }
}
async function writeKeystreamFile(path, seedMaterial, size) {
    const key = createHash('sha256').update(seedMaterial).digest();
    const cipher = createCipheriv('aes-256-ctr', key, ZERO_IV);
    const out = createWriteStream(path);
    let left = size;
    while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        const buf = cipher.update(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
        left -= n;
        if (!out.write(buf))
            await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
}
async function childDone(child, what, stderr) {
    const [code] = await once(child, 'close');
    if (code !== 0)
        throw new Error(`${what} failed (${code}): ${stderr()}`);
}
/** Build one gzip'd tar layer into blobsDir; returns its descriptor. */
async function buildLayer(workDir, blobsDir, seedMaterial, size, fileTag) {
    const stage = join(workDir, `stage-${fileTag}`);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(join(stage, 'data'), { recursive: true });
    chmodSync(stage, 0o755);
    chmodSync(join(stage, 'data'), 0o755);
    const file = join(stage, 'data', `${fileTag}.bin`);
    await writeKeystreamFile(file, seedMaterial, size);
    chmodSync(file, 0o644);
    const tar = spawn('tar', ['-C', stage, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner',
        '--format=gnu', '-cf', '-', 'data'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const gz = spawn('gzip', ['-n', '-1', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let errs = '';
    tar.stderr.on('data', (b) => { errs += b.toString(); });
    gz.stderr.on('data', (b) => { errs += b.toString(); });
    const diffTap = new HashTap();
    const blobTap = new HashTap();
    const tmpBlob = join(blobsDir, `.tmp-${fileTag}`);
    await Promise.all([
        pipeline(tar.stdout, diffTap, gz.stdin),
        pipeline(gz.stdout, blobTap, createWriteStream(tmpBlob)),
        childDone(tar, 'tar', () => errs),
        childDone(gz, 'gzip', () => errs),
    ]);
    rmSync(stage, { recursive: true, force: true });
    const hex = blobTap.hash.digest('hex');
    renameSync(tmpBlob, join(blobsDir, hex));
    return {
        mediaType: OCI_LAYER_GZIP,
        digest: `sha256:${hex}`,
        size: blobTap.bytes,
        diffId: `sha256:${diffTap.hash.digest('hex')}`,
        dataBytes: size,
    };
}
function writeJsonBlob(blobsDir, obj) {
    const buf = Buffer.from(JSON.stringify(obj));
    const hex = createHash('sha256').update(buf).digest('hex');
    writeFileSync(join(blobsDir, hex), buf);
    return { digest: `sha256:${hex}`, size: buf.length };
}
/**
 * Build (or reuse from the fixture cache) an OCI image layout. Deterministic: the same options
 * give the same digests.
 */
export async function buildImage(opts) {
    const platforms = opts.platforms ?? ['linux/amd64'];
    if (platforms.length === 0)
        throw new Error('platforms must not be empty');
    const seed = String(opts.seed);
    const sharedLayers = opts.sharedLayers ?? 0;
    const multi = platforms.length > 1 || opts.forceIndex === true;
    const keyObj = { v: BUILD_VERSION, name: opts.name, tag: opts.tag, layers: opts.layers, platforms, seed, sharedLayers, multi };
    const key = createHash('sha256').update(JSON.stringify(keyObj)).digest('hex').slice(0, 24);
    const root = opts.cacheRoot ?? fixturesRoot();
    const finalDir = join(root, key);
    const resultPath = join(finalDir, 'build.json');
    if (existsSync(resultPath)) {
        const cached = JSON.parse(readFileSync(resultPath, 'utf8'));
        return { ...cached, layoutDir: join(finalDir, 'layout'), fromCache: true, buildMs: 0 };
    }
    const t0 = performance.now();
    mkdirSync(root, { recursive: true });
    const work = join(root, `${key}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    trackDir(work);
    try {
        const layout = join(work, 'layout');
        const blobsDir = join(layout, 'blobs', 'sha256');
        mkdirSync(blobsDir, { recursive: true });
        writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
        const layerCache = new Map();
        const allLayers = [];
        const blobs = new Map();
        const perPlatform = [];
        for (const p of platforms) {
            const plat = parsePlatform(p);
            const layers = [];
            for (let i = 0; i < opts.layers.length; i++) {
                const spec = opts.layers[i];
                const size = typeof spec === 'number' ? spec : spec.size;
                const material = typeof spec === 'number'
                    ? `layerd-fixture|${seed}|${i < sharedLayers ? 'shared' : p}|${i}|${size}`
                    : `layerd-fixture-layer|${spec.seed}|${size}`;
                let layer = layerCache.get(material);
                if (layer === undefined) {
                    const fileTag = createHash('sha256').update(material).digest('hex').slice(0, 16);
                    layer = await buildLayer(work, blobsDir, material, size, fileTag);
                    layerCache.set(material, layer);
                    allLayers.push(layer);
                    blobs.set(layer.digest, { digest: layer.digest, size: layer.size, mediaType: layer.mediaType });
                }
                layers.push(layer);
            }
            const config = {
                created: '1970-01-01T00:00:00Z',
                architecture: plat.architecture,
                os: plat.os,
                ...(plat.variant !== undefined ? { variant: plat.variant } : {}),
                config: {
                    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
                    Labels: { 'org.layerd.test.name': opts.name, 'org.layerd.test.tag': opts.tag, 'org.layerd.test.seed': seed },
                },
                rootfs: { type: 'layers', diff_ids: layers.map(l => l.diffId) },
                history: layers.map((_, i) => ({ created: '1970-01-01T00:00:00Z', created_by: `layerd test layer ${i}` })),
            };
            const cfg = writeJsonBlob(blobsDir, config);
            blobs.set(cfg.digest, { ...cfg, mediaType: OCI_CONFIG });
            const manifest = {
                schemaVersion: 2,
                mediaType: OCI_MANIFEST,
                config: { mediaType: OCI_CONFIG, digest: cfg.digest, size: cfg.size },
                layers: layers.map(l => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
            };
            const man = writeJsonBlob(blobsDir, manifest);
            blobs.set(man.digest, { ...man, mediaType: OCI_MANIFEST });
            perPlatform.push({
                platform: p,
                ...plat,
                manifestDigest: man.digest,
                manifestSize: man.size,
                configDigest: cfg.digest,
                configSize: cfg.size,
                layers,
            });
        }
        let top;
        let indexDigest;
        let indexSize;
        if (multi) {
            const index = {
                schemaVersion: 2,
                mediaType: OCI_INDEX,
                manifests: perPlatform.map(pi => ({
                    mediaType: OCI_MANIFEST,
                    digest: pi.manifestDigest,
                    size: pi.manifestSize,
                    platform: { architecture: pi.architecture, os: pi.os, ...(pi.variant !== undefined ? { variant: pi.variant } : {}) },
                })),
            };
            const idx = writeJsonBlob(blobsDir, index);
            top = { ...idx, mediaType: OCI_INDEX };
            blobs.set(idx.digest, top);
            indexDigest = idx.digest;
            indexSize = idx.size;
        }
        else {
            const pi = perPlatform[0];
            top = { digest: pi.manifestDigest, size: pi.manifestSize, mediaType: OCI_MANIFEST };
        }
        writeFileSync(join(layout, 'index.json'), JSON.stringify({
            schemaVersion: 2,
            manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': opts.tag } }],
        }));
        const first = perPlatform[0];
        const result = {
            name: opts.name,
            tag: opts.tag,
            layoutDir: join(finalDir, 'layout'),
            ...(indexDigest !== undefined ? { indexDigest, indexSize } : {}),
            topDigest: top.digest,
            topMediaType: top.mediaType,
            topSize: top.size,
            manifestDigests: perPlatform.map(pi => pi.manifestDigest),
            layers: allLayers,
            configDigest: first.configDigest,
            platforms: perPlatform,
            blobs: [...blobs.values()],
            fromCache: false,
            buildMs: performance.now() - t0,
        };
        writeFileSync(join(work, 'build.json'), JSON.stringify(result, null, 1));
        try {
            renameSync(work, finalDir);
        }
        catch {
            // Someone else built the same key concurrently: theirs is identical; use it.
            rmSync(work, { recursive: true, force: true });
        }
        return result;
    }
    finally {
        if (existsSync(work))
            rmSync(work, { recursive: true, force: true });
        forgetDir(work);
    }
}
/**
 * Push a layout (all platforms, digests preserved) with
 * `skopeo copy --all --preserve-digests --dest-tls-verify=false oci:DIR:TAG docker://HOST/NAME:TAG`.
 * Throws with skopeo's output on failure.
 */
export async function pushImage(image, registryHost, name, tag, creds, opts = {}) {
    const layoutDir = typeof image === 'string' ? image : image.layoutDir;
    const srcTag = typeof image === 'string' ? tag : image.tag;
    const c = creds ?? opts.creds;
    const args = ['--insecure-policy', 'copy', '--all', '--preserve-digests', '--retry-times', '2', '--dest-tls-verify=false',
        ...(c !== undefined ? ['--dest-creds', `${c.username}:${c.password}`] : ['--dest-no-creds']),
        ...(opts.extraArgs ?? []),
        `oci:${layoutDir}:${srcTag}`, `docker://${registryHost}/${name}:${tag}`];
    const r = await run('skopeo', args, { timeoutMs: opts.timeoutMs ?? 300_000, env: { ...process.env, ...NO_EGRESS_ENV } });
    if (r.code !== 0)
        throw new Error(`skopeo push failed (${r.code}): ${r.stderr.slice(-4000)}`);
    return r;
}
//# sourceMappingURL=images.js.map