import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexEntries } from '../../../src/oci/manifest.js';
import { formatPlatform, hostPlatform, parsePlatform, platformMatches } from '../../../src/oci/platform.js';
import { formatImageReference, isRegistryHost, parseDigest, parseImageReference, parseName, parseReference } from '../../../src/oci/reference.js';
const D = 'sha256:' + 'a'.repeat(64);
test('valid names, with several components', () => {
    for (const n of ['busybox', 'library/busybox', 'org/team/app', 'a.b_c__d-e---f/x', 'a0/b1'])
        assert.equal(parseName(n), n);
});
test('invalid names are NAME_INVALID', () => {
    for (const n of ['', '..', 'a/../b', 'A', 'a//b', '/a', 'a/', 'a b', 'a%2e%2e', '-a', 'a-', 'x'.repeat(256), 'a/./b']) {
        assert.throws(() => parseName(n), { code: 'NAME_INVALID' }, n);
    }
});
test('digests: sha256 only, lowercase hex of the right length', () => {
    assert.equal(parseDigest(D), D);
    assert.throws(() => parseDigest('sha256:' + 'A'.repeat(64)), { code: 'DIGEST_INVALID' });
    assert.throws(() => parseDigest('sha256:abc'), { code: 'DIGEST_INVALID' });
    assert.throws(() => parseDigest('abc'), { code: 'DIGEST_INVALID' });
    assert.throws(() => parseDigest('sha512:' + 'a'.repeat(128)), (err) => err.code === 'DIGEST_INVALID' && /unsupported digest algorithm/.test(err.message));
    assert.throws(() => parseDigest('md5:' + 'a'.repeat(32)), { code: 'DIGEST_INVALID' });
});
test('references: tag or digest', () => {
    assert.deepEqual(parseReference('latest'), { tag: 'latest' });
    assert.deepEqual(parseReference('v1.2.3-rc_1'), { tag: 'v1.2.3-rc_1' });
    assert.deepEqual(parseReference(D), { digest: D });
    assert.throws(() => parseReference('.bad'), { code: 'NAME_INVALID' });
    assert.throws(() => parseReference('x'.repeat(129)), { code: 'NAME_INVALID' });
    assert.throws(() => parseReference('sha256:zz'), { code: 'DIGEST_INVALID' });
});
test('registry hosts for ?ns=', () => {
    for (const h of ['docker.io', 'registry.example.com:5000', 'localhost', '127.0.0.1:5000', '[::1]:5000'])
        assert.ok(isRegistryHost(h), h);
    for (const h of ['http://x', 'a/b', '', 'a b', 'x:999999'])
        assert.ok(!isRegistryHost(h), h);
});
test('image references as people type them: registry, Docker Hub\'s library/, tag or digest', () => {
    const D2 = 'sha256:' + 'b'.repeat(64);
    const cases = [
        ['busybox', 'docker.io', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' }],
        ['busybox:1.36', 'docker.io', { registry: 'docker.io', repository: 'library/busybox', tag: '1.36' }],
        ['docker.io/busybox', 'upstream.test', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' }],
        ['index.docker.io/org/app:v1', 'x.test', { registry: 'docker.io', repository: 'org/app', tag: 'v1' }],
        ['org/app', 'docker.io', { registry: 'docker.io', repository: 'org/app', tag: 'latest' }],
        ['app:v1', 'upstream.test', { registry: 'upstream.test', repository: 'app', tag: 'v1' }],
        ['ghcr.io/org/team/app:v2', 'docker.io', { registry: 'ghcr.io', repository: 'org/team/app', tag: 'v2' }],
        ['localhost/app', 'docker.io', { registry: 'localhost', repository: 'app', tag: 'latest' }],
        ['127.0.0.1:5000/app:v1', 'docker.io', { registry: '127.0.0.1:5000', repository: 'app', tag: 'v1' }],
        [`registry.example.com:5000/app@${D}`, 'docker.io', { registry: 'registry.example.com:5000', repository: 'app', digest: D }],
        [`app:v1@${D2}`, 'upstream.test', { registry: 'upstream.test', repository: 'app', digest: D2 }]
    ];
    for (const [ref, def, want] of cases)
        assert.deepEqual(parseImageReference(ref, def), want, ref);
    assert.equal(formatImageReference(parseImageReference('busybox', 'docker.io')), 'docker.io/library/busybox:latest');
    assert.equal(formatImageReference(parseImageReference(`ghcr.io/a/b@${D}`, 'docker.io')), `ghcr.io/a/b@${D}`);
});
test('bad image references are NAME_INVALID and name the reference', () => {
    for (const ref of ['', 'Upper/app', 'a//b', 'app:bad tag', 'app:', ':v1', 'app@sha256:xyz', 'app@md5:abc', 'http://x/app', 'ex ample.com/app', '-app']) {
        assert.throws(() => parseImageReference(ref, 'docker.io'), (err) => err.code === 'NAME_INVALID' && err.message.includes(`invalid image reference ${JSON.stringify(ref)}`), ref);
    }
});
test('platforms: parse, print, match an index', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.equal(formatPlatform(parsePlatform('Linux/ARM/v7')), 'linux/arm/v7');
    for (const bad of ['linux', 'linux/', '/amd64', 'a/b/c/d', 'linux/am d64'])
        assert.throws(() => parsePlatform(bad), { code: 'NAME_INVALID' }, bad);
    assert.ok(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' }));
    assert.ok(!platformMatches(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v7' }));
    assert.ok(!platformMatches(parsePlatform('linux/amd64'), undefined));
    assert.match(formatPlatform(hostPlatform()), /^[a-z0-9]+\/[a-z0-9]+$/);
    const index = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        manifests: [
            { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D, size: 500, platform: { os: 'linux', architecture: 'amd64' } },
            { digest: 'sha256:' + 'c'.repeat(64), size: 400, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
            { digest: 'sha256:' + 'd'.repeat(64), size: 300 },
            { digest: 'nope', size: 1 }
        ]
    }));
    const entries = indexEntries(index);
    assert.equal(entries?.length, 3);
    assert.deepEqual(entries?.[1]?.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.equal(entries?.[2]?.platform, undefined);
    assert.equal(indexEntries(Buffer.from('{"layers":[]}')), undefined);
    assert.equal(indexEntries(Buffer.from('not json')), undefined);
});
//# sourceMappingURL=reference.test.js.map