// A private certificate authority for tests, made with the `openssl` CLI: a CA certificate (P-256,
// valid 3 days) and server certificates it signs, each with a proper subjectAltName (DNS names
// and IP addresses), as a corporate registry behind a company CA would have.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, makeTempDir, own, removeTempDir, runOk } from './proc.js';
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
export async function makeTestCa(opts = {}) {
    if (!haveCommand('openssl'))
        throw new Error('openssl is required for the test CA (Debian: apt-get install openssl)');
    const dir = makeTempDir('ca');
    const caPath = join(dir, 'ca.pem');
    const caKey = join(dir, 'ca.key');
    await runOk('openssl', ['req', '-x509', ...EC, '-keyout', caKey, '-out', caPath, '-days', '3', '-subj', `/CN=${opts.cn ?? 'layerd test CA'}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { timeoutMs: 30_000 });
    let removed = false;
    const remove = async () => {
        if (removed)
            return;
        removed = true;
        unregister();
        removeTempDir(dir);
    };
    const unregister = own(remove, opts.cleanup);
    return {
        caPath,
        caPem: readFileSync(caPath, 'utf8'),
        remove,
        async issue(name, sans) {
            const base = join(dir, name.replace(/[^A-Za-z0-9.-]/g, '_'));
            const alt = [...(sans.dns ?? []).map(d => `DNS:${d}`), ...(sans.ip ?? []).map(i => `IP:${i}`)].join(',');
            writeFileSync(`${base}.ext`, [`subjectAltName=${alt}`, 'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', ''].join('\n'));
            await runOk('openssl', ['req', '-new', ...EC, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`], { timeoutMs: 30_000 });
            await runOk('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', caPath, '-CAkey', caKey, '-CAcreateserial',
                '-out', `${base}.pem`, '-days', '3', '-extfile', `${base}.ext`], { timeoutMs: 30_000 });
            return { certPath: `${base}.pem`, keyPath: `${base}.key`, cert: readFileSync(`${base}.pem`, 'utf8'), key: readFileSync(`${base}.key`, 'utf8') };
        }
    };
}
//# sourceMappingURL=tls-ca.js.map