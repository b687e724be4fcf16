/**
 * Onion routing (issue 16, "Onion I"). So far: the ntor handshake that sets up a circuit's keys
 * with each hop, the relay's replay filter, the fixed-size cell codec, the layered relay crypto
 * (tor1 with AES-256-CTR and a running SHA-256 digest), links between hops (`link.ts`), the
 * middle relay (`relay.ts`) and the client's telescopic circuit build (`circuit.ts`). Nothing is
 * wired into the node yet: a program builds `OnionRelay` and `LinkManager` around its libp2p host.
 *
 *     import { ntorClientCreate, ntorClientComplete, ntorServerHandshake, ntorKeyPair, ntorRelayId, ReplayFilter } from './onion/index.ts'
 *
 *     // the relay: its id (from its libp2p public key) and a published onion key
 *     const relay = { id: ntorRelayId(publicKeyToProtobuf(peerKey)), onionKeyPair: ntorKeyPair() }
 *     const replay = new ReplayFilter()
 *
 *     const { state, onionskin } = ntorClientCreate(relay.id, relay.onionKeyPair.publicKey) // client → relay
 *     const { reply, keys } = ntorServerHandshake(onionskin, relay, { replay })              // relay → client
 *     const same = ntorClientComplete(state, reply)                                          // HandshakeError unless AUTH verifies
 *
 *     // both ends key the hop's layer from the handshake's 128 bytes
 *     const layers = new OnionLayers(); layers.addHop(splitRelayKeys(same))
 *     const hop = new HopCrypto(splitRelayKeys(keys))
 */
export { CellIntegrityError, CellSizeError, CircuitClosedError, HandshakeError, HandshakeReplayError, MalformedCellError, UnknownCellCommandError, UnknownRelayCommandError, OnionLimitError } from './errors.ts'
export { CELL_BODY_LEN, CELL_LEN, CellCommand, CellReader, RELAY_DATA_MAX, RelayCommand, decodeCell, decodeCreate2, decodeCreated2, decodeDestroy, decodeExtend2, decodeRelayBody, encodeCell, encodeCreate2, encodeCreated2, encodeDestroy, encodeExtend2, encodeRelayBody, extend2PeerId, peerIdSpecifier } from './cell.ts'
export type { Cell, Create2, Extend2, LinkSpecifier, RelayMessage } from './cell.ts'
export { HopCrypto, OnionLayers, RELAY_KEY_MATERIAL_LEN, splitRelayKeys } from './relay-crypto.ts'
export type { RelayKeys } from './relay-crypto.ts'
export { AUTH_BYTES, KEY_BYTES, NTOR_REPLY_BYTES, PEERD_NTOR, TOR_NTOR, ntorClientComplete, ntorClientCreate, ntorKeyPair, ntorRelayId, ntorServerHandshake } from './ntor.ts'
export type { NtorClientState, NtorKeyPair, NtorOptions, NtorParams, NtorRelayKeys, NtorServerOptions } from './ntor.ts'
export { ReplayFilter } from './replay.ts'
export type { ReplayFilterOptions } from './replay.ts'
export { Circuit, MAX_HOPS, buildCircuit } from './circuit.ts'
export type { PathHop } from './circuit.ts'
export { LinkManager, MAX_CIRCUITS_PER_LINK, MAX_LINKS, OnionLink, onionLinkProtocol } from './link.ts'
export type { CircuitEndpoint, LinkHost, LinkManagerInit } from './link.ts'
export { DestroyReason, OnionRelay } from './relay.ts'
export type { OnionRelayInit, RelayCircuitHandle, RelayStats } from './relay.ts'
