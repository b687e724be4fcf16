import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { writer as createWriter } from 'protons-runtime'
import {
  decodeDialRequest, decodeDialResponse, decodeHolePunch, DialStatus, encodeDialRequest, encodeDialResponse,
  encodeHolePunch, HolePunchType, InvalidNatMessageError, MAX_NAT_ADDRS, MAX_NAT_MESSAGE
} from '../../../src/net/nat-messages.ts'

const addr = multiaddr('/ip4/203.0.113.7/tcp/4001').bytes

describe('NAT-traversal messages (DCUtR, AutoNAT v1)', () => {
  it('round-trips CONNECT, SYNC, DIAL and DIAL_RESPONSE', () => {
    assert.deepEqual(decodeHolePunch(encodeHolePunch({ type: HolePunchType.CONNECT, addrs: [addr] })), { type: HolePunchType.CONNECT, addrs: [addr] })
    assert.deepEqual(decodeHolePunch(encodeHolePunch({ type: HolePunchType.SYNC, addrs: [] })), { type: HolePunchType.SYNC, addrs: [] })
    const id = new Uint8Array(38).fill(5)
    assert.deepEqual(decodeDialRequest(encodeDialRequest(id, [addr, addr])), { id, addrs: [addr, addr] })
    assert.deepEqual(decodeDialResponse(encodeDialResponse(DialStatus.OK, '', addr)), { status: DialStatus.OK, statusText: '', addr })
    assert.deepEqual(decodeDialResponse(encodeDialResponse(DialStatus.E_DIAL_ERROR, 'dial back failed')), { status: DialStatus.E_DIAL_ERROR, statusText: 'dial back failed' })
  })

  it('matches the spec wire format (go-libp2p and js-libp2p encode a CONNECT the same way)', () => {
    // field 1 varint 100, field 2 bytes
    const bytes = encodeHolePunch({ type: HolePunchType.CONNECT, addrs: [Uint8Array.of(1, 2, 3)] })
    assert.deepEqual([...bytes], [0x08, 100, 0x12, 3, 1, 2, 3])
  })

  it('refuses hostile input with a typed error, never more than the caps', () => {
    assert.throws(() => decodeHolePunch(new Uint8Array(MAX_NAT_MESSAGE + 1)), InvalidNatMessageError)
    assert.throws(() => decodeHolePunch(Uint8Array.of(0x08, 7)), InvalidNatMessageError, 'an unknown type')
    assert.throws(() => decodeHolePunch(Uint8Array.of(0x12, 50, 1)), InvalidNatMessageError, 'a truncated address')
    assert.throws(() => decodeDialResponse(encodeHolePunch({ type: HolePunchType.SYNC, addrs: [] })), InvalidNatMessageError, 'not a response')
    assert.throws(() => decodeDialRequest(encodeDialResponse(0, '')), InvalidNatMessageError, 'not a request')
    const w = createWriter()
    w.uint32(8).int32(HolePunchType.CONNECT)
    w.uint32(18).bytes(new Uint8Array(2000))
    assert.throws(() => decodeHolePunch(w.finish()), InvalidNatMessageError, 'an address over 1 KiB')
    const many = encodeHolePunch({ type: HolePunchType.CONNECT, addrs: Array.from({ length: 100 }, () => addr) })
    assert.equal(decodeHolePunch(many).addrs.length, MAX_NAT_ADDRS, 'at most 32 addresses are sent and kept')
  })
})
