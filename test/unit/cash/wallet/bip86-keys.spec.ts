import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HDKey } from '@scure/bip32'
import { mnemonicToSeedSync } from '@scure/bip39'
import { p2tr } from '@scure/btc-signer'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { decodeAddress } from '../../../../src/cash/primitives/address.ts'
import {
  AddressDeriver, MAIN_COIN_TYPE, accountFromEntropy, accountPath, btcNetwork, coinType, entropyMnemonic, mnemonicEntropy, newMnemonic
} from '../../../../src/cash/wallet/keys.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const ABANDON = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'

describe('wallet keys: BIP39, BIP32, BIP86', () => {
  it('derives the BIP86 test vectors (bitcoin/bips bip-0086.mediawiki, coin 0, prefix bc)', () => {
    const account = HDKey.fromMasterSeed(mnemonicToSeedSync(ABANDON)).derive("m/86'/0'/0'")
    assert.equal(account.publicExtendedKey,
      'xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ')
    const d = new AddressDeriver(account.publicExtendedKey, 'bc')
    const r0 = d.derive(0, 0)
    assert.equal(hex(r0.internalKey), 'cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115')
    assert.equal(hex(r0.outputKey), 'a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c')
    assert.equal(r0.address, 'bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr')
    assert.equal(hex(r0.script), '5120a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c')
    assert.equal(d.derive(0, 1).address, 'bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh')
    assert.equal(d.derive(1, 0).address, 'bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7')
  })

  it('uses coin type 1 on regtest and its own (not 0) on main', () => {
    assert.equal(coinType('regtest'), 1)
    assert.equal(coinType('main'), MAIN_COIN_TYPE)
    assert.notEqual(MAIN_COIN_TYPE, 0)
    assert.equal(accountPath('regtest'), "m/86'/1'/0'")
    assert.equal(accountPath('main'), `m/86'/${MAIN_COIN_TYPE}'/0'`)
  })

  it('makes regtest addresses that btc-signer with a custom network agrees on', () => {
    const params = chainParams('regtest')
    const entropy = mnemonicEntropy(ABANDON)
    const account = accountFromEntropy(entropy, 'regtest')
    const d = new AddressDeriver(account.publicExtendedKey, params.bech32Hrp)
    for (const [branch, index] of [[0, 0], [0, 7], [1, 3]] as const) {
      const a = d.derive(branch, index)
      const child = account.deriveChild(branch).deriveChild(index)
      const ref = p2tr((child.publicKey as Uint8Array).slice(1), undefined, btcNetwork(params.bech32Hrp))
      assert.equal(a.address, ref.address)
      assert.ok(a.address.startsWith('pdrt1p'))
      assert.deepEqual(decodeAddress(a.address, params.bech32Hrp), a.outputKey)
    }
    account.wipePrivateData()
  })

  it('creates 24-word mnemonics whose entropy round-trips', () => {
    const m = newMnemonic()
    assert.equal(m.split(' ').length, 24)
    const e = mnemonicEntropy(m)
    assert.equal(e.length, 32)
    assert.equal(entropyMnemonic(e), m)
    assert.notEqual(newMnemonic(), m)
  })

  it('forgives case and spacing but not count, words or checksum (and never quotes the words)', () => {
    assert.equal(hex(mnemonicEntropy(`  ${ABANDON.toUpperCase().replaceAll(' ', '   ')}\n`)), '00000000000000000000000000000000')
    assert.throws(() => mnemonicEntropy('abandon abandon abandon'), { name: 'InvalidArgumentError', message: /12 or 24 words.*got 3/ })
    assert.throws(() => mnemonicEntropy(ABANDON.replace('about', 'abouts')), (err: Error) => {
      assert.equal(err.name, 'InvalidArgumentError')
      assert.match(err.message, /word 12 is not in the BIP39 English word list/)
      assert.doesNotMatch(err.message, /abouts/)
      return true
    })
    assert.throws(() => mnemonicEntropy(ABANDON.replace('about', 'abandon')), { name: 'InvalidArgumentError', message: /checksum/ })
  })
})
