import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { nextBitsAsert } from '../../../../src/cash/consensus/asert.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import type { Network } from '../../../../src/cash/consensus/params.ts'
import { bitLength, blockWork, checkProofOfWork, decodeCompact, encodeCompact } from '../../../../src/cash/consensus/pow.ts'
import { COIN, totalSupply } from '../../../../src/cash/consensus/subsidy.ts'
import { NETWORK_NAMES } from '../../../../src/net/networks.ts'

// every network the node knows: one added to net's list gets these checks (and needs chainParams)
const networks: readonly Network[] = NETWORK_NAMES

describe('chainParams sanity (after Bitcoin Core pow_tests.cpp sanity_check_chainparams)', () => {
  for (const network of networks) {
    const p = chainParams(network)

    it(`${network}: powLimit encodes to bits that decode positive, in range and within powLimit`, () => {
      assert.equal(p.powLimitBits, encodeCompact(p.powLimit))
      const d = decodeCompact(p.powLimitBits)
      assert.equal(d.negative, false)
      assert.equal(d.overflow, false)
      assert.ok(d.target > 0n && d.target <= p.powLimit)
      assert.equal(encodeCompact(d.target), p.powLimitBits, 'canonical')
      assert.ok(checkProofOfWork(new Uint8Array(32), p.powLimitBits, p.powLimit), 'a zero hash meets the easiest target')
      assert.equal(checkProofOfWork(new Uint8Array(32).fill(0xff), p.powLimitBits, p.powLimit), false)
    })

    it(`${network}: the subsidy schedule fits under maxMoney, maxMoney is exact as a JSON number`, () => {
      assert.ok(totalSupply(p) <= p.maxMoney)
      assert.ok(p.maxMoney <= BigInt(Number.MAX_SAFE_INTEGER))
      assert.ok(p.initialSubsidy > 0n)
    })

    it(`${network}: coinbase maturity is shorter than a halving interval and a reorg limit`, () => {
      assert.ok(p.coinbaseMaturity > 0)
      assert.ok(p.coinbaseMaturity < p.halvingInterval)
      assert.ok(p.coinbaseMaturity < p.maxReorgDepth)
    })

    it(`${network}: timing rules are whole seconds and the half-life a whole number of blocks`, () => {
      for (const v of [p.targetSpacing, p.asertHalfLife, p.maxFutureBlockTime]) assert.ok(Number.isSafeInteger(v) && v > 0)
      assert.equal(p.asertHalfLife % p.targetSpacing, 0)
      assert.equal(p.medianTimeSpan, 11)
      assert.equal(p.maxFutureBlockTime, 2 * 60 * 60)
      assert.equal(p.maxBlockWeight, 4_000_000)
    })

    it(`${network}: ASERT from an anchor at powLimit stays at powLimit on schedule`, () => {
      const bits = nextBitsAsert({
        anchorTarget: decodeCompact(p.powLimitBits).target,
        timeDiff: BigInt(p.targetSpacing),
        heightDiff: 0n,
        targetSpacing: p.targetSpacing,
        halfLife: p.asertHalfLife,
        powLimit: p.powLimit
      })
      assert.equal(bits, p.powLimitBits)
    })

    it(`${network}: is frozen, fresh per call, and carries its genesis at powLimitBits`, () => {
      assert.ok(Object.isFrozen(p))
      assert.notEqual(chainParams(network), p)
      assert.deepEqual(chainParams(network), p)
      assert.ok(Object.isFrozen(p.genesis))
      assert.equal(p.genesis.bits, p.powLimitBits)
      assert.equal(p.genesis.hash.length, 32)
      assert.equal(p.network, network)
    })
  }

  it('main: 60 s blocks, 1 h half-life, 5 coins halving about every 4 years, maturity 100', () => {
    const p = chainParams('main')
    assert.equal(p.targetSpacing, 60)
    assert.equal(p.asertHalfLife, 3600)
    assert.equal(p.asertHalfLife / p.targetSpacing, 60, 'blocks per half-life')
    assert.equal(p.noRetargeting, false)
    assert.equal(p.initialSubsidy, 5n * COIN)
    assert.equal(p.halvingInterval, 2_100_000)
    const years = p.halvingInterval * p.targetSpacing / (365.25 * 86400)
    assert.ok(years > 3.9 && years < 4.1, `${years} years`)
    assert.equal(p.coinbaseMaturity, 100)
    assert.equal(p.maxReorgDepth, 1_000)
    assert.equal(p.bech32Hrp, 'pd')
  })

  it('main: powLimit 2^236 - 1 (0x1e0fffff) costs 2^20 hashes, and ASERT\'s product fits 256 bits', () => {
    const p = chainParams('main')
    assert.equal(p.powLimit, (1n << 236n) - 1n)
    assert.equal(p.powLimitBits, 0x1e0fffff)
    const work = blockWork(p.powLimitBits)
    assert.ok(work >= 1n << 20n && work < (1n << 20n) + (1n << 5n), `work ${work}`)
    // anchorTarget (≤ powLimit) × factor (< 2^17) must stay below 2^256 for 256-bit code.
    assert.ok(bitLength(p.powLimit) + 17 <= 256)
  })

  it('regtest: anything-goes target like Bitcoin\'s regtest, never retargets', () => {
    const p = chainParams('regtest')
    assert.equal(p.powLimit, (1n << 255n) - 1n)
    assert.equal(p.powLimitBits, 0x207fffff)
    assert.equal(blockWork(p.powLimitBits), 2n)
    assert.equal(p.noRetargeting, true)
    assert.equal(p.halvingInterval, 150)
    assert.equal(p.coinbaseMaturity, 10)
    assert.equal(p.maxReorgDepth, 10_000)
    assert.equal(p.bech32Hrp, 'pdrt')
  })

  it('networks do not share an address prefix and use valid lower-case bech32 HRPs', () => {
    const hrps = networks.map(n => chainParams(n).bech32Hrp)
    assert.equal(new Set(hrps).size, hrps.length)
    for (const hrp of hrps) assert.match(hrp, /^[a-z]{1,83}$/)
  })

  it('rejects an unknown network', () => {
    assert.throws(() => chainParams('testnet' as Network), RangeError)
  })
})
