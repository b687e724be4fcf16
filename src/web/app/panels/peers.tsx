/**
 * Peers: the network around this node as a force-directed graph (its live connections, plus
 * what its peers told it of their own over the peer list protocol), and a live table of the
 * connected peers with connect and disconnect.
 */
import { useMemo, useState } from 'preact/hooks'
import { post } from '../api.ts'
import { Graph } from '../components/graph.tsx'
import type { GraphNode } from '../components/graph.tsx'
import { ago } from '../format.ts'
import type { FeedState, Peer } from '../types.ts'
import { CopyButton, Empty, ErrorText, messageOf, Mono, Section } from '../ui.tsx'

/** A peer id as a graph label: its tail. */
export function label (id: string): string {
  return `…${id.slice(-6)}`
}

/** The graph's nodes and links: live connections first, the crawl for what lies beyond (the Onion panel draws its circuits on it). */
export function networkGraph (state: FeedState): { nodes: GraphNode[], links: Array<[string, string]> } {
  const self = state.status?.peerId
  if (self == null) return { nodes: [], links: [] }
  const nodes = new Map<string, GraphNode>([[self, { id: self, label: 'this node', kind: 'self' }]])
  const links: Array<[string, string]> = []
  for (const p of state.peers ?? []) {
    nodes.set(p.peerId, { id: p.peerId, label: label(p.peerId), kind: 'peer' })
    links.push([self, p.peerId])
  }
  for (const n of state.network?.nodes ?? []) {
    if (n.hops === 2 && !nodes.has(n.peerId)) nodes.set(n.peerId, { id: n.peerId, label: label(n.peerId), kind: 'remote' })
  }
  for (const [a, b] of state.network?.links ?? []) {
    if (a !== self && b !== self && nodes.has(a) && nodes.has(b)) links.push([a, b])
  }
  return { nodes: [...nodes.values()], links }
}

/** See the module comment. */
export function PeersPanel ({ state }: { state: FeedState }) {
  const graph = useMemo(() => networkGraph(state), [state.peers, state.network, state.status?.peerId])
  const peers = state.peers ?? []
  const net = state.network
  const remote = graph.nodes.filter(n => n.kind === 'remote').length
  const summary = `${peers.length} connected peer${peers.length === 1 ? '' : 's'}` +
    (remote > 0 ? `, ${remote} more node${remote === 1 ? '' : 's'} seen through them` : '') +
    `; ${graph.links.length} link${graph.links.length === 1 ? '' : 's'}`
  return (
    <div class='panel'>
      <Section title='Network'>
        <p class='muted' id='network-summary'>
          {summary}.{net != null && ` Peer lists asked ${ago(net.crawledAt)}${net.partial ? ' (capped: more nodes exist)' : ''}.`}
        </p>
        <div class='legend' aria-hidden='true'>
          <span><i class='dot dot-self' />this node</span>
          <span><i class='dot dot-peer' />connected peer</span>
          <span><i class='dot dot-remote' />peer of a peer</span>
        </div>
        <Graph nodes={graph.nodes} links={graph.links} label={`Network graph: ${summary}`} />
      </Section>
      <Section title='Connected peers'>
        <PeerTable peers={peers} />
        <ConnectForm />
      </Section>
    </div>
  )
}

function PeerTable ({ peers }: { peers: Peer[] }) {
  const [error, setError] = useState<string | null>(null)
  if (peers.length === 0) return <Empty>No peers connected.</Empty>
  const disconnect = async (peerId: string): Promise<void> => {
    setError(null)
    try {
      await post('/api/v1/peers/disconnect', { peerId })
    } catch (err) {
      setError(messageOf(err))
    }
  }
  return (
    <>
      <div class='table-wrap'>
        <table id='peer-table'>
          <caption class='sr-only'>Connected peers</caption>
          <thead><tr><th scope='col'>Peer ID</th><th scope='col'>Direction</th><th scope='col'>Via</th><th scope='col'>Latency</th><th scope='col'>Address</th><th scope='col'><span class='sr-only'>Actions</span></th></tr></thead>
          <tbody>
            {peers.map(p => (
              <tr key={p.peerId} data-peer={p.peerId}>
                <td><Mono>{p.peerId}</Mono></td>
                <td>{p.direction === 'inbound' ? 'in' : 'out'}</td>
                <td title={p.relayed ? 'through a circuit relay: both ends are behind NATs and hole punching has not (yet) made it direct' : undefined}>{p.relayed ? 'relay' : 'direct'}</td>
                <td>{p.latencyMs == null ? '–' : `${p.latencyMs} ms`}</td>
                <td><Mono>{p.addresses[0] ?? ''}</Mono></td>
                <td class='actions'>
                  <CopyButton text={p.peerId} label='Copy ID' />
                  <button type='button' class='small danger' aria-label={`Disconnect ${p.peerId}`} onClick={() => { void disconnect(p.peerId) }}>Disconnect</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ErrorText error={error} />
    </>
  )
}

function ConnectForm () {
  const [address, setAddress] = useState('')
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    setMessage(null)
    try {
      const p = await post<Peer>('/api/v1/peers/connect', { address: address.trim() })
      setMessage(`Connected to ${p.peerId}.`)
      setAddress('')
    } catch (err) {
      setError(messageOf(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class='inline-form' onSubmit={(e) => { void submit(e) }}>
      <label for='connect-address'>Connect to a peer (multiaddr)</label>
      <div class='row'>
        <input id='connect-address' required placeholder='/ip4/…/tcp/…/p2p/12D3KooW…' value={address} onInput={(e) => { setAddress((e.target as HTMLInputElement).value) }} />
        <button type='submit' disabled={busy}>{busy ? 'Connecting…' : 'Connect'}</button>
      </div>
      {message != null && <p role='status'>{message}</p>}
      <ErrorText error={error} />
    </form>
  )
}
