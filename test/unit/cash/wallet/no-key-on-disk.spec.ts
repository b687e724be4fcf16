/**
 * Encryption at rest: after create, a payment (the seed decrypted for signing) and a close,
 * no byte sequence of the data directory is the seed, the mnemonic or its entropy, the master
 * key, the account key, or any private key (plain or taproot-tweaked) of the watched addresses.
 * The scan is shown to work by finding what must be there in clear: the account xpub.
 */
import assert from 'node:assert/strict'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { HDKey } from '@scure/bip32'
import { mnemonicToSeedSync } from '@scure/bip39'
import { taprootTweakPrivKey } from '@scure/btc-signer/utils.js'
import { Chain } from '../../../../src/cash/chain/index.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { Wallet } from '../../../../src/cash/wallet/index.ts'
import { LOOKAHEAD } from '../../../../src/cash/wallet/state.ts'
import { mnemonicEntropy } from '../../../../src/cash/wallet/keys.ts'
import { testKey } from '../../../utils/cash.ts'
import { tempDir } from '../../../utils/index.ts'
import { NOW } from '../chain/chain-helpers.ts'
import { FAST_KDF, mine } from './wallet-helpers.ts'

const params = chainParams('regtest')

async function filesUnder (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await filesUnder(path))
    else if (entry.isFile()) out.push(path)
  }
  return out
}

describe('wallet: no key on disk', () => {
  it('leaves no secret in any file of the data directory', async () => {
    const dir = await tempDir('peerd-wallet-disk-')
    const chain = new Chain({ location: join(dir.path, 'chain'), params, now: NOW, workers: 0 })
    await chain.open()
    const wallet = new Wallet({ location: join(dir.path, 'wallet'), params, chain, kdf: FAST_KDF })
    try {
      await wallet.open()
      const { mnemonic } = await wallet.create('disk passphrase')
      await mine(chain, wallet.payoutScript(), params.coinbaseMaturity + 1)
      await wallet.sync()
      const pay = await wallet.createPayment({ address: (await wallet.newAddress()), amount: 10_000n, passphrase: 'disk passphrase' })
      await mine(chain, testKey(4).script, 1, [pay.tx], pay.fee)
      await wallet.sync()
      await wallet.close()
      await chain.close()

      const seed = mnemonicToSeedSync(mnemonic)
      const master = HDKey.fromMasterSeed(seed)
      const account = master.derive("m/86'/1'/0'")
      const needles: Array<[string, Uint8Array]> = [
        ['entropy', mnemonicEntropy(mnemonic)],
        ['seed', seed],
        ['mnemonic', new TextEncoder().encode(mnemonic)],
        ['first two words', new TextEncoder().encode(mnemonic.split(' ').slice(0, 2).join(' '))],
        ['master private key', master.privateKey as Uint8Array],
        ['master chain code', master.chainCode as Uint8Array],
        ['master xprv', new TextEncoder().encode(master.privateExtendedKey)],
        ['account private key', account.privateKey as Uint8Array],
        ['account xprv', new TextEncoder().encode(account.privateExtendedKey)]
      ]
      for (const branch of [0, 1]) {
        for (let i = 0; i < 2 * LOOKAHEAD; i++) {
          const key = account.deriveChild(branch).deriveChild(i).privateKey as Uint8Array
          needles.push([`key ${branch}/${i}`, key], [`tweaked key ${branch}/${i}`, taprootTweakPrivKey(key)])
        }
      }
      const files = await filesUnder(dir.path)
      assert.ok(files.some((f) => f.includes(join('wallet', ''))), 'the wallet wrote files')
      let xpubFound = false
      for (const file of files) {
        const bytes = await readFile(file)
        if (bytes.indexOf(Buffer.from(account.publicExtendedKey)) !== -1) xpubFound = true
        for (const [what, needle] of needles) {
          // Any 16-byte window of a secret would be a leak; checking the head and the tail covers both halves.
          for (const part of [needle.subarray(0, 16), needle.subarray(Math.max(0, needle.length - 16))]) {
            assert.equal(bytes.indexOf(Buffer.from(part)), -1, `${what} found in ${file}`)
          }
        }
      }
      assert.ok(xpubFound, 'the scan reads the LevelDB files: the clear xpub is found')
    } finally {
      await wallet.close()
      await chain.close()
      await dir.cleanup()
    }
  })
})
