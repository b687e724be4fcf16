/**
 * Share links (src/share/link.ts): every form parses to the same link and formats back; each kind
 * of bad input is refused with an InvalidLinkError whose message names the problem.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { formatLink, linkProviders, looksLikeLink, MAX_LINK_LENGTH, MAX_LINK_PROVIDERS, MAX_OWN_PROVIDERS, parseLink } from '../../../src/share/link.ts'

const CIDV1 = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
const CIDV0 = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'
const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const ADDR = `/ip4/203.0.113.7/tcp/4001/p2p/${PEER}`
const ADDR6 = `/ip6/2001:db8::1/udp/4001/quic-v1/p2p/${PEER}`

/** Asserts that `text` is refused with an InvalidLinkError whose message matches `re`. */
function refused (text: string, re: RegExp): void {
  assert.throws(() => parseLink(text), (err: Error) => {
    assert.equal(err.name, 'InvalidLinkError')
    assert.match(err.message, re)
    return true
  })
}

describe('share links', () => {
  it('reads peerd://, web+peerd:, the plain form and a bare CID alike', () => {
    for (const text of [
      `peerd://${CIDV1}/docs/a%20b.txt?name=My%20file.txt&provider=${ADDR}&provider=${encodeURIComponent(ADDR6)}`,
      `web+peerd:${CIDV1}/docs/a%20b.txt?name=My+file.txt&provider=${ADDR}&provider=${ADDR6}`,
      `WEB+PEERD://${CIDV1}/docs/a%20b.txt/?provider=${ADDR}&name=My%20file.txt&provider=${ADDR6}&x.future=1`,
      `  ${CIDV1}/docs/a%20b.txt?name=My%20file.txt&provider=${ADDR}&provider=${ADDR6}&provider=${ADDR}\n`
    ]) {
      const l = parseLink(text)
      assert.equal(l.cid.toString(), CIDV1, text)
      assert.equal(l.path, 'docs/a b.txt', text)
      assert.equal(l.name, 'My file.txt', text)
      assert.deepEqual(l.providers.map(p => p.toString()), [ADDR, ADDR6], text)
    }
    const bare = parseLink(CIDV0)
    assert.equal(bare.cid.toString(), CIDV0)
    assert.deepEqual(bare.providers, [])
    assert.equal(bare.path, undefined)
    assert.equal(bare.name, undefined)
    assert.equal(parseLink(`/ipfs/${CIDV0}?provider=${ADDR}`).providers.length, 1)
    assert.equal(looksLikeLink(CIDV0), false)
    assert.equal(looksLikeLink(`${CIDV0}/a`), false)
    assert.equal(looksLikeLink(`${CIDV0}?provider=${ADDR}`), true)
    assert.equal(looksLikeLink(`peerd://${CIDV0}`), true)
  })

  it('formats a link that parses back to itself, in each style', () => {
    const link = { cid: CID.parse(CIDV1), path: 'dir/ü & ?#.txt', name: 'Ünïcode & friends #1?', providers: [multiaddr(ADDR), multiaddr(ADDR6)] }
    const text = formatLink(link)
    assert.ok(text.startsWith(`peerd://${CIDV1}/dir/`), text)
    assert.ok(text.includes(`provider=${ADDR}`), `multiaddrs stay readable: ${text}`)
    assert.ok(!/[ #]/.test(text), text)
    for (const style of ['peerd', 'web+peerd', 'plain'] as const) {
      const back = parseLink(formatLink(link, style))
      assert.equal(back.cid.toString(), CIDV1)
      assert.equal(back.path, link.path)
      assert.equal(back.name, link.name)
      assert.deepEqual(back.providers.map(p => p.toString()), [ADDR, ADDR6])
    }
    assert.equal(formatLink({ cid: CID.parse(CIDV0), providers: [] }, 'plain'), CIDV0)
    assert.ok(formatLink(link, 'web+peerd').startsWith(`web+peerd:${CIDV1}`))
  })

  it('refuses bad input with a message that says what is wrong', () => {
    refused(`magnet:?xt=urn:btih:${'a'.repeat(40)}`, /not a peerd link/)
    refused(`https://example.com/${CIDV1}`, /not a peerd link/)
    refused('peerd://', /no CID/)
    refused(`peerd://?provider=${ADDR}`, /no CID/)
    refused('peerd://bafynotacid', /CID is not valid/)
    refused(`peerd://${CIDV1}?provider=/ip4/1.2.3/tcp/1/p2p/${PEER}`, /not a multiaddr/)
    refused(`peerd://${CIDV1}?provider=not-an-address`, /not a multiaddr/)
    refused(`peerd://${CIDV1}?provider=/ip4/203.0.113.7/tcp/4001`, /does not end in \/p2p\/<peer id>/)
    refused(`peerd://${CIDV1}?provider=/p2p/${PEER}/ip4/203.0.113.7/tcp/4001`, /does not end in \/p2p/)
    refused(`peerd://${CIDV1}?provider=/ip4/203.0.113.7/tcp/4001/p2p/QmNotAPeer`, /not a multiaddr|no valid peer id/)
    const many = Array.from({ length: MAX_LINK_PROVIDERS + 1 }, (_, i) => `provider=/ip4/203.0.113.${i}/tcp/4001/p2p/${PEER}`).join('&')
    refused(`peerd://${CIDV1}?${many}`, new RegExp(`more than ${MAX_LINK_PROVIDERS} providers`))
    refused(`peerd://${CIDV1}?name=${'x'.repeat(MAX_LINK_LENGTH)}`, new RegExp(`more than the ${MAX_LINK_LENGTH}`))
    refused(`peerd://${CIDV1}?name=%E0%A4%A`, /bad percent-encoding/)
    refused(`peerd://${CIDV1}?name=%FF`, /bad percent-encoding/)
    refused(`peerd://${CIDV1}/a%ZZ`, /bad percent-encoding/)
    refused(`peerd://${CIDV1}?name=..`, /not a valid name/)
    refused(`peerd://${CIDV1}?name=a%2Fb`, /not a valid name/)
    refused(`peerd://${CIDV1}?name=a%00`, /not a valid name/)
    refused(`peerd://${CIDV1}?name=a&name=b`, /two "name"/)
    refused(`peerd://${CIDV1}/a/../b`, /not a valid name/)
    refused(`peerd://${CIDV1}/a//b`, /not a valid name/)
    refused(`peerd://${CIDV1}#frag`, /fragment/)
    refused(`peerd://${CIDV1} ?provider=${ADDR}`, /spaces/)
  })
  it('a node names its public addresses, and its local ones only when it has nothing else', () => {
    const local = ['/ip4/127.0.0.1/tcp/4001', '/ip4/192.168.1.5/tcp/4001', '/ip6/::1/tcp/4001'].map(a => multiaddr(`${a}/p2p/${PEER}`))
    const open = ['/ip4/1.2.3.4/tcp/4001', '/dns4/node.example.org/tcp/4001', `/ip4/5.6.7.8/tcp/4001/p2p/${PEER}/p2p-circuit`].map(a => multiaddr(`${a}/p2p/${PEER}`))
    const mixed = linkProviders([...local, ...open, multiaddr('/ip4/9.9.9.9/tcp/1')])
    assert.deepEqual(mixed.providers.map(String), open.map(String))
    assert.equal(mixed.localOnly, false)
    const onlyLocal = linkProviders(local)
    assert.deepEqual(onlyLocal.providers.map(String), local.map(String))
    assert.equal(onlyLocal.localOnly, true)
    const many = Array.from({ length: 20 }, (_, i) => multiaddr(`/ip4/1.2.3.${i}/tcp/4001/p2p/${PEER}`))
    assert.equal(linkProviders(many).providers.length, MAX_OWN_PROVIDERS)
  })
})
