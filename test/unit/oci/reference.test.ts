import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isRegistryHost, parseDigest, parseName, parseReference } from '../../../src/oci/reference.js'

const D = 'sha256:' + 'a'.repeat(64)

test('valid names, with several components', () => {
  for (const n of ['busybox', 'library/busybox', 'org/team/app', 'a.b_c__d-e---f/x', 'a0/b1']) assert.equal(parseName(n), n)
})

test('invalid names are NAME_INVALID', () => {
  for (const n of ['', '..', 'a/../b', 'A', 'a//b', '/a', 'a/', 'a b', 'a%2e%2e', '-a', 'a-', 'x'.repeat(256), 'a/./b']) {
    assert.throws(() => parseName(n), { code: 'NAME_INVALID' }, n)
  }
})

test('digests: sha256 only, lowercase hex of the right length', () => {
  assert.equal(parseDigest(D), D)
  assert.throws(() => parseDigest('sha256:' + 'A'.repeat(64)), { code: 'DIGEST_INVALID' })
  assert.throws(() => parseDigest('sha256:abc'), { code: 'DIGEST_INVALID' })
  assert.throws(() => parseDigest('abc'), { code: 'DIGEST_INVALID' })
  assert.throws(() => parseDigest('sha512:' + 'a'.repeat(128)), (err: any) => err.code === 'DIGEST_INVALID' && /unsupported digest algorithm/.test(err.message))
  assert.throws(() => parseDigest('md5:' + 'a'.repeat(32)), { code: 'DIGEST_INVALID' })
})

test('references: tag or digest', () => {
  assert.deepEqual(parseReference('latest'), { tag: 'latest' })
  assert.deepEqual(parseReference('v1.2.3-rc_1'), { tag: 'v1.2.3-rc_1' })
  assert.deepEqual(parseReference(D), { digest: D })
  assert.throws(() => parseReference('.bad'), { code: 'NAME_INVALID' })
  assert.throws(() => parseReference('x'.repeat(129)), { code: 'NAME_INVALID' })
  assert.throws(() => parseReference('sha256:zz'), { code: 'DIGEST_INVALID' })
})

test('registry hosts for ?ns=', () => {
  for (const h of ['docker.io', 'registry.example.com:5000', 'localhost', '127.0.0.1:5000', '[::1]:5000']) assert.ok(isRegistryHost(h), h)
  for (const h of ['http://x', 'a/b', '', 'a b', 'x:999999']) assert.ok(!isRegistryHost(h), h)
})
