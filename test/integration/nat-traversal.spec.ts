/**
 * Nodes behind home routers (network namespaces with nftables masquerade, the net bench's
 * NatNetwork): a short run of bench:net's NAT scenario. Each home node must find out by itself
 * that it is behind a NAT (AutoNAT), take a reservation on the public relay and announce it;
 * behind endpoint-independent NATs a connection to the other's relayed address must turn direct
 * by hole punching, behind symmetric NATs it stays on the relay; a file crosses both ways.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { janitor, netUnavailable, removeStale } from '../../bench/net/harness/index.ts'
import { natTraversal } from '../../bench/net/scenarios/nat.ts'

const unavailable = await netUnavailable()

describe('NAT traversal between daemons behind home routers', { skip: unavailable }, () => {
  before(() => {
    janitor.installExitHook()
    removeStale()
  })
  after(async () => { await janitor.cleanup() })

  it('AutoNAT, relay reservations, hole punching behind EIM NATs, relay behind symmetric NATs', { timeout: 240_000 }, async () => {
    const r = await natTraversal({ kinds: ['eim', 'symmetric'], attempts: 2, sizeBytes: 2 * 2 ** 20, mbit: 50, reference: false, parallel: true, symmetricAttempts: 1 })
    const [eim, sym] = r.rows as Array<Record<string, string | number>>
    assert.ok(eim != null && sym != null)
    // reached 'private' with a reservation (the scenario throws otherwise) in well under a minute
    assert.ok(Number(eim.reachableSeconds) < 60, `EIM homes knew they were private after ${eim.reachableSeconds} s`)
    assert.equal(eim.directShare, 1, 'every connection between EIM homes ended direct')
    assert.equal(eim.via, 'direct')
    assert.equal(eim.directKept, 'true', 'the punched connection is still the one in use 8 s later (it once died with its dial timer)')
    assert.ok(Number(eim.punchDirect) >= 1)
    assert.equal(eim.intact, 'true')
    assert.equal(sym.directShare, 0, 'no connection between symmetric homes can end direct')
    assert.equal(sym.via, 'relay')
    assert.equal(sym.intact, 'true', 'the file crossed the relay intact (no 128 KiB relay limit)')
    assert.ok(r.checks.every(c => c.pass), r.checks.filter(c => !c.pass).map(c => c.name).join('; '))
  })
})
