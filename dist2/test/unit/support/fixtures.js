import { createCipheriv, createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
/** Deterministic incompressible bytes (AES-CTR keystream of a seed). */
export function pseudoRandom(size, seed = 1) {
    const key = createHash('sha256').update(`seed:${seed}`).digest();
    const c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
    return c.update(Buffer.alloc(size));
}
export function sha256(buf) {
    return 'sha256:' + createHash('sha256').update(buf).digest('hex');
}
export async function tempDir(prefix = 'layerd-unit-') {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    return { dir, cleanup: async () => { await rm(dir, { recursive: true, force: true }); } };
}
/** All the bytes of a body that yields chunks, or batches of chunks. */
export async function collect(it) {
    const parts = [];
    for await (const b of it)
        for (const c of Array.isArray(b) ? b : [b])
            parts.push(Buffer.from(c));
    return Buffer.concat(parts);
}
//# sourceMappingURL=fixtures.js.map