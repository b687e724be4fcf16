/**
 * Onion routing (issue 16, "Onion I"): Tor-class circuits on the peers a node already has.
 * `createNode` runs all of it as `node.onion` ({@link OnionService}); the pieces below are for
 * programs that assemble their own.
 *
 * - Handshake and crypto: ntor (`ntor.ts`), the replay filter, layered tor1 relay crypto with
 *   AES-256-CTR and a running SHA-256 digest (`relay-crypto.ts`), the rotating onion keys.
 * - Wire: 514-byte cells (`cell.ts`), links between hops with fair queues, a bandwidth cap and
 *   CREATE2 limits (`link.ts`, `link-queue.ts`, `relay-rate.ts`).
 * - Relays and circuits: the relay (`relay.ts`), telescopic circuits (`circuit.ts`), streams with
 *   authenticated SENDMEs and Vegas congestion control (`edge.ts`, `stream.ts`, `flow.ts`,
 *   `congestion.ts`), the exit edge and its policy (`exit.ts`, `exit-policy.ts`).
 * - Finding relays without authorities: signed descriptors, the relay view on LevelDB, the relay
 *   exchange and DHT records, path selection and entry guards.
 * - Uses: the client's circuit pool, the SOCKS5 server.
 * - Onion services (issue 17, `hs/`): `.peerd` addresses, key blinding, hs-ntor, encrypted
 *   descriptors in the DHT (uploaded and fetched through circuits by a random peer, `net/dht-proxy.ts`), the
 *   introduction and rendezvous roles every relay plays, the client, the hosted service with its
 *   proof-of-work queue.
 *
 *     const node = await createNode({ dataDir, network: 'regtest', socks: '127.0.0.1:9050' })
 *     const stream = await node.onion.dial(peerId, '/peerd/regtest/…')   // a Duplex through three hops
 *     node.onion.circuits()                                               // what `peerd onion circuits` shows
 *     const { address } = await node.onion.services.serve({ target: '127.0.0.1:8080' })  // <56 chars>.peerd
 *     const page = await other.onion.connect(address, 80)                  // a Duplex to that web server
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
export { OnionKeyRing, ONION_KEY_GRACE_MS, ONION_KEY_ROTATION_MS } from './onion-keys.ts'
export { Circuit, MAX_HOPS, buildCircuit } from './circuit.ts'
export type { OpenTarget, PathHop } from './circuit.ts'
export { LinkManager, MAX_CIRCUITS_PER_LINK, MAX_LINKS, OnionLink, onionLinkProtocol } from './link.ts'
export type { CircuitEndpoint, LinkHost, LinkManagerInit } from './link.ts'
export { CircuitMux, EWMA_HALFLIFE_MS, LinkQueue, MAX_QUEUED_CELLS_PER_CIRCUIT } from './link-queue.ts'
export { CREATE_RATE, CellBucket, MAX_PENDING_CREATES, MAX_QUEUED_BYTES } from './relay-rate.ts'
export type { LinkLimits, LinkStats, RateInit } from './relay-rate.ts'
export { DestroyReason, OnionRelay } from './relay.ts'
export type { OnionRelayInit, RelayCircuitHandle, RelayStats } from './relay.ts'
export { MAX_STREAMS_PER_CIRCUIT, StreamEdge, decodeBegin, encodeBegin } from './edge.ts'
export type { EdgeTransport, StreamEdgeInit } from './edge.ts'
export { OnionStream } from './stream.ts'
export type { StreamTarget } from './stream.ts'
export { CIRCUIT_SENDME_INC, STREAM_SENDME_INC, STREAM_WINDOW, decodeSendme, encodeSendme } from './flow.ts'
export { VEGAS_EXIT, VegasController } from './congestion.ts'
export type { VegasParams } from './congestion.ts'
export { EndReason, FlowControlError, InvalidBeginError, StreamClosedError, StreamRefusedError, endReasonName } from './stream-errors.ts'
export { CONNECT_TIMEOUT_MS, ExitEdge } from './exit.ts'
export type { ExitEdgeInit, ExitPolicyCheck, ExitStats } from './exit.ts'
export { DEFAULT_EXIT_POLICY, ExitPolicyError, PRIVATE_RANGES, isPrivateAddress, parseExitPolicy } from './exit-policy.ts'
export type { ExitPolicy, ExitPolicyOptions } from './exit-policy.ts'
export { MAX_DESCRIPTOR_BYTES, decodeDescriptor, descriptorIps, signDescriptor, verifyDescriptor } from './descriptor.ts'
export type { DescriptorFields, RelayDescriptor } from './descriptor.ts'
export { DescriptorError, DescriptorNetworkError, DescriptorTimeError, DescriptorTooLargeError, ExpiredDescriptorError, ForgedDescriptorError, MalformedDescriptorError, NoPathError, RelayDirectoryError } from './directory-errors.ts'
export { MAX_RELAYS, MAX_RELAYS_PER_IP, MAX_RELAYS_PER_PREFIX, MAX_VERIFY_FAILURES, RelayDirectory } from './directory.ts'
export type { AddResult, RelayEntry, VerifyResult } from './directory.ts'
export { ReachabilityChecker, checkableAddresses } from './reachability.ts'
export type { ReachabilityEvent, ReachabilityInit } from './reachability.ts'
export { RelayExchange, DHT_NAMESPACE, descriptorDhtKey, descriptorSelector, descriptorValidator, relaysProtocol } from './relay-exchange.ts'
export { MAX_WEIGHT_BANDWIDTH, canExitTo, relaysConflict, selectPath } from './path.ts'
export type { PathTarget } from './path.ts'
export { GuardSet } from './guards.ts'
export type { GuardRecord } from './guards.ts'
export { CircuitPool, MAX_DIRTINESS_MS } from './circuit-pool.ts'
export type { CircuitPurpose } from './circuit-pool.ts'
export { SocksServer } from './socks.ts'
export type { SocksRequest, SocksServerInit } from './socks.ts'
export { SocksConnectError, SocksReply, socksReplyFor } from './socks-errors.ts'
export { OnionService, socksReplyForOnion } from './service.ts'
export type { OnionConfig, OnionServiceInit } from './service.ts'
export type { CircuitInfo, OnionControl, OnionStatus } from './types.ts'
export { ONION_TLD, decodeOnionAddress, encodeOnionAddress, isOnionAddress, isOnionHost } from './hs/address.ts'
export { blindKeyPair, blindPublicKey, credential, subcredential, timePeriod } from './hs/blinding.ts'
export type { TimePeriod } from './hs/blinding.ts'
export { hsClientAuthKeyPair, parseHsClientPublicKey, parseHsClientSecretKey } from './hs/client-auth.ts'
export { MAX_HS_DESCRIPTOR_BYTES, decodeHsDescriptor, decryptHsDescriptor, signHsDescriptor, verifyHsDescriptor } from './hs/descriptor.ts'
export type { HsDescriptorOuter, HsInnerDescriptor, HsIntroPoint } from './hs/descriptor.ts'
export { HS_DHT_NAMESPACE, hsDescriptorDhtKey, hsDescriptorSelector, hsDescriptorValidator, hsdirProtocol } from './hs/dht.ts'
export { HsConfigError, HsNotFoundError, HsUnreachableError } from './hs/connect-errors.ts'
export { ForgedHsDescriptorError, HsDescriptorError, HsHandshakeError, MalformedHsDescriptorError, OnionAddressError } from './hs/hs-errors.ts'
export { hsNtorClientComplete, hsNtorClientIntroduce, hsNtorServiceIntroduce } from './hs/hs-ntor.ts'
export { HsRelay } from './hs/hs-relay.ts'
export { HsClient } from './hs/client.ts'
export { HostedService } from './hs/host.ts'
export { OnionServices } from './hs/services.ts'
export { PowSeeds, solvePow, verifyPow } from './hs/pow.ts'
export { EffortController, IntroQueue } from './hs/intro-queue.ts'
export type { HostedServiceInfo, OnionServicesControl, ServeOptions } from './hs/types.ts'
