/**
 * An exit's policy: which addresses and ports it opens connections to, in Tor's exit policy
 * language (tor(1) "ExitPolicy", dir-spec "exit-policy"), so a client picks only exits that
 * accept its destination and an exit refuses the rest.
 *
 *     const policy = parseExitPolicy(['accept *:80', 'accept *:443'])
 *     policy.allows('93.184.215.14', 443)   // true
 *     policy.allows('10.0.0.1', 80)         // false: private ranges are rejected by default
 *     policy.rules                          // the normalised first-match list a descriptor carries
 *
 * Rules are `accept|reject ADDR[/MASK|/BITS][:PORT[-PORT]]` (a missing port means `*`), given
 * as an array or one string separated by commas or newlines; `accept6|reject6` apply to IPv6
 * only. ADDR is `*`, `*4`, `*6`, an IPv4 address, a bracketed IPv6 address, or `private`. The
 * first rule that matches decides; unlike dir-spec (where no match accepts), no match rejects,
 * so `accept *:80` alone means port 80 only, and `rules` ends with `reject *:*`.
 *
 * Private ranges ({@link PRIVATE_RANGES} and the node's own addresses) are rejected unless the
 * policy says otherwise (`rejectPrivate`, default on). A private range R is opened only by an
 * accept rule confined to R (`accept 127.0.0.1:8080`, `accept 10.0.0.0/8:*`, `accept private:*`),
 * and only through that rule: `reject R:*` goes before the first broader accept that covers R
 * (`accept *:*`, `accept 8.0.0.0/5:*`), or at the front when no rule opens R. So write private
 * accepts before wildcard accepts. The result is an ordinary first-match list, and parsing
 * `rules` again gives the same policy, which is what lets a client judge an exit by its
 * descriptor (a run of all the standard private ranges is written `private` there, own addresses
 * one by one). IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are judged as the IPv4 they are.
 * @module
 */
import { InvalidArgumentError } from '../errors.ts'

/** Rules in one policy at most (after splitting a string on commas and newlines). */
export const MAX_EXIT_POLICY_RULES = 256
/** Characters in one rule at most. */
export const MAX_EXIT_POLICY_RULE_LEN = 128

/** A rule does not parse, or the policy is too long: `rule` is the offending text (truncated). */
export class ExitPolicyError extends InvalidArgumentError {
  static override name = 'ExitPolicyError'
  /** The rule's text (at most 128 characters), or '' for the policy as a whole. */
  readonly rule: string

  constructor (rule: string, reason: string) {
    const shown = rule.length > MAX_EXIT_POLICY_RULE_LEN ? `${rule.slice(0, MAX_EXIT_POLICY_RULE_LEN)}…` : rule
    super(shown === '' ? `exit policy: ${reason}` : `exit policy rule "${shown}": ${reason}`)
    this.rule = shown
  }
}

/** Tor's default exit policy (tor(1) "ExitPolicy"): common abuse ports rejected, then everything. */
export const DEFAULT_EXIT_POLICY: readonly string[] = Object.freeze([
  'reject *:25', 'reject *:119', 'reject *:135-139', 'reject *:445', 'reject *:563', 'reject *:1214',
  'reject *:4661-4666', 'reject *:6346-6429', 'reject *:6699', 'reject *:6881-6999', 'accept *:*'
])

/** What `private` stands for (Tor's list plus 100.64.0.0/10, carrier-grade NAT), besides own addresses. */
export const PRIVATE_RANGES: readonly string[] = Object.freeze([
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16',
  '[::]/127', '[fe80::]/10', '[fec0::]/10', '[fc00::]/7'
])

/** An exit policy, parsed. */
export interface ExitPolicy {
  /** Whether a connection to this IP literal and port is accepted (a name, or a port outside 1..65535: false). */
  allows: (address: string, port: number) => boolean
  /** Whether some public address is accepted on this port: for choosing an exit before a name is resolved. */
  allowsPort: (port: number) => boolean
  /** The normalised first-match rules, one per rule, as `peerd onion status` shows them and descriptors carry them. */
  readonly rules: readonly string[]
}

/** Options of {@link parseExitPolicy}. */
export interface ExitPolicyOptions {
  /** Reject private ranges and own addresses unless a rule confined to them accepts them (default true). */
  rejectPrivate?: boolean
  /** This node's own addresses (IP literals), private like the ranges; others are ignored. */
  ownAddresses?: readonly string[]
}

type Family = 4 | 6

/** An address range: `family` 0 is both families (`*`), with `bits` 0. */
interface Range { family: Family | 0, net: bigint, bits: number }

interface Rule extends Range { accept: boolean, lo: number, hi: number }

/** An IP literal as a number (an IPv4-mapped IPv6 address as its IPv4), or undefined. */
export function parseIp (text: string): { family: Family, value: bigint } | undefined {
  const v4 = parseIpv4(text)
  if (v4 !== undefined) return { family: 4, value: v4 }
  const v6 = parseIpv6(text)
  if (v6 === undefined) return undefined
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn }
  return { family: 6, value: v6 }
}

function parseIpv4 (text: string): bigint | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let value = 0n
  for (const p of parts) {
    // decimal only, no leading zeros: "010" is octal to some parsers
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined
    value = (value << 8n) | BigInt(p)
  }
  return value
}

function parseIpv6 (text: string): bigint | undefined {
  if (text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  // an embedded IPv4 address may only be the last group of the address
  const words = (part: string, last: boolean): bigint[] | undefined => {
    if (part === '') return []
    const groups = part.split(':')
    const out: bigint[] = []
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i] ?? ''
      if (last && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g)
        if (v4 === undefined) return undefined
        out.push(v4 >> 16n, v4 & 0xffffn)
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        out.push(BigInt(`0x${g}`))
      } else {
        return undefined
      }
    }
    return out
  }
  const head = words(halves[0] ?? '', halves.length === 1)
  const tail = halves.length === 2 ? words(halves[1] ?? '', true) : []
  if (head === undefined || tail === undefined) return undefined
  let full: bigint[]
  if (halves.length === 1) {
    if (head.length !== 8) return undefined
    full = head
  } else {
    if (head.length + tail.length > 7) return undefined
    full = [...head, ...new Array<bigint>(8 - head.length - tail.length).fill(0n), ...tail]
  }
  return full.reduce((acc, w) => (acc << 16n) | w, 0n)
}

function width (family: Family): number {
  return family === 4 ? 32 : 128
}

function prefix (value: bigint, family: Family, bits: number): bigint {
  return bits === 0 ? 0n : value >> BigInt(width(family) - bits)
}

function inRange (r: Range, family: Family, value: bigint): boolean {
  if (r.family === 0) return true
  return r.family === family && prefix(value, family, r.bits) === prefix(r.net, family, r.bits)
}

/** Whether range `inner` lies within range `outer`. */
function within (inner: Range, outer: Range): boolean {
  if (outer.family === 0) return true
  if (inner.family !== outer.family || inner.bits < outer.bits) return false
  return prefix(inner.net, inner.family, outer.bits) === prefix(outer.net, outer.family, outer.bits)
}

function sameRange (a: Range, b: Range): boolean {
  return a.family === b.family && a.bits === b.bits && a.net === b.net
}

function parseRange (text: string, v6only: boolean): Range {
  if (text === '*') return v6only ? { family: 6, net: 0n, bits: 0 } : { family: 0, net: 0n, bits: 0 }
  if (text === '*4' || text === '*6') {
    if (v6only && text === '*4') throw new Error('accept6/reject6 cannot name IPv4')
    return { family: text === '*4' ? 4 : 6, net: 0n, bits: 0 }
  }
  const slash = text.lastIndexOf('/')
  const addrText = slash === -1 ? text : text.slice(0, slash)
  const maskText = slash === -1 ? undefined : text.slice(slash + 1)
  let family: Family
  let value: bigint
  if (addrText.startsWith('[') && addrText.endsWith(']')) {
    const v6 = parseIpv6(addrText.slice(1, -1))
    if (v6 === undefined) throw new Error(`"${addrText}" is not an IPv6 address`)
    family = 6
    value = v6
  } else {
    const v4 = parseIpv4(addrText)
    if (v4 === undefined) throw new Error(`"${addrText}" is not an IPv4 address, [IPv6] address, *, *4, *6 or private`)
    if (v6only) throw new Error('accept6/reject6 cannot name IPv4')
    family = 4
    value = v4
  }
  let bits = width(family)
  if (maskText !== undefined) {
    if (/^\d{1,3}$/.test(maskText)) {
      bits = Number(maskText)
      if (bits > width(family)) throw new Error(`mask /${maskText} is longer than ${width(family)} bits`)
    } else {
      const mask = family === 4 ? parseIpv4(maskText) : undefined
      if (mask === undefined) throw new Error(`"/${maskText}" is not a mask`)
      bits = 0
      while (bits < 32 && ((mask >> BigInt(31 - bits)) & 1n) === 1n) bits++
      if (mask !== prefix(0xffffffffn, 4, bits) << BigInt(32 - bits)) throw new Error(`mask ${maskText} is not contiguous`)
    }
  }
  // an IPv4-mapped range is the IPv4 range it maps, since addresses are judged that way
  if (family === 6 && bits >= 96 && value >> 32n === 0xffffn) {
    family = 4
    value &= 0xffffffffn
    bits -= 96
  }
  // host bits past the mask are dropped, as tor does
  const net = bits === 0 ? 0n : (prefix(value, family, bits) << BigInt(width(family) - bits))
  return { family, net, bits }
}

function parsePorts (text: string): [number, number] {
  if (text === '*') return [1, 65535]
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text)
  if (m === null) throw new Error(`"${text}" is not a port, a port range or *`)
  const lo = Number(m[1])
  const hi = m[2] === undefined ? lo : Number(m[2])
  if (lo < 1 || hi > 65535 || lo > hi) throw new Error(`port range ${text} is not within 1-65535 or is reversed`)
  return [lo, hi]
}

/** Parses one rule; `private` becomes one rule per private range. */
function parseRule (text: string, privateRanges: readonly Range[]): Rule[] {
  const m = /^(accept6|reject6|accept|reject)\s+(\S+)$/i.exec(text)
  if (m === null) throw new Error('expected "accept|reject ADDR[/MASK][:PORT]"')
  const action = (m[1] ?? '').toLowerCase()
  const target = m[2] ?? ''
  const v6only = action.endsWith('6')
  // the port follows the last colon outside brackets; no colon at all means every port
  const close = target.lastIndexOf(']')
  const colon = target.lastIndexOf(':')
  const hasPort = colon > close && (close !== -1 || target.indexOf(':') === colon)
  const addrText = hasPort ? target.slice(0, colon) : target
  const [lo, hi] = hasPort ? parsePorts(target.slice(colon + 1)) : [1, 65535]
  const accept = action.startsWith('accept')
  if (addrText.toLowerCase() === 'private') {
    return privateRanges.filter(r => !v6only || r.family === 6).map(r => ({ ...r, accept, lo, hi }))
  }
  return [{ ...parseRange(addrText, v6only), accept, lo, hi }]
}

function formatRange (r: Range): string {
  if (r.family === 0) return '*'
  if (r.bits === 0) return `*${r.family}`
  const full = r.bits === width(r.family)
  if (r.family === 4) {
    const v = Number(r.net)
    const text = [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.')
    return full ? text : `${text}/${r.bits}`
  }
  const words = Array.from({ length: 8 }, (_, i) => Number((r.net >> BigInt(112 - 16 * i)) & 0xffffn).toString(16))
  // RFC 5952: the longest run of two or more zero words becomes "::"
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && words[j] === '0') j++
    if (j - i > bestLen) { best = i; bestLen = j - i }
    i = j === i ? i + 1 : j
  }
  const text = best === -1 ? words.join(':') : `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`
  return full ? `[${text}]` : `[${text}]/${r.bits}`
}

function formatRule (r: Rule): string {
  const ports = r.lo === 1 && r.hi === 65535 ? '*' : r.lo === r.hi ? String(r.lo) : `${r.lo}-${r.hi}`
  return `${r.accept ? 'accept' : 'reject'} ${formatRange(r)}:${ports}`
}

/**
 * The rules as text, where a run of the standard private ranges with one action and port range
 * is written `private` again: shorter to show and to publish, and read back as the same ranges.
 */
function formatRules (list: readonly Rule[]): string[] {
  const out: string[] = []
  for (let i = 0; i < list.length; i++) {
    const r = list[i] as Rule
    const run = list.slice(i, i + STANDARD_PRIVATE.length)
    if (run.length === STANDARD_PRIVATE.length && run.every((u, j) => sameRange(u, STANDARD_PRIVATE[j] as Range) && u.accept === r.accept && u.lo === r.lo && u.hi === r.hi)) {
      out.push(formatRule({ ...r, family: 0 }).replace(' *:', ' private:'))
      i += STANDARD_PRIVATE.length - 1
    } else {
      out.push(formatRule(r))
    }
  }
  return out
}

function allPorts (r: Rule): boolean {
  return r.lo === 1 && r.hi === 65535
}

function splitRules (rules: string | readonly string[]): string[] {
  if (typeof rules === 'string') {
    // bounded before splitting: a huge string is refused without building a huge array
    if (rules.length > MAX_EXIT_POLICY_RULES * (MAX_EXIT_POLICY_RULE_LEN + 2)) throw new ExitPolicyError('', `longer than ${MAX_EXIT_POLICY_RULES} rules of ${MAX_EXIT_POLICY_RULE_LEN} characters`)
    return rules.split(/[,\n]/).map(s => s.trim()).filter(s => s !== '')
  }
  if (rules.length > MAX_EXIT_POLICY_RULES) throw new ExitPolicyError('', `${rules.length} rules, more than ${MAX_EXIT_POLICY_RULES}`)
  return rules.flatMap(s => splitRules(String(s)))
}

/** Whether `address` (an IP literal) is in a private range; with `ownAddresses`, or one of them. */
export function isPrivateAddress (address: string, ownAddresses: readonly string[] = []): boolean {
  const ip = parseIp(address)
  if (ip === undefined) return false
  return privateRangesOf(ownAddresses).some(r => inRange(r, ip.family, ip.value))
}

const STANDARD_PRIVATE: readonly Range[] = PRIVATE_RANGES.map(r => parseRange(r, false))

function privateRangesOf (ownAddresses: readonly string[]): Range[] {
  const ranges = [...STANDARD_PRIVATE]
  for (const a of ownAddresses) {
    const ip = parseIp(a)
    if (ip === undefined) continue
    const r: Range = { family: ip.family, net: ip.value, bits: width(ip.family) }
    // an own address inside a standard range is opened and closed with that range
    if (!ranges.some(p => within(r, p))) ranges.push(r)
  }
  return ranges
}

/**
 * Parses an exit policy (see the module header for the language and how private ranges are
 * handled). Throws {@link ExitPolicyError} naming the first rule that does not parse, or when
 * there are more than {@link MAX_EXIT_POLICY_RULES} rules.
 */
export function parseExitPolicy (rules: string | readonly string[], opts: ExitPolicyOptions = {}): ExitPolicy {
  const texts = splitRules(rules)
  if (texts.length > MAX_EXIT_POLICY_RULES) throw new ExitPolicyError('', `${texts.length} rules, more than ${MAX_EXIT_POLICY_RULES}`)
  const privateRanges = privateRangesOf(opts.ownAddresses ?? [])
  const user: Rule[] = []
  for (const text of texts) {
    if (text.length > MAX_EXIT_POLICY_RULE_LEN) throw new ExitPolicyError(text, `longer than ${MAX_EXIT_POLICY_RULE_LEN} characters`)
    try {
      user.push(...parseRule(text, privateRanges))
    } catch (err) {
      throw new ExitPolicyError(text, (err as Error).message)
    }
  }
  const effective = opts.rejectPrivate === false ? user : withPrivateRejected(user, privateRanges)
  if (!effective.some(r => r.family === 0 && allPorts(r))) effective.push({ family: 0, net: 0n, bits: 0, accept: false, lo: 1, hi: 65535 })
  return new ParsedExitPolicy(effective)
}

/** Inserts `reject R:*` for each private range R where it keeps R closed (module header). */
function withPrivateRejected (user: readonly Rule[], privateRanges: readonly Range[]): Rule[] {
  const front: Rule[] = []
  const before = new Map<number, Rule[]>()
  const hasRejectBefore = (r: Range, end: number): boolean =>
    user.slice(0, end).some(u => !u.accept && allPorts(u) && sameRange(u, r))
  for (const r of privateRanges) {
    const reject: Rule = { ...r, accept: false, lo: 1, hi: 65535 }
    const opened = user.some(u => u.accept && within(u, r))
    // the first accept that could let R through without naming it
    const broad = user.findIndex(u => u.accept && within(r, u) && !sameRange(u, r))
    if (broad === -1) continue
    if (hasRejectBefore(r, broad)) continue
    if (!opened) front.push(reject)
    else before.set(broad, [...(before.get(broad) ?? []), reject])
  }
  return [...front, ...user.flatMap((u, i) => [...(before.get(i) ?? []), u])]
}

class ParsedExitPolicy implements ExitPolicy {
  readonly rules: readonly string[]
  private readonly list: readonly Rule[]

  constructor (list: Rule[]) {
    this.list = list
    this.rules = Object.freeze(formatRules(list))
  }

  allows (address: string, port: number): boolean {
    if (!Number.isInteger(port) || port < 1 || port > 65535) return false
    const ip = parseIp(address)
    if (ip === undefined) return false
    for (const r of this.list) {
      if (port >= r.lo && port <= r.hi && inRange(r, ip.family, ip.value)) return r.accept
    }
    return false
  }

  allowsPort (port: number): boolean {
    if (!Number.isInteger(port) || port < 1 || port > 65535) return false
    const closed = new Set<Family | 0>()
    for (const r of this.list) {
      if (port < r.lo || port > r.hi) continue
      if (r.accept) {
        // an accept confined to private space does not help a name that resolves publicly
        if (closed.has(r.family) || closed.has(0)) continue
        if (r.family !== 0 && STANDARD_PRIVATE.some(p => within(r, p))) continue
        return true
      }
      if (r.bits === 0) closed.add(r.family)
      if (closed.has(4) && closed.has(6)) return false
    }
    return false
  }
}
