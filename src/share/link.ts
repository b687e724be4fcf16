/**
 * Share links: a CID with the way to it, as magnet links carry trackers and peers.
 *
 * `peerd://CID[/PATH]?name=NAME&provider=MULTIADDR&provider=…` (also `web+peerd:`, the scheme
 * browsers let a page register a handler for, and the plain `CID[/PATH]?provider=…` accepted
 * wherever a CID is). A node that gets such a link dials the providers it names and fetches
 * from them at once, without a DHT lookup. Links are pasted from anywhere, so parsing is strict:
 * the length is checked before anything else, providers are bounded and each must name its
 * peer, and every failure is an {@link InvalidLinkError} that says what to fix. Parameters
 * other than `name` and `provider` are ignored (later versions may add some). The format is
 * specified in docs/protocols.md.
 * @module
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { isPrivate } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import { parseCid } from './block.ts'
import { InvalidLinkError } from './errors.ts'

/** Longest link parsed, in UTF-16 code units: checked before anything else is done with it. */
export const MAX_LINK_LENGTH = 8192
/** Providers one link may name. */
export const MAX_LINK_PROVIDERS = 16
/** Longest display name, in UTF-16 code units (a file name on every common file system). */
export const MAX_LINK_NAME = 255

/** What a link carries. */
export interface ShareLink {
  cid: CID
  /** An entry inside a directory CID (`a/b.txt`), without leading or trailing slashes. */
  path?: string
  /** A display name (a suggested file name: no slashes, no control characters, not `.` or `..`). */
  name?: string
  /** Where to fetch it: multiaddrs that end in `/p2p/<peer id>`, at most {@link MAX_LINK_PROVIDERS}. */
  providers: Multiaddr[]
}

/** How {@link formatLink} writes a link. */
export type LinkStyle = 'peerd' | 'web+peerd' | 'plain'

const SCHEME = /^(web\+peerd|peerd):(\/\/)?/i
/** Anything that looks like another URI scheme (`magnet:`, `https://`). */
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:/i
// C0 and C1 control characters: never part of a name a user meant
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
/** Half of a surrogate pair on its own: no encoding can write it. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/** Decodes one percent-encoded component (`+` is a space, as in form encoding). */
function decode (s: string, what: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '))
  } catch {
    throw new InvalidLinkError(`the link's ${what} has a bad percent-encoding ("${short(s)}"): copy the link again, whole`)
  }
}

/** A bounded excerpt of hostile text for an error message. */
function short (s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}

/** Whether `s` may be a link's name or path segment: no separators, controls, or dot-names. */
export function isLinkName (s: string): boolean {
  return !(s === '' || s.length > MAX_LINK_NAME || s === '.' || s === '..' || s.includes('/') || s.includes('\\') || CONTROL.test(s) || LONE_SURROGATE.test(s))
}

/** Throws unless {@link isLinkName}. */
function checkName (s: string, what: string): void {
  if (!isLinkName(s)) {
    throw new InvalidLinkError(`the link's ${what} "${short(s)}" is not a valid name (no slashes, control characters, "." or ".."): fix or remove it`)
  }
}

/** Parses a provider: a multiaddr whose last component is `/p2p/<peer id>`. */
function parseProvider (s: string): Multiaddr {
  let ma: Multiaddr
  try {
    // the multiaddr and peer id decoders let some of these through
    if (CONTROL.test(s) || LONE_SURROGATE.test(s)) throw new Error('control character or lone surrogate')
    ma = multiaddr(s)
  } catch (err) {
    throw new InvalidLinkError(`the link's provider "${short(s)}" is not a multiaddr (${(err as Error).message}): it should look like /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…`, { cause: err })
  }
  const last = ma.getComponents().at(-1)
  if (last?.name !== 'p2p' || last.value == null) {
    throw new InvalidLinkError(`the link's provider "${short(s)}" does not end in /p2p/<peer id>: without it the node cannot tell whom it dials (copy the address from \`peerd id\` on the provider)`)
  }
  let canonical: string | undefined
  try {
    canonical = peerIdFromString(last.value).toString()
  } catch { /* not a peer id: refused below */ }
  if (canonical !== last.value) throw new InvalidLinkError(`the link's provider "${short(s)}" names no valid peer id after /p2p/: copy the address from \`peerd id\` on the provider`)
  return ma
}

/**
 * Parses a link, or a bare CID (a link without providers). Throws {@link InvalidLinkError}
 * (and nothing else) on anything malformed; see the module comment.
 */
export function parseLink (text: string): ShareLink {
  if (typeof text !== 'string') throw new InvalidLinkError('a link must be a string')
  if (text.length > MAX_LINK_LENGTH) throw new InvalidLinkError(`the link is ${text.length} characters long, more than the ${MAX_LINK_LENGTH} accepted: ask for a link with fewer providers`)
  let rest = text.trim()
  const scheme = SCHEME.exec(rest)
  if (scheme != null) rest = rest.slice(scheme[0].length)
  else if (OTHER_SCHEME.test(rest)) {
    throw new InvalidLinkError(`"${short(rest)}" is not a peerd link: it should start with peerd://, web+peerd: or a CID`)
  }
  // the plain form may be written as an IPFS path
  else rest = rest.replace(/^\/?ipfs\//, '')
  if (rest.includes('#')) throw new InvalidLinkError('the link has a "#" fragment, which peerd links do not use: remove it (a "#" in a name is written %23)')
  if (/\s/.test(rest)) throw new InvalidLinkError('the link contains spaces or line breaks: copy it again (a space in a name is written %20)')
  const q = rest.indexOf('?')
  const head = q < 0 ? rest : rest.slice(0, q)
  const query = q < 0 ? '' : rest.slice(q + 1)
  const slash = head.indexOf('/')
  const cidText = slash < 0 ? head : head.slice(0, slash)
  if (cidText === '') throw new InvalidLinkError('the link has no CID: it should be peerd://CID?provider=…')
  let cid: CID
  try {
    cid = parseCid(cidText)
  } catch (err) {
    throw new InvalidLinkError(`the link's CID is not valid (${(err as Error).message})`, { cause: err })
  }
  const link: ShareLink = { cid, providers: [] }
  if (slash >= 0) {
    // a trailing slash (a directory) says nothing more than the path without it
    const segments = head.slice(slash + 1).split('/')
    if (segments.at(-1) === '') segments.pop()
    const parts = segments.map(s => decode(s, 'path'))
    for (const p of parts) checkName(p, 'path segment')
    if (parts.length > 0) link.path = parts.join('/')
  }
  const seen = new Set<string>()
  for (const pair of query.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const key = decode(eq < 0 ? pair : pair.slice(0, eq), 'parameter name')
    const value = decode(eq < 0 ? '' : pair.slice(eq + 1), `"${short(key)}" parameter`)
    if (key === 'name') {
      if (link.name != null) throw new InvalidLinkError('the link has two "name" parameters: keep one')
      if (value.length > MAX_LINK_NAME) throw new InvalidLinkError(`the link's name is longer than ${MAX_LINK_NAME} characters: shorten it`)
      checkName(value, 'name')
      link.name = value
    } else if (key === 'provider') {
      const ma = parseProvider(value)
      const canonical = ma.toString()
      if (seen.has(canonical)) continue
      if (link.providers.length >= MAX_LINK_PROVIDERS) throw new InvalidLinkError(`the link names more than ${MAX_LINK_PROVIDERS} providers: keep the ${MAX_LINK_PROVIDERS} most likely to be reachable`)
      seen.add(canonical)
      link.providers.push(ma)
    }
    // any other parameter: ignored, so later versions can add some
  }
  return link
}

/** Percent-encodes a component, leaving `/` and `:` (common in multiaddrs, legal in a query) as they are. */
function encode (s: string): string {
  return encodeURIComponent(s).replaceAll('%2F', '/').replaceAll('%3A', ':')
}

/**
 * Writes a link: `peerd://…` by default, `web+peerd:…` for a browser's protocol handler, or the
 * plain `CID?provider=…`. {@link parseLink} reads every form back to the same {@link ShareLink}.
 */
export function formatLink (link: ShareLink, style: LinkStyle = 'peerd'): string {
  const prefix = style === 'peerd' ? 'peerd://' : style === 'web+peerd' ? 'web+peerd:' : ''
  let s = prefix + link.cid.toString()
  if (link.path != null && link.path !== '') s += '/' + link.path.split('/').map(p => encodeURIComponent(p)).join('/')
  const params: string[] = []
  if (link.name != null) params.push(`name=${encodeURIComponent(link.name)}`)
  for (const p of link.providers) params.push(`provider=${encode(p.toString())}`)
  return params.length > 0 ? `${s}?${params.join('&')}` : s
}

/** Whether `text` is a link with more than a CID (a scheme, a query), not a bare CID or `CID/PATH`. */
export function looksLikeLink (text: string): boolean {
  const t = text.trim()
  return SCHEME.test(t) || t.includes('?')
}

/** Providers a link made by this node names, at most (fewer than a link may carry: links stay short). */
export const MAX_OWN_PROVIDERS = 8

/**
 * Which of a node's own addresses (ending in `/p2p/<peer id>`) a link it makes names: the public
 * ones (relayed ones included); loopback and private ones only when there is nothing else, which
 * `localOnly` says (such a link works on this machine or LAN only).
 */
export function linkProviders (addrs: readonly Multiaddr[]): { providers: Multiaddr[], localOnly: boolean } {
  const dialable = addrs.filter(a => a.getComponents().at(-1)?.name === 'p2p')
  // isPrivate: loopback, private, link-local and reserved IP addresses (a relayed one by its relay's)
  const open = dialable.filter(a => !isPrivate(a))
  const localOnly = open.length === 0
  return { providers: (localOnly ? dialable : open).slice(0, MAX_OWN_PROVIDERS), localOnly }
}
