// Persistent peer identity: an Ed25519 private key in `<dataDir>/peer-key` (libp2p protobuf
// encoding), created with mode 0600 on first start so the peer id survives restarts.
// Synchronous on purpose: createPeerNetwork() must know its peer id before start().
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { privateKeyFromProtobuf, privateKeyFromRaw, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { ConfigError, errorMessage } from '../errors.js';
export const PEER_KEY_FILE = 'peer-key';
export function loadOrCreatePeerKey(dataDir, logger) {
    const file = join(dataDir, PEER_KEY_FILE);
    let bytes;
    try {
        bytes = readFileSync(file);
    }
    catch (err) {
        if (err.code !== 'ENOENT')
            throw new ConfigError(`cannot read ${file}: ${errorMessage(err)}`);
    }
    if (bytes !== undefined) {
        let key;
        try {
            key = privateKeyFromProtobuf(bytes);
        }
        catch (err) {
            // Never replace a damaged key silently: that would change our peer id.
            throw new ConfigError(`${file} is not a libp2p private key (${errorMessage(err)}); move it away to create a new identity`);
        }
        if (key.type !== 'Ed25519')
            throw new ConfigError(`${file} holds a ${key.type} key; layerd expects Ed25519`);
        try {
            const mode = statSync(file).mode & 0o777;
            if ((mode & 0o077) !== 0) {
                logger?.warn({ file, mode: mode.toString(8) }, 'peer key is readable by others; setting mode 0600');
                chmodSync(file, 0o600);
            }
        }
        catch { /* best effort */ }
        return key;
    }
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    const jwk = privateKey.export({ format: 'jwk' });
    if (jwk.d === undefined || jwk.x === undefined)
        throw new ConfigError('node:crypto did not export the Ed25519 key');
    const raw = Buffer.concat([Buffer.from(jwk.d, 'base64url'), Buffer.from(jwk.x, 'base64url')]);
    const key = privateKeyFromRaw(raw);
    const encoded = privateKeyToProtobuf(key);
    // Write a temp file (0600) and link it into place: a crash never leaves a truncated key, and two
    // agents racing on one dataDir end up with the same identity (the loser reads the winner's key).
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
        writeSync(fd, encoded);
        fsyncSync(fd);
    }
    finally {
        closeSync(fd);
    }
    try {
        linkSync(tmp, file);
    }
    catch (err) {
        if (err.code === 'EEXIST') {
            unlinkSync(tmp);
            return loadOrCreatePeerKey(dataDir, logger);
        }
        unlinkSync(tmp);
        throw new ConfigError(`cannot create ${file}: ${errorMessage(err)}`);
    }
    unlinkSync(tmp);
    logger?.info({ file }, 'created a new peer identity');
    return key;
}
//# sourceMappingURL=identity.js.map