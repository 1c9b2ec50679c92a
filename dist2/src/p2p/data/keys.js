// Keys and TLS settings of the data plane (docs/PROTOCOL.md, "Data plane").
//
// Bulk bytes between agents go over HTTP/1.1 on TLS 1.3 with a pre-shared key (OpenSSL's
// AES-GCM in C, instead of noise + yamux in JavaScript). The key of a connection from agent C to
// agent S is HKDF-SHA256(office secret, "layerd/data-plane/v1", C || "\n" || S): only agents with
// the office secret can complete the handshake, and the bytes are encrypted on the wire. C sends
// its libp2p peer id as the PSK identity; S accepts it only for a peer connected over libp2p
// (noise authenticated that id) and not banned. Without an office secret the key material is a
// public constant: the bytes are still encrypted, and any layerd may join, as on libp2p.
import { hkdfSync } from 'node:crypto';
const LABEL = 'layerd/data-plane/v1';
const NO_SECRET = Buffer.from('layerd/no-office-secret');
/** TLS 1.3 only; AES-128-GCM first (AES-NI), ChaCha20 for CPUs without it. */
export const DATA_TLS = {
    ciphers: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256',
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3'
};
/** The pre-shared key for connections from `client` to `server` (libp2p peer ids). */
export function dataKey(secret, client, server) {
    return Buffer.from(hkdfSync('sha256', secret ?? NO_SECRET, LABEL, `${client}\n${server}`, 32));
}
//# sourceMappingURL=keys.js.map