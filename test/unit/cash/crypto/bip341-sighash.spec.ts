/**
 * The BIP341 key-path signature hash against BIP341's wallet test vectors
 * (test/vectors/bip341-wallet-test-vectors.json, see test/vectors/README.md): for each input of
 * `keyPathSpending`, the shared hashes, the signature message and the sighash match; the tweaked
 * key signs the expected witness; the `scriptPubKey` section's output keys, scripts and
 * addresses come out of p2trScript and encodeAddress. Then agreement with btc-signer's own
 * implementation over random transactions for every hash type, and the refusals.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { RawTx, Transaction } from '@scure/btc-signer'
import { tapLeafHash } from '@scure/btc-signer/payment.js'
import { taprootTweakPrivKey, taprootTweakPubkey } from '@scure/btc-signer/utils.js'
import { decodeAddress, encodeAddress, p2trScript, programFromScript } from '../../../../src/cash/primitives/address.ts'
import { verifySigCheck } from '../../../../src/cash/consensus/verify.ts'
import { signSchnorr, xOnlyPublicKey } from '../../../utils/schnorr.ts'
import {
  SIGHASH_DEFAULT, SighashError, TAPROOT_HASH_TYPES, isValidTaprootHashType, precomputeSighash, taprootSigMsg, taprootSighash
} from '../../../../src/cash/primitives/sighash.ts'
import type { SighashOutput, SighashTx } from '../../../../src/cash/primitives/sighash.ts'

interface Leaf { id: number, script: string, leafVersion: number }
type ScriptTree = Leaf | ScriptTree[]

interface ScriptPubKeyVector {
  given: { internalPubkey: string, scriptTree: ScriptTree | null }
  intermediary: { leafHashes?: string[], merkleRoot: string | null, tweak: string, tweakedPubkey: string }
  expected: { scriptPubKey: string, bip350Address: string, scriptPathControlBlocks?: string[] }
}

interface InputSpending {
  given: { txinIndex: number, internalPrivkey: string, merkleRoot: string | null, hashType: number }
  intermediary: {
    internalPubkey: string
    tweak: string
    tweakedPrivkey: string
    sigMsg: string
    precomputedUsed: string[]
    sigHash: string
  }
  expected: { witness: string[] }
}

interface KeyPathVector {
  given: { rawUnsignedTx: string, utxosSpent: Array<{ scriptPubKey: string, amountSats: number }> }
  intermediary: Record<'hashAmounts' | 'hashOutputs' | 'hashPrevouts' | 'hashScriptPubkeys' | 'hashSequences', string>
  inputSpending: InputSpending[]
  auxiliary: { fullySignedTx: string }
}

interface Vectors {
  version: number
  scriptPubKey: ScriptPubKeyVector[]
  keyPathSpending: KeyPathVector[]
}

const vectors = JSON.parse(await readFile(new URL('../../../vectors/bip341-wallet-test-vectors.json', import.meta.url), 'utf8')) as Vectors

/** The transaction in our shape; btc-signer decodes txids in display order, ours are internal. */
function toSighashTx (raw: Uint8Array): SighashTx {
  const tx = RawTx.decode(raw)
  return {
    version: tx.version,
    lockTime: tx.lockTime,
    inputs: tx.inputs.map(i => ({ txid: i.txid.slice().reverse(), index: i.index, sequence: i.sequence })),
    outputs: tx.outputs.map(o => ({ amount: o.amount, script: o.script }))
  }
}

const taggedHash = (tag: string, ...parts: Uint8Array[]): Uint8Array => schnorr.utils.taggedHash(tag, ...parts)

describe('BIP341 wallet vectors: keyPathSpending', () => {
  assert.equal(vectors.version, 1)
  for (const [n, vector] of vectors.keyPathSpending.entries()) {
    const tx = toSighashTx(hexToBytes(vector.given.rawUnsignedTx))
    const spent: SighashOutput[] = vector.given.utxosSpent.map(u => ({ amount: BigInt(u.amountSats), script: hexToBytes(u.scriptPubKey) }))
    const pre = precomputeSighash(tx, spent)

    it(`transaction ${n}: shared hashes (sha_prevouts, sha_amounts, …)`, () => {
      assert.deepEqual({
        hashAmounts: bytesToHex(pre.hashAmounts),
        hashOutputs: bytesToHex(pre.hashOutputs),
        hashPrevouts: bytesToHex(pre.hashPrevouts),
        hashScriptPubkeys: bytesToHex(pre.hashScriptPubkeys),
        hashSequences: bytesToHex(pre.hashSequences)
      }, vector.intermediary)
    })

    for (const input of vector.inputSpending) {
      const { txinIndex, hashType, internalPrivkey, merkleRoot } = input.given
      it(`transaction ${n}, input ${txinIndex}, hash type 0x${hashType.toString(16).padStart(2, '0')}: sigMsg and sigHash`, () => {
        assert.equal(bytesToHex(taprootSigMsg(tx, txinIndex, spent, hashType, pre)), input.intermediary.sigMsg)
        assert.equal(bytesToHex(taprootSighash(tx, txinIndex, spent, hashType, pre)), input.intermediary.sigHash)
        // Without the precomputed hashes: same result.
        assert.equal(bytesToHex(taprootSighash(tx, txinIndex, spent, hashType)), input.intermediary.sigHash)
      })

      it(`transaction ${n}, input ${txinIndex}: tweaked key signs the expected witness`, () => {
        const priv = hexToBytes(internalPrivkey)
        const root = merkleRoot === null ? new Uint8Array(0) : hexToBytes(merkleRoot)
        const internalPub = xOnlyPublicKey(priv)
        assert.equal(bytesToHex(internalPub), input.intermediary.internalPubkey)
        assert.equal(bytesToHex(taggedHash('TapTweak', internalPub, root)), input.intermediary.tweak)
        const tweakedPriv = taprootTweakPrivKey(priv, root)
        assert.equal(bytesToHex(tweakedPriv), input.intermediary.tweakedPrivkey)

        // The spent output pays to the tweaked key, in exactly the P2TR form.
        const outputKey = programFromScript((spent[txinIndex] as SighashOutput).script)
        assert.ok(outputKey !== undefined)
        assert.equal(bytesToHex(outputKey), bytesToHex(xOnlyPublicKey(tweakedPriv)))

        const sighash = hexToBytes(input.intermediary.sigHash)
        const expected = hexToBytes(input.expected.witness[0] as string)
        assert.equal(input.expected.witness.length, 1)
        // 64 bytes for SIGHASH_DEFAULT, else the hash type appended (BIP341).
        assert.equal(expected.length, hashType === SIGHASH_DEFAULT ? 64 : 65)
        if (hashType !== SIGHASH_DEFAULT) assert.equal(expected[64], hashType)
        const sig = expected.subarray(0, 64)
        assert.equal(verifySigCheck({ sig, msg: sighash, pubkey: outputKey }), true)
        // The vectors were signed with all-zero aux randomness, so our signer reproduces them.
        assert.equal(bytesToHex(signSchnorr(sighash, tweakedPriv, new Uint8Array(32))), bytesToHex(sig))
      })
    }

    it(`transaction ${n}: the fully signed transaction carries those witnesses`, () => {
      const signed = RawTx.decode(hexToBytes(vector.auxiliary.fullySignedTx))
      assert.ok(signed.witnesses !== undefined)
      for (const input of vector.inputSpending) {
        const witness: Uint8Array[] = signed.witnesses[input.given.txinIndex] ?? []
        assert.deepEqual(witness.map(w => bytesToHex(w)), input.expected.witness)
      }
    })
  }
})

/** Leaf hashes, merkle root and control-block paths of a BIP341 script tree. */
function walkTree (tree: ScriptTree): { hash: Uint8Array, leaves: Array<{ leaf: Leaf, hash: Uint8Array, path: Uint8Array[] }> } {
  if (!Array.isArray(tree)) {
    const hash = tapLeafHash(hexToBytes(tree.script), tree.leafVersion)
    return { hash, leaves: [{ leaf: tree, hash, path: [] }] }
  }
  assert.equal(tree.length, 2)
  const [left, right] = [walkTree(tree[0] as ScriptTree), walkTree(tree[1] as ScriptTree)]
  for (const l of left.leaves) l.path.push(right.hash)
  for (const r of right.leaves) r.path.push(left.hash)
  const [a, b] = bytesToHex(left.hash) < bytesToHex(right.hash) ? [left.hash, right.hash] : [right.hash, left.hash]
  return { hash: taggedHash('TapBranch', a, b), leaves: [...left.leaves, ...right.leaves] }
}

describe('BIP341 wallet vectors: scriptPubKey', () => {
  for (const [n, vector] of vectors.scriptPubKey.entries()) {
    it(`output ${n}: output key, script and address (prefix "bc")`, () => {
      const internal = hexToBytes(vector.given.internalPubkey)
      let root: Uint8Array = new Uint8Array(0)
      if (vector.given.scriptTree !== null) {
        const walked = walkTree(vector.given.scriptTree)
        root = walked.hash
        const byId = walked.leaves.sort((x, y) => x.leaf.id - y.leaf.id)
        assert.deepEqual(byId.map(l => bytesToHex(l.hash)), vector.intermediary.leafHashes)
        const [, parity] = taprootTweakPubkey(internal, root)
        assert.deepEqual(byId.map(l => bytesToHex(new Uint8Array([l.leaf.leafVersion | parity, ...internal, ...l.path.flatMap(p => [...p])]))),
          vector.expected.scriptPathControlBlocks)
      }
      assert.equal(vector.intermediary.merkleRoot, root.length === 0 ? null : bytesToHex(root))
      assert.equal(bytesToHex(taggedHash('TapTweak', internal, root)), vector.intermediary.tweak)
      const [outputKey] = taprootTweakPubkey(internal, root)
      assert.equal(bytesToHex(outputKey), vector.intermediary.tweakedPubkey)

      const script = p2trScript(outputKey)
      assert.equal(bytesToHex(script), vector.expected.scriptPubKey)
      assert.equal(bytesToHex(programFromScript(script) as Uint8Array), vector.intermediary.tweakedPubkey)
      assert.equal(encodeAddress('bc', outputKey), vector.expected.bip350Address)
      assert.equal(bytesToHex(decodeAddress(vector.expected.bip350Address, 'bc')), vector.intermediary.tweakedPubkey)
    })
  }
})

/** Deterministic pseudo-random bytes (xorshift32), so a failure reproduces. */
function makeRandom (seed: number): { bytes: (n: number) => Uint8Array, int: (max: number) => number } {
  let s = seed >>> 0 || 1
  const next = (): number => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s }
  return {
    bytes: (n) => Uint8Array.from({ length: n }, () => next() & 0xff),
    int: (max) => next() % max
  }
}

describe('agreement with btc-signer (Transaction.preimageWitnessV1)', () => {
  it('gives the same sighash for random transactions, every input and every hash type', () => {
    const rnd = makeRandom(341)
    // btc-signer parses output scripts, so these are well-formed: OP_RETURN and one push, some
    // long enough to need a 0xfd CompactSize length prefix; or a P2TR script.
    const randomScript = (): Uint8Array => {
      const kind = rnd.int(3)
      if (kind === 0) return p2trScript(rnd.bytes(32))
      if (kind === 1) { const n = rnd.int(76); return new Uint8Array([0x6a, n, ...rnd.bytes(n)]) }
      const n = 253 + rnd.int(300)
      return new Uint8Array([0x6a, 0x4d, n & 0xff, n >> 8, ...rnd.bytes(n)])
    }
    let compared = 0
    for (let round = 0; round < 25; round++) {
      const nIn = 1 + rnd.int(4)
      const nOut = 1 + rnd.int(4)
      const tx: SighashTx = {
        version: rnd.int(2) === 0 ? 2 : 1,
        lockTime: rnd.int(2) === 0 ? 0 : rnd.int(0xffffffff),
        inputs: Array.from({ length: nIn }, () => ({ txid: rnd.bytes(32), index: rnd.int(5), sequence: rnd.int(2) === 0 ? 0xffffffff : rnd.int(0xffffffff) })),
        outputs: Array.from({ length: nOut }, () => ({ amount: BigInt(rnd.int(2 ** 31)) * 1000n, script: randomScript() }))
      }
      const spent: SighashOutput[] = tx.inputs.map(() => ({ amount: BigInt(rnd.int(2 ** 31)) * 7n, script: p2trScript(rnd.bytes(32)) }))
      const raw = RawTx.encode({
        version: tx.version,
        segwitFlag: false,
        inputs: tx.inputs.map(i => ({ txid: i.txid.slice().reverse(), index: i.index, finalScriptSig: new Uint8Array(0), sequence: i.sequence })),
        outputs: tx.outputs.map(o => ({ amount: o.amount, script: o.script })),
        witnesses: undefined,
        lockTime: tx.lockTime
      })
      const theirs = Transaction.fromRaw(raw, { allowUnknownOutputs: true, allowUnknownInputs: true, allowUnknownVersion: true })
      const pre = precomputeSighash(tx, spent)
      for (let i = 0; i < nIn; i++) {
        for (const hashType of TAPROOT_HASH_TYPES) {
          if ((hashType & 3) === 3 && i >= nOut) continue
          const expected = theirs.preimageWitnessV1(i, spent.map(s => s.script), hashType, spent.map(s => s.amount))
          assert.equal(bytesToHex(taprootSighash(tx, i, spent, hashType, pre)), bytesToHex(expected), `round ${round} input ${i} type ${hashType}`)
          compared++
        }
      }
    }
    assert.ok(compared > 200)
  })
})

describe('refusals', () => {
  const tx: SighashTx = {
    version: 2,
    lockTime: 0,
    inputs: [{ txid: new Uint8Array(32).fill(1), index: 0, sequence: 0xffffffff }, { txid: new Uint8Array(32).fill(2), index: 1, sequence: 0 }],
    outputs: [{ amount: 1000n, script: p2trScript(new Uint8Array(32).fill(3)) }]
  }
  const spent: SighashOutput[] = [{ amount: 5000n, script: p2trScript(new Uint8Array(32).fill(4)) }, { amount: 6000n, script: p2trScript(new Uint8Array(32).fill(5)) }]
  const reason = (r: string) => (err: unknown): boolean => err instanceof SighashError && err.name === 'SighashError' && err.reason === r

  it('knows exactly the hash types BIP341 allows', () => {
    const allowed = Array.from({ length: 256 }, (_, t) => t).filter(isValidTaprootHashType)
    assert.deepEqual(allowed, [0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83])
    for (const t of [0x04, 0x80, 0x84, 0xff, 0x41]) assert.throws(() => taprootSighash(tx, 0, spent, t), reason('bad-hashtype'))
  })

  it('refuses SIGHASH_SINGLE on an input with no output at its index', () => {
    assert.ok(taprootSighash(tx, 0, spent, 0x03).length === 32)
    assert.throws(() => taprootSighash(tx, 1, spent, 0x03), reason('single-without-output'))
    assert.throws(() => taprootSighash(tx, 1, spent, 0x83), reason('single-without-output'))
  })

  it('refuses a missing input and a spent-output list of the wrong length', () => {
    assert.throws(() => taprootSighash(tx, 2, spent, 0), reason('bad-input-index'))
    assert.throws(() => taprootSighash(tx, -1, spent, 0), reason('bad-input-index'))
    assert.throws(() => taprootSighash(tx, 0, spent.slice(0, 1), 0), reason('spent-outputs-mismatch'))
    assert.throws(() => precomputeSighash(tx, spent.slice(0, 1)), reason('spent-outputs-mismatch'))
  })

  it('refuses fields out of range', () => {
    const bad = (patch: Partial<SighashTx>): SighashTx => ({ ...tx, ...patch })
    assert.throws(() => taprootSighash(bad({ lockTime: 2 ** 32 }), 0, spent, 0), reason('bad-tx'))
    assert.throws(() => taprootSighash(bad({ version: 2 ** 31 }), 0, spent, 0), reason('bad-tx'))
    assert.throws(() => taprootSighash(bad({ outputs: [{ amount: -1n, script: new Uint8Array(0) }] }), 0, spent, 0), reason('bad-tx'))
    assert.throws(() => taprootSighash(bad({ inputs: [{ ...tx.inputs[0] as SighashTx['inputs'][0], txid: new Uint8Array(31) }, tx.inputs[1] as SighashTx['inputs'][0]] }), 0, spent, 0), reason('bad-tx'))
  })

  it('commits to what each hash type promises', () => {
    const base = bytesToHex(taprootSighash(tx, 0, spent, 0x00))
    assert.equal(bytesToHex(taprootSighash(tx, 0, spent, 0x01)) === base, false, 'DEFAULT and ALL differ (the type byte is signed)')
    const otherAmount: SighashOutput[] = [spent[0] as SighashOutput, { ...spent[1] as SighashOutput, amount: 6001n }]
    // Every type without ANYONECANPAY commits to all spent amounts; with it, only its own.
    assert.notEqual(bytesToHex(taprootSighash(tx, 0, otherAmount, 0x00)), base)
    assert.equal(bytesToHex(taprootSighash(tx, 0, otherAmount, 0x81)), bytesToHex(taprootSighash(tx, 0, spent, 0x81)))
    // NONE does not commit to outputs.
    const otherOutputs = { ...tx, outputs: [{ amount: 999n, script: new Uint8Array([0x6a]) }] }
    assert.equal(bytesToHex(taprootSighash(otherOutputs, 0, spent, 0x02)), bytesToHex(taprootSighash(tx, 0, spent, 0x02)))
    assert.notEqual(bytesToHex(taprootSighash(otherOutputs, 0, spent, 0x01)), bytesToHex(taprootSighash(tx, 0, spent, 0x01)))
  })
})
