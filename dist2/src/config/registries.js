import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { DOCKER_HUB } from '../oci/reference.js';
/** The upstream registries of a config (Docker Hub built in), passwords read from their files. */
export async function resolveRegistries(config) {
    const out = [];
    const entries = { [DOCKER_HUB.name]: { url: DOCKER_HUB.url, shareable: false }, ...config.upstreams };
    for (const [name, u] of Object.entries(entries)) {
        let credentials;
        if (u.username !== undefined && u.passwordFile !== undefined) {
            let password;
            try {
                password = (await readFile(u.passwordFile, 'utf8')).replace(/\r?\n$/, '');
            }
            catch (err) {
                // The path is the user's; the content never appears anywhere.
                throw new ConfigError(`upstreams.${name}.passwordFile: cannot read ${u.passwordFile} (${err?.code ?? 'error'})`);
            }
            credentials = { username: u.username, password };
        }
        const ca = u.caFile !== undefined ? await readCa(name, u.caFile) : undefined;
        out.push({ name, url: u.url.replace(/\/+$/, ''), credentials, shareable: u.shareable, ...(ca !== undefined ? { ca } : {}) });
    }
    return out;
}
/** A CA bundle file: readable, and at least one PEM certificate that OpenSSL accepts. */
async function readCa(name, file) {
    const key = `upstreams.${name}.caFile`;
    let pem;
    try {
        pem = await readFile(file, 'utf8');
    }
    catch (err) {
        throw new ConfigError(`${key}: cannot read ${file} (${err?.code ?? 'error'})`);
    }
    const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (certs.length === 0)
        throw new ConfigError(`${key}: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    // OpenSSL skips a block it cannot parse without a word: check each one here.
    try {
        for (const c of certs)
            new X509Certificate(c);
    }
    catch (err) { // eslint-disable-line no-new
        throw new ConfigError(`${key}: ${file} is not a valid PEM CA bundle (${err?.code ?? 'error'})`);
    }
    return pem;
}
/** `HOST:PORT` or `[V6]:PORT` → host and port. */
export function parseListen(listen) {
    const i = listen.lastIndexOf(':');
    const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const port = Number(listen.slice(i + 1));
    if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new ConfigError(`listen: invalid port in ${listen}`);
    return { host, port };
}
//# sourceMappingURL=registries.js.map