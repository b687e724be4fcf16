import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { networkParams } from '../../src/net/networks.ts'
import { waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

describe('networks never mix', () => {
  const td = teardown()

  it('scopes protocol ids by network', () => {
    assert.notEqual(networkParams('main').dhtProtocol, networkParams('regtest').dhtProtocol)
    assert.notEqual(networkParams('main').nodeProtocol, networkParams('regtest').nodeProtocol)
    assert.notEqual(networkParams('main').mdnsServiceTag, networkParams('regtest').mdnsServiceTag)
  })

  it('a regtest node drops a main-network node that dials it, and refuses it after', { timeout: 30_000 }, async () => {
    const reg = await td.testNode({ network: 'regtest' })
    const main = await td.testNode({ network: 'main' })

    // the transport handshake succeeds; identify then shows the other network and both sides hang up
    await assert.rejects(main.connect(reg.addresses()[0] as string), (err: Error) => err.name === 'DialError' && /network|closed/.test(err.message))
    await waitFor(() => reg.peers().length === 0 && main.peers().length === 0, { what: 'the cross-network connection to close' })
    await assert.rejects(main.connect(reg.addresses()[0] as string).then(async () => {
      await sleep(1_000)
      if (main.peers().length === 0) throw new Error('closed again')
    }))
    assert.equal(reg.peers().length, 0)
  })
})
