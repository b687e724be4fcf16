/**
 * The exit policy language (`src/onion/exit-policy.ts`): Tor's first-match rules, masks, port
 * ranges, `*4`/`*6`, private ranges rejected by default and opened only by rules confined to
 * them, IPv4-mapped IPv6 judged as IPv4, `allowsPort`, limits and errors that name the rule.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  DEFAULT_EXIT_POLICY, ExitPolicyError, MAX_EXIT_POLICY_RULES, isPrivateAddress, parseExitPolicy
} from '../../../src/onion/exit-policy.ts'

describe('exit policy: Tor rules', () => {
  it('the first matching rule decides', () => {
    const p = parseExitPolicy(['reject 1.2.3.4:80', 'accept 1.2.3.0/24:*', 'reject *:*'])
    assert.equal(p.allows('1.2.3.4', 80), false)
    assert.equal(p.allows('1.2.3.4', 81), true)
    assert.equal(p.allows('1.2.3.5', 80), true)
    assert.equal(p.allows('1.2.4.5', 80), false)
  })

  it('masks: /bits, dotted IPv4 masks, host bits dropped; IPv6 prefixes', () => {
    const p = parseExitPolicy('accept 8.8.0.0/255.255.0.0:53, accept 9.9.9.9/16:53, accept [2001:db8::]/32:443, reject *:*')
    assert.equal(p.allows('8.8.4.4', 53), true)
    assert.equal(p.allows('8.9.0.1', 53), false)
    assert.equal(p.allows('9.9.1.1', 53), true, '9.9.9.9/16 is 9.9.0.0/16')
    assert.equal(p.allows('2001:db8:ffff::1', 443), true)
    assert.equal(p.allows('2001:db9::1', 443), false)
    assert.deepEqual(p.rules.slice(-4), ['accept 8.8.0.0/16:53', 'accept 9.9.0.0/16:53', 'accept [2001:db8::]/32:443', 'reject *:*'])
  })

  it('port ranges are inclusive; a missing port means every port', () => {
    const p = parseExitPolicy(['accept 5.5.5.5', 'accept *:1000-2000'])
    assert.equal(p.allows('6.6.6.6', 999), false)
    assert.equal(p.allows('6.6.6.6', 1000), true)
    assert.equal(p.allows('6.6.6.6', 2000), true)
    assert.equal(p.allows('6.6.6.6', 2001), false)
    assert.equal(p.allows('5.5.5.5', 1), true)
    assert.equal(p.allows('5.5.5.5', 0), false, 'port 0 is never allowed')
    assert.equal(p.allows('5.5.5.5', 65536), false)
  })

  it('*4 and *6 match one family; accept6 applies to IPv6 only', () => {
    const p = parseExitPolicy(['reject *4:22', 'accept6 *:22', 'accept *6:80'])
    assert.equal(p.allows('1.1.1.1', 22), false)
    assert.equal(p.allows('2606:4700::1111', 22), true)
    assert.equal(p.allows('2606:4700::1111', 80), true)
    assert.equal(p.allows('1.1.1.1', 80), false)
    assert.ok(p.rules.includes('accept *6:22'))
  })

  it('a policy that accepts only port 80 rejects everything else', () => {
    const p = parseExitPolicy('accept *:80')
    assert.equal(p.allows('93.184.215.14', 80), true)
    assert.equal(p.allows('93.184.215.14', 443), false)
    assert.equal(p.allows('2606:2800::1', 80), true)
    assert.equal(p.rules.at(-1), 'reject *:*', 'no match rejects, and the rules say so')
    assert.equal(p.allowsPort(80), true)
    assert.equal(p.allowsPort(443), false)
  })

  it("Tor's default policy rejects its abuse ports and accepts the rest", () => {
    const p = parseExitPolicy(DEFAULT_EXIT_POLICY)
    for (const port of [25, 119, 135, 139, 445, 563, 1214, 4661, 4666, 6346, 6429, 6699, 6881, 6999]) {
      assert.equal(p.allows('93.184.215.14', port), false, `port ${port}`)
      assert.equal(p.allowsPort(port), false, `allowsPort ${port}`)
    }
    for (const port of [22, 80, 443, 134, 140, 6430, 7000]) assert.equal(p.allows('93.184.215.14', port), true, `port ${port}`)
    assert.equal(p.allows('192.168.1.1', 80), false)
  })

  it('a name or a malformed address is never allowed', () => {
    const p = parseExitPolicy('accept *:*', { rejectPrivate: false })
    assert.equal(p.allows('example.com', 80), false)
    assert.equal(p.allows('1.2.3.04', 80), false)
    assert.equal(p.allows('fe80::1%eth0', 80), false)
    assert.equal(p.allows('1.2.3.4', 80), true)
  })
})

describe('exit policy: private ranges', () => {
  const privates = ['0.0.0.0', '10.1.2.3', '100.64.0.1', '127.0.0.1', '127.255.0.9', '169.254.1.1', '172.16.0.1', '172.31.255.255',
    '192.168.0.1', '::', '::1', 'fe80::1', 'fc00::1', 'fd12:3456::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:7f00:1']

  it('are rejected by default, also under accept *:*, also as IPv4-mapped IPv6', () => {
    const p = parseExitPolicy('accept *:*')
    for (const a of privates) assert.equal(p.allows(a, 80), false, a)
    for (const a of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '2001:4860::8888', '::ffff:8.8.8.8']) assert.equal(p.allows(a, 80), true, a)
    assert.equal(p.rules[0], 'reject private:*', 'the standard private ranges are written as private again')
  })

  it("are the node's own addresses too", () => {
    const p = parseExitPolicy('accept *:*', { ownAddresses: ['203.0.113.7', '2001:db8::7', 'not an address'] })
    assert.equal(p.allows('203.0.113.7', 443), false)
    assert.equal(p.allows('::ffff:203.0.113.7', 443), false)
    assert.equal(p.allows('2001:db8::7', 443), false)
    assert.equal(p.allows('203.0.113.8', 443), true)
    assert.equal(isPrivateAddress('203.0.113.7', ['203.0.113.7']), true)
    assert.equal(isPrivateAddress('203.0.113.7'), false)
  })

  it('accept private:* opens them all (a test network)', () => {
    const p = parseExitPolicy(['accept private:*', 'reject *:*'])
    for (const a of privates) assert.equal(p.allows(a, 8080), true, a)
    assert.equal(p.allows('8.8.8.8', 80), false)
  })

  it('an accept confined to a private range opens that rule only, before a wildcard accept', () => {
    const p = parseExitPolicy(['accept 127.0.0.1:8080', 'accept *:*'])
    assert.equal(p.allows('127.0.0.1', 8080), true)
    assert.equal(p.allows('::ffff:127.0.0.1', 8080), true)
    assert.equal(p.allows('127.0.0.1', 22), false, 'the rest of 127/8 stays closed under accept *:*')
    assert.equal(p.allows('127.0.0.2', 8080), false)
    assert.equal(p.allows('10.0.0.1', 8080), false, 'other private ranges stay closed')
    assert.equal(p.allows('8.8.8.8', 22), true)
  })

  it('a broad range that merely contains a private range does not open it', () => {
    const p = parseExitPolicy(['accept 8.0.0.0/5:*'])
    assert.equal(p.allows('9.1.1.1', 80), true)
    assert.equal(p.allows('10.1.1.1', 80), false)
  })

  it('rejectPrivate: false leaves the policy as written', () => {
    const p = parseExitPolicy('accept *:*', { rejectPrivate: false })
    assert.equal(p.allows('127.0.0.1', 80), true)
    assert.deepEqual(p.rules, ['accept *:*'])
  })

  it('parsing the normalised rules again gives the same policy (what a client does with a descriptor)', () => {
    for (const src of [['accept 127.0.0.1:8080', 'accept *:*'], DEFAULT_EXIT_POLICY, ['accept *:80'], ['accept private:*', 'accept *:443']]) {
      const p = parseExitPolicy(src, { ownAddresses: ['198.51.100.1'] })
      const again = parseExitPolicy(p.rules)
      assert.deepEqual(again.rules, p.rules)
      for (const a of ['127.0.0.1', '10.0.0.1', '198.51.100.1', '8.8.8.8', '::1']) {
        for (const port of [22, 80, 443, 8080]) assert.equal(again.allows(a, port), p.allows(a, port), `${a}:${port}`)
      }
    }
  })

  it('allowsPort ignores accepts confined to private ranges', () => {
    assert.equal(parseExitPolicy(['accept 127.0.0.1:8080']).allowsPort(8080), false)
    assert.equal(parseExitPolicy(['accept 127.0.0.1:8080', 'accept 1.2.3.4:8080']).allowsPort(8080), true)
    assert.equal(parseExitPolicy(['reject *4:*', 'accept *4:80', 'accept *6:80']).allowsPort(80), true)
    assert.equal(parseExitPolicy(['reject *4:*', 'reject *6:*', 'accept *:80']).allowsPort(80), false)
    assert.equal(parseExitPolicy('accept *:*').allowsPort(0), false)
  })
})

describe('exit policy: errors and limits', () => {
  const bad: Array<[string, RegExp]> = [
    ['acept *:80', /expected/],
    ['accept', /expected/],
    ['accept *:80 now', /expected/],
    ['accept 1.2.3.4/33:80', /mask/],
    ['accept 1.2.3.4/255.0.255.0:80', /contiguous/],
    ['accept *:0', /port/],
    ['accept *:80-79', /port/],
    ['accept *:65536', /port/],
    ['accept *:http', /port/],
    ['accept 1.2.3:80', /IPv4/],
    ['accept 256.1.1.1:80', /IPv4/],
    ['accept ::1:80', /IPv4/],
    ['accept [::g]:80', /IPv6/],
    ['accept [::1]/129:80', /mask/],
    ['accept6 1.2.3.4:80', /IPv4/],
    ['accept example.com:80', /IPv4/]
  ]
  for (const [rule, why] of bad) {
    it(`"${rule}" is an ExitPolicyError naming the rule`, () => {
      assert.throws(() => parseExitPolicy(['accept *:443', rule]), (err: unknown) => {
        assert.ok(err instanceof ExitPolicyError)
        assert.equal((err as Error).name, 'ExitPolicyError')
        assert.equal((err as ExitPolicyError).rule, rule)
        assert.match((err as Error).message, new RegExp(rule.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        assert.match((err as Error).message, why)
        return true
      })
    })
  }

  it(`more than ${MAX_EXIT_POLICY_RULES} rules, or a rule over 128 characters, is refused`, () => {
    const many = Array.from({ length: MAX_EXIT_POLICY_RULES + 1 }, (_, i) => `accept 1.1.${i >> 8}.${i & 255}:80`)
    assert.throws(() => parseExitPolicy(many), ExitPolicyError)
    assert.throws(() => parseExitPolicy(many.join(',')), ExitPolicyError)
    assert.equal(parseExitPolicy(many.slice(1)).rules.length > MAX_EXIT_POLICY_RULES, true)
    assert.throws(() => parseExitPolicy(`accept *:80${' '.repeat(130)}x`), /longer than 128/)
    assert.throws(() => parseExitPolicy('x'.repeat(1_000_000)), ExitPolicyError)
  })

  it('an empty policy rejects everything', () => {
    const p = parseExitPolicy('')
    assert.deepEqual(p.rules, ['reject *:*'])
    assert.equal(p.allows('8.8.8.8', 80), false)
  })
})
