/**
 * Amino settings: the public bootstrap list is the default on `main` only, a given list replaces
 * it (`none` for no bootstrap peer), Amino is joined on `main` by default, and the rendezvous
 * CID is the fixed one every peerd node of a network computes.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { daemonConfigFromArgs } from '../../../src/cli/commands/daemon.ts'
import { parseCommandArgs } from '../../../src/cli/command.ts'
import { COMMANDS } from '../../../src/cli/main.ts'
import { rendezvousCid } from '../../../src/net/amino.ts'
import { PUBLIC_BOOTSTRAP_PEERS } from '../../../src/net/networks.ts'
import { resolveNodeConfig } from '../../../src/node/config.ts'
import { tempDir } from '../../utils/index.ts'

const PEER = '12D3KooWHhLmhVHuEotzGANMh1mGmxR1nTHYCUF6und3GioJNRqH'
const OURS = `/ip4/10.0.0.1/tcp/9470/p2p/${PEER}`

describe('Amino settings', () => {
  it('main bootstraps from the public libp2p peers and joins Amino; regtest does neither', () => {
    const main = resolveNodeConfig({ dataDir: '/x' })
    assert.deepEqual(main.bootstrap, [...PUBLIC_BOOTSTRAP_PEERS])
    assert.ok(main.bootstrap.some(a => a.startsWith('/dnsaddr/bootstrap.libp2p.io/p2p/')))
    assert.equal(main.amino, true)
    assert.equal(main.aminoPrivateAddresses, false)
    const reg = resolveNodeConfig({ dataDir: '/x', network: 'regtest' })
    assert.deepEqual(reg.bootstrap, [])
    assert.equal(reg.amino, false)
    assert.equal(resolveNodeConfig({ dataDir: '/x', network: 'regtest', amino: true }).amino, true)
    assert.equal(resolveNodeConfig({ dataDir: '/x', amino: false }).amino, false)
  })

  it('a bootstrap list replaces the default; an empty list or `none` means no bootstrap peer', () => {
    assert.deepEqual(resolveNodeConfig({ dataDir: '/x', bootstrap: [OURS] }).bootstrap, [OURS])
    assert.deepEqual(resolveNodeConfig({ dataDir: '/x', bootstrap: [] }).bootstrap, [])
    assert.deepEqual(resolveNodeConfig({ dataDir: '/x', bootstrap: ['none'] }).bootstrap, [])
  })

  it('the CLI: --bootstrap none drops the file\'s list too; --no-amino and --amino', async () => {
    const d = await tempDir()
    try {
      await writeFile(join(d.path, 'config.json'), JSON.stringify({ bootstrap: [OURS] }))
      const daemon = COMMANDS.find(c => c.name === 'daemon') ?? assert.fail('no daemon command')
      const config = async (...args: string[]) => await daemonConfigFromArgs(parseCommandArgs(daemon, [...args, '--data-dir', d.path]))
      assert.deepEqual((await config()).bootstrap, [OURS])
      assert.deepEqual((await config('--bootstrap', 'none')).bootstrap, [])
      assert.equal((await config()).amino, true)
      assert.equal((await config('--no-amino')).amino, false)
      assert.equal((await config('--network', 'regtest', '--amino')).amino, true)
      await writeFile(join(d.path, 'config.json'), JSON.stringify({ amino: false, aminoPrivateAddresses: true }))
      assert.equal((await config()).amino, false)
      assert.equal((await config()).aminoPrivateAddresses, true)
    } finally {
      await d.cleanup()
    }
  })

  it('the rendezvous CID is the raw CIDv1 of sha256("peerd/<network>/rendezvous/v1")', async () => {
    const cid = await rendezvousCid('main')
    assert.equal(cid.version, 1)
    assert.equal(cid.code, 0x55)
    assert.equal(Buffer.from(cid.multihash.digest).toString('hex'), createHash('sha256').update('peerd/main/rendezvous/v1').digest('hex'))
    assert.equal(cid.toString(), 'bafkreickk7dhequqyu5xiw27bon2axmxhclaguhb5r5oyhfjzjlur42ray')
    assert.notEqual((await rendezvousCid('regtest')).toString(), cid.toString())
  })
})
