/**
 * Fuzzing the gateway's header parsing (`parseRange`, `etagMatches` in `src/share/gateway.ts`):
 * any header and size give a range inside the content, 'unsatisfiable' or undefined, exactly
 * as a small reference reading of RFC 9110 §14.2 says, never an exception; parsing a header as
 * long as Node.js accepts (16 KiB) stays linear.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { etagMatches, parseRange } from '../../src/share/gateway.ts'
import type { ByteRange } from '../../src/share/gateway.ts'
import { fuzz } from '../utils/fuzz.ts'

/** JavaScript's `\s`, which the parser allows around the tokens. */
const WS = /\s/u

/** The reference: `bytes = first - last`, whitespace allowed around each token, one range only. */
function reference (header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header == null || size === 0) return undefined
  let i = 0
  const skip = (): void => { while (i < header.length && WS.test(header[i] as string)) i++ }
  const digits = (): string => { const from = i; while (i < header.length && /[0-9]/.test(header[i] as string)) i++; return header.slice(from, i) }
  skip()
  if (header.slice(i, i + 5).toLowerCase() !== 'bytes') return undefined
  i += 5
  skip()
  if (header[i] !== '=') return undefined
  i++
  skip()
  const first = digits()
  skip()
  if (header[i] !== '-') return undefined
  i++
  skip()
  const last = digits()
  skip()
  if (i !== header.length) return undefined
  if (first === '') {
    if (last === '') return undefined
    const suffix = Number(last)
    return suffix === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? Infinity : Number(last)
  if (end < start) return undefined
  if (start >= size) return 'unsatisfiable'
  return { start, end: Math.min(end, size - 1) }
}

const ws = fc.string({ unit: fc.constantFrom(' ', '\t', '\u00a0', '\ufeff'), maxLength: 3 })
const num = fc.oneof(fc.constant(''), fc.nat().map(String), fc.bigInt({ min: 0n, max: 10n ** 25n }).map(String), fc.string({ unit: fc.constantFrom('0', '9'), maxLength: 30 }))

/** Headers near the grammar: every token present, missing or mangled, whitespace anywhere. */
const rangeHeader: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(ws, fc.constantFrom('bytes', 'Bytes', 'BYTES', 'byte', 'items', ''), ws, fc.constantFrom('=', '', '=='), ws, num, ws,
    fc.constantFrom('-', '', '--', ','), ws, num, ws, fc.constantFrom('', '', '', ',0-1', 'x', '.5'))
    .map(parts => parts.join('')),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(' ', '1', '-', '=', 'bytes', ','), maxLength: 60 })
)
const size = fc.oneof(fc.constant(0), fc.nat({ max: 100 }), fc.maxSafeNat())

describe('fuzz: gateway Range and ETag headers', () => {
  it('parseRange agrees with the reference and stays inside the content', () => {
    fuzz(fc.tuple(fc.option(rangeHeader, { nil: undefined }), size), ([header, n]) => {
      const got = parseRange(header, n)
      assert.deepStrictEqual(got, reference(header, n), JSON.stringify(header))
      if (typeof got === 'object') {
        assert.ok(Number.isInteger(got.start) && Number.isInteger(got.end))
        assert.ok(got.start >= 0 && got.start <= got.end && got.end < n)
      }
    }, 2)
  })

  it('parses a 16 KiB header in linear time (the old pattern took half a second: found writing this target)', () => {
    for (const header of ['bytes=' + ' '.repeat(16_000) + 'x', 'bytes=1-' + ' '.repeat(16_000) + 'x', ' '.repeat(16_000) + 'x', 'bytes=' + '1 '.repeat(8_000)]) {
      const t0 = performance.now()
      assert.equal(parseRange(header, 100), undefined)
      assert.ok(performance.now() - t0 < 50, `parseRange of ${header.length} characters took ${(performance.now() - t0).toFixed(0)} ms`)
    }
  })

  it('etagMatches: any header gives a boolean, true when the tag is listed (weakly) or for *', () => {
    const tag = fc.string({ unit: fc.constantFrom('a', 'b', '1', '-'), minLength: 1, maxLength: 8 }).map(s => `"${s}"`)
    fuzz(fc.tuple(fc.array(fc.oneof(tag, fc.string({ maxLength: 12 })), { maxLength: 5 }), tag, fc.boolean(), fc.nat()), ([others, etag, weak, at]) => {
      const list = [...others]
      list.splice(at % (list.length + 1), 0, (weak ? 'W/' : '') + etag)
      assert.equal(etagMatches(list.join(', '), etag), true)
      assert.equal(typeof etagMatches(others.join(','), etag), 'boolean')
    })
    fuzz(fc.string({ maxLength: 200 }), (h) => { assert.equal(typeof etagMatches(h, '"x"'), 'boolean') })
    const t0 = performance.now()
    etagMatches(', W/'.repeat(4_000), '"x"')
    assert.ok(performance.now() - t0 < 100)
  })
})
