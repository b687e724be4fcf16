import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_SCRYPT, openSecret, sealSecret, sealedParams } from '../../../../src/cash/wallet/secret-box.ts'
import { FAST_KDF } from './wallet-helpers.ts'

const SECRET = Uint8Array.from({ length: 32 }, (_v, i) => i + 1)

describe('wallet secret at rest: scrypt + XChaCha20-Poly1305', () => {
  it('round-trips and never stores the secret in clear', async () => {
    const sealed = await sealSecret(SECRET, 'correct horse', FAST_KDF)
    assert.equal(sealed.length, 27 + 24 + 32 + 16)
    assert.equal(Buffer.from(sealed).indexOf(Buffer.from(SECRET.subarray(0, 8))), -1)
    assert.deepEqual(sealedParams(sealed), FAST_KDF)
    assert.deepEqual(await openSecret(sealed, 'correct horse'), SECRET)
    // Fresh salt and nonce every time.
    assert.notDeepEqual(await sealSecret(SECRET, 'correct horse', FAST_KDF), sealed)
  })

  it('refuses a wrong passphrase with WrongPassphraseError, not garbage', async () => {
    const sealed = await sealSecret(SECRET, 'correct horse', FAST_KDF)
    await assert.rejects(openSecret(sealed, 'correct horsE'), { name: 'WrongPassphraseError' })
  })

  it('authenticates the KDF parameters, salt and ciphertext (associated data)', async () => {
    const sealed = await sealSecret(SECRET, 'pw', FAST_KDF)
    for (const at of [2 /* log N */, 3 /* r */, 12 /* salt */, 30 /* nonce */, sealed.length - 20 /* ciphertext */, sealed.length - 1 /* tag */]) {
      const bad = Uint8Array.from(sealed)
      bad[at] = (bad[at] as number) ^ 1
      await assert.rejects(openSecret(bad, 'pw'), { name: 'WrongPassphraseError' }, `byte ${at}`)
    }
    const version = Uint8Array.from(sealed)
    version[0] = 2
    await assert.rejects(openSecret(version, 'pw'), { name: 'WalletDbError' })
    const huge = Uint8Array.from(sealed)
    huge[2] = 30 // 2^30 · 128 · 8 bytes: refused before scrypt runs
    await assert.rejects(openSecret(huge, 'pw'), { name: 'WalletDbError' })
  })

  it('refuses an empty passphrase', async () => {
    await assert.rejects(sealSecret(SECRET, '', FAST_KDF), { name: 'InvalidArgumentError' })
  })

  it('normalizes the passphrase (NFKD), so composed and decomposed forms agree', async () => {
    const sealed = await sealSecret(SECRET, 'caf\u00e9', FAST_KDF)
    assert.deepEqual(await openSecret(sealed, 'cafe\u0301'), SECRET)
  })

  it('uses N = 2^17, r = 8, p = 1 by default (timing reported)', async (t) => {
    assert.deepEqual({ ...DEFAULT_SCRYPT }, { logN: 17, r: 8, p: 1 })
    const start = performance.now()
    const sealed = await sealSecret(SECRET, 'pw')
    const mid = performance.now()
    assert.deepEqual(await openSecret(sealed, 'pw'), SECRET)
    t.diagnostic(`scrypt N=2^17 r=8 p=1: seal ${(mid - start).toFixed(0)} ms, open ${(performance.now() - mid).toFixed(0)} ms`)
  })
})
