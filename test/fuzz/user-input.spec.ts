/**
 * Fuzzing the parsers of what users type or paste (through the CLI and the API): addresses,
 * amounts of coins, block and transaction hashes, CIDs. Valid values round-trip through their
 * formatter; mutated and arbitrary strings parse or throw the parser's typed error.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { formatCoins, parseCoins } from '../../src/cash/amount.ts'
import { MAX_MONEY } from '../../src/cash/consensus/subsidy.ts'
import { decodeAddress, encodeAddress } from '../../src/cash/primitives/address.ts'
import { hashToHex, hexToHash } from '../../src/cash/primitives/hash.ts'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before } from 'node:test'
import { parseCommandArgs } from '../../src/cli/command.ts'
import { COMMANDS } from '../../src/cli/main.ts'
import { CONFIG_FILE, readConfigFile, resolveDaemonConfig } from '../../src/daemon/config.ts'
import { parseCid } from '../../src/share/block.ts'
import { cidArb, decodeOrTyped, decodeOrTypedAsync, fuzz, fuzzAsync } from '../utils/fuzz.ts'
import { teardown } from '../utils/teardown.ts'

/** A string with one to three characters replaced, inserted or deleted. */
function mutatedString (valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.constantFrom('replace', 'insert', 'delete'), fc.oneof(fc.string({ minLength: 1, maxLength: 1 }), fc.constantFrom('1', 'q', 'Q', 'İ', '\u0000', ' ', '.', '-', 'e')))
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([s, edits]) => edits.reduce((acc, [at, op, ch]) => {
    const i = at % (acc.length + 1)
    if (op === 'insert') return acc.slice(0, i) + ch + acc.slice(i)
    if (op === 'delete') return acc.slice(0, i) + acc.slice(i + 1)
    return acc.slice(0, i) + ch + acc.slice(i + 1)
  }, s))
}

/** Valid strings, mutated ones and arbitrary ones. */
function hostileStrings (valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof({ arbitrary: mutatedString(valid), weight: 5 }, { arbitrary: valid, weight: 1 }, { arbitrary: fc.string({ maxLength: 100 }), weight: 1 }, { arbitrary: fc.string({ unit: 'binary', maxLength: 100 }), weight: 1 })
}

const program = fc.uint8Array({ minLength: 32, maxLength: 32 })
const address = program.map(p => encodeAddress('pdrt', p))

describe('fuzz: user input', () => {
  it('addresses: round-trip in either case; anything else is a program of 32 bytes or AddressError', () => {
    fuzz(program, (p) => {
      const a = encodeAddress('pdrt', p)
      assert.deepStrictEqual(decodeAddress(a, 'pdrt'), p)
      assert.deepStrictEqual(decodeAddress(a.toUpperCase(), 'pdrt'), p)
    })
    fuzz(hostileStrings(address), (s) => {
      const p = decodeOrTyped(() => decodeAddress(s, 'pdrt'), ['AddressError'])
      if (p != null) {
        assert.equal(p.length, 32)
        assert.equal(encodeAddress('pdrt', p), s.toLowerCase())
      }
    })
  })

  it('amounts: every amount formats and parses back; anything else is an amount in range or InvalidArgumentError', () => {
    const units = fc.bigInt({ min: 1n, max: MAX_MONEY })
    fuzz(units, (u) => { assert.equal(parseCoins(formatCoins(u)), u) })
    fuzz(hostileStrings(units.map(formatCoins)), (s) => {
      const u = decodeOrTyped(() => parseCoins(s), ['InvalidArgumentError'])
      if (u != null) assert.ok(u > 0n && u <= MAX_MONEY)
    })
  })

  it('hashes: hex round-trips; anything else is 32 bytes or DecodeError', () => {
    fuzz(fc.uint8Array({ minLength: 32, maxLength: 32 }), (h) => { assert.deepStrictEqual(hexToHash(hashToHex(h)), h) })
    fuzz(hostileStrings(fc.uint8Array({ minLength: 32, maxLength: 32 }).map(hashToHex)), (s) => {
      const h = decodeOrTyped(() => hexToHash(s), ['DecodeError'])
      if (h != null) assert.equal(h.length, 32)
    })
  })

  it('command lines: every command parses any arguments or throws UsageError', () => {
    const command = fc.constantFrom(...COMMANDS)
    const arg = (names: string[]): fc.Arbitrary<string> => fc.oneof(
      fc.constantFrom(...names.map(n => `--${n}`), '--', '-', '--json', '--help', '--data-dir', '-h', '--no-such-flag', '-1', '-0.5', '1e9', ''),
      fc.tuple(fc.constantFrom(...names), fc.string({ maxLength: 8 })).map(([n, v]) => `--${n}=${v}`),
      fc.string({ maxLength: 10 })
    )
    fuzz(command.chain(cmd => fc.tuple(fc.constant(cmd), fc.array(arg(Object.keys(cmd.options ?? {}).concat('json')), { maxLength: 6 }))), ([cmd, args]) => {
      decodeOrTyped(() => parseCommandArgs(cmd, args), ['UsageError'])
    })
  })

  it('CIDs: every CID peerd handles parses from its text; anything else is a CID or InvalidArgumentError', () => {
    fuzz(cidArb, (cid) => { assert.equal(parseCid(cid.toString()).toString(), cid.toString()) })
    fuzz(hostileStrings(cidArb.map(c => c.toString())), (s) => {
      decodeOrTyped(() => parseCid(s), ['InvalidArgumentError'])
    })
  })

  describe('config files', () => {
    const td = teardown()
    let dir = ''
    before(async () => { dir = await td.dir('peerd-fuzz-config-') })

    it('any config.json is read and resolved, or refused with ConfigError or InvalidArgumentError', async () => {
      const keys = ['network', 'listen', 'bootstrap', 'mdns', 'relay', 'maxConnections', 'maxConnectionsPerIp', 'minConnections', 'logLevel',
        'reshare', 'mine', 'mineThreads', 'mempoolMaxBytes', 'api', 'apiAllowRemote', 'gateway', 'gatewayAllowRemote', '__proto__', 'constructor']
      const value = fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constantFrom('regtest', 'main', '127.0.0.1:0', '[::1]:99999', '/ip4/127.0.0.1/tcp/0', 'debug'),
        fc.array(fc.constantFrom('/ip4/127.0.0.1/tcp/0', '/ip4/1.2.3.4/tcp/1/p2p/12D3KooWRALy3EKa1Z5CbVBz1HE15XpYgzNK4nP31nVSi7SNC', '/dns4/x', 'junk', ''), { maxLength: 2 }))
      const text = fc.oneof(
        { arbitrary: fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 4 }).map(o => JSON.stringify(o)), weight: 6 },
        { arbitrary: fc.json({ maxDepth: 2 }), weight: 1 },
        { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
        { arbitrary: fc.constantFrom('{"__proto__": {"network": 1}}', '{"toString": 1}', '{"listen": ["/ip4/127.0.0.1/tcp/0"], "listen": 3}'), weight: 1 }
      )
      await fuzzAsync(text, async (t) => {
        await writeFile(join(dir, CONFIG_FILE), t)
        const cfg = await decodeOrTypedAsync(async () => await readConfigFile(dir), ['ConfigError'])
        if (cfg != null) decodeOrTyped(() => resolveDaemonConfig({ ...cfg, dataDir: dir }), ['InvalidArgumentError', 'ConfigError'])
      }, 0.5)
    })
  })
})
