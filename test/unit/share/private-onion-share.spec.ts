/**
 * The onion service of private shares (`OnionShare.ensure`) against a scripted onion host: it is
 * hosted once under its name, never over a user's service of that name, again after someone
 * stopped it, only when its key file is the key its address encodes, and not at all without
 * onion routing.
 */
import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import type { PeerdHost } from '../../../src/net/host.ts'
import { decodeOnionAddress, encodeOnionAddress } from '../../../src/onion/hs/address.ts'
import { OnionShare, SHARE_SERVICE_NAME } from '../../../src/share/private/onion-share.ts'
import type { OnionHost } from '../../../src/share/private/onion-share.ts'
import { createLogger } from '../../../src/utils/logger.ts'

const dirs: string[] = []
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

function addressOf (seed: Uint8Array): string {
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return encodeOnionAddress(new Uint8Array(spki.subarray(spki.length - 32)))
}

/** An onion host whose services list is `list`; serveHandler adds the share service with the address of `seed`. */
async function setup (options: { running?: boolean, fileSeed?: Uint8Array } = {}): Promise<{ share: OnionShare, list: Array<{ name: string, target: string }>, calls: () => number }> {
  const dir = await mkdtemp(join(tmpdir(), 'peerd-onion-share-'))
  dirs.push(dir)
  const seed = new Uint8Array(randomBytes(32))
  await mkdir(join(dir, 'services'), { recursive: true })
  await writeFile(join(dir, 'services', `${SHARE_SERVICE_NAME}.key`), options.fileSeed ?? seed)
  const list: Array<{ name: string, target: string }> = []
  let n = 0
  const onion: OnionHost = {
    running: options.running ?? true,
    dial: async () => { throw new Error('no circuits here') },
    publicKeyOf: decodeOnionAddress,
    addressOf: encodeOnionAddress,
    services: {
      serveHandler: async (name) => {
        n++
        // as OnionServices: listed only once the key is read and the service built
        await new Promise(resolve => setTimeout(resolve, 20))
        const i = list.findIndex(s => s.name === name)
        if (i >= 0) list.splice(i, 1)
        list.push({ name, target: 'in-process handler' })
        return { address: addressOf(seed) }
      },
      list: () => list
    }
  }
  const share = new OnionShare({ host: {} as unknown as PeerdHost, network: 'regtest', log: createLogger({ level: 'silent' }), onionDir: dir, onStream: () => {}, roots: async () => [] })
  share.attach(onion)
  return { share, list, calls: () => n }
}

describe('the onion service of private shares', () => {
  it('is hosted once, and again after it was stopped from outside', async () => {
    const { share, list, calls } = await setup()
    const address = await share.ensure()
    assert.match(address, /^[a-z2-7]{56}\.peerd$/)
    assert.equal(await share.ensure(), address)
    assert.equal(calls(), 1)
    assert.equal(share.address, address)
    list.length = 0 // peerd onion stop share
    assert.equal(await share.ensure(), address)
    assert.equal(calls(), 2)
  })

  it('is hosted once when two private shares start at the same time', async () => {
    const { share, calls } = await setup()
    const [a, b] = await Promise.all([share.ensure(), share.ensure()])
    assert.equal(a, b)
    assert.equal(calls(), 1)
  })

  it('never replaces a user\'s service of the same name', async () => {
    const { share, list, calls } = await setup()
    list.push({ name: SHARE_SERVICE_NAME, target: '127.0.0.1:8080' })
    await assert.rejects(share.ensure(), { name: 'InvalidArgumentError' })
    assert.equal(calls(), 0)
  })

  it('refuses to sign with a key file that is not the address\'s key', async () => {
    const { share } = await setup({ fileSeed: new Uint8Array(randomBytes(32)) })
    await assert.rejects(share.ensure(), /does not match its address/)
    assert.equal(share.address, undefined)
  })

  it('needs onion routing', async () => {
    const { share } = await setup({ running: false })
    await assert.rejects(share.ensure(), { name: 'NotStartedError' })
  })
})
