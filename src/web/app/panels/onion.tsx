/**
 * Onion: this node as an onion relay (relay and exit settings, the SOCKS address), its relay
 * traffic over time, and its own circuits, listed and drawn as paths through the network graph
 * (this node → guard → middle → exit), with a button that retires them for new streams; and the
 * onion services it hosts (onion-services.tsx). The onion routes are polled every few seconds:
 * the event stream does not carry them.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import { ApiError, get, post } from '../api.ts'
import { axis, Chart } from '../components/chart.tsx'
import { Graph, linkKey } from '../components/graph.tsx'
import type { GraphNode, LinkStyle } from '../components/graph.tsx'
import { ago, formatBytes, formatCap, formatDuration, formatRate } from '../format.ts'
import type { CircuitInfo, FeedState, OnionStatus } from '../types.ts'
import { Empty, ErrorText, messageOf, Mono, Section, Stat, Stats } from '../ui.tsx'
import { OnionServices } from './onion-services.tsx'
import { label, networkGraph } from './peers.tsx'

/** How often the panel asks for the status and circuits. */
const POLL_MS = 3000
/** Relay rate samples kept: ten minutes. */
const MAX_SAMPLES = 200
/** Circuit colours, in the order of the circuit list. */
const PALETTE = ['#f4a261', '#7b2cbf', '#0077b6', '#d62828', '#2d6a4f', '#c9184a']

/** One relay traffic sample: bytes per second relayed between two polls. */
interface Sample { t: number, rate: number }

interface OnionState {
  status: OnionStatus | null
  circuits: CircuitInfo[]
  samples: Sample[]
  /** The node runs no onion service (503). */
  unavailable: boolean
  error: string | null
}

/** Polls the onion routes while mounted; `refresh` asks again now. */
function useOnion (): OnionState & { refresh: () => void } {
  const [state, setState] = useState<OnionState>({ status: null, circuits: [], samples: [], unavailable: false, error: null })
  const last = useRef<{ t: number, bytes: number } | null>(null)
  const [tick, setTick] = useState(0)

  useEffect(() => {
    let live = true
    const poll = async (): Promise<void> => {
      try {
        const [status, { circuits }] = await Promise.all([
          get<OnionStatus>('/api/v1/onion/status'),
          get<{ circuits: CircuitInfo[] }>('/api/v1/onion/circuits')
        ])
        if (!live) return
        const now = Date.now()
        const prev = last.current
        last.current = { t: now, bytes: status.relay.bytesRelayed }
        setState(s => {
          // a counter that went back is a restarted daemon: its old samples mean nothing now
          const restarted = prev != null && status.relay.bytesRelayed < prev.bytes
          const samples = prev == null || restarted
            ? (restarted ? [] : s.samples)
            : [...s.samples.slice(1 - MAX_SAMPLES), { t: now, rate: (status.relay.bytesRelayed - prev.bytes) * 1000 / Math.max(1, now - prev.t) }]
          return { status, circuits, samples, unavailable: false, error: null }
        })
      } catch (err) {
        if (!live) return
        const unavailable = err instanceof ApiError && err.status === 503
        setState(s => ({ ...s, unavailable, error: unavailable ? null : messageOf(err) }))
      }
    }
    void poll()
    const timer = setInterval(() => { void poll() }, POLL_MS)
    return () => { live = false; clearInterval(timer) }
  }, [tick])

  return { ...state, refresh: () => { setTick(t => t + 1) } }
}

/** The network graph with each live circuit's path drawn on it, in its colour. */
function circuitGraph (state: FeedState, circuits: CircuitInfo[]): { nodes: GraphNode[], links: Array<[string, string]>, styles: Map<string, LinkStyle> } {
  const base = networkGraph(state)
  const self = state.status?.peerId ?? 'this node'
  const nodes = new Map(base.nodes.map(n => [n.id, n]))
  if (!nodes.has(self)) nodes.set(self, { id: self, label: 'this node', kind: 'self' })
  // one link per pair of nodes; a circuit's link points along its path
  const pair = (a: string, b: string): string => a < b ? `${a} ${b}` : `${b} ${a}`
  const links = new Map(base.links.map(([a, b]) => [pair(a, b), [a, b] as [string, string]]))
  const styles = new Map<string, LinkStyle>()
  circuits.filter(c => c.state !== 'closed').forEach((c, i) => {
    const path = [self, ...c.hops.map(h => h.peerId)]
    for (let h = 1; h < path.length; h++) {
      const a = path[h - 1] as string
      const b = path[h] as string
      if (!nodes.has(b)) nodes.set(b, { id: b, label: label(b), kind: 'remote' })
      const key = pair(a, b)
      if ([...styles.keys()].some(k => k === linkKey(a, b) || k === linkKey(b, a))) continue
      links.set(key, [a, b])
      styles.set(linkKey(a, b), { color: colorOf(i), dashed: c.dirty })
    }
  })
  return { nodes: [...nodes.values()], links: [...links.values()], styles }
}

function colorOf (i: number): string {
  return PALETTE[i % PALETTE.length] as string
}

/** See the module comment. */
export function OnionPanel ({ state }: { state: FeedState }) {
  const onion = useOnion()
  const s = onion.status
  if (onion.unavailable) {
    return (
      <div class='panel'>
        <Section title='Onion routing'>
          <p id='onion-unavailable'>The onion service is not running on this node.</p>
        </Section>
      </div>
    )
  }
  return (
    <div class='panel'>
      <Section title='This node as a relay' id='onion-node'>
        <ErrorText error={onion.error} />
        {s == null
          ? <Empty>Waiting for the onion status…</Empty>
          : (
            <>
              <Stats>
                <Stat id='onion-relay' label='Relay' value={s.relay.enabled ? 'on' : 'off'} hint={s.relay.enabled ? ` cap ${formatCap(s.relay.rateBytesPerSec)}` : ' --no-onion-relay'} />
                <Stat id='onion-relayed' label='Relayed' value={formatBytes(s.relay.bytesRelayed)} hint={` ${s.relay.cellsRelayed} cells`} />
                <Stat id='onion-relay-circuits' label='Circuits relayed now' value={String(s.relay.circuits)} />
                <Stat id='onion-exit' label='Exit' value={s.relay.exit ? 'on' : 'off'} />
                <Stat id='onion-relays' label='Relays known' value={String(s.relaysKnown)} />
                <Stat id='onion-circuits' label='My circuits open' value={String(s.circuitsOpen)} />
              </Stats>
              <div class='kv'>
                <div class='kv-row'>
                  <span class='kv-key'>SOCKS proxy</span>
                  {s.socks != null ? <Mono>{s.socks}</Mono> : <span>off (start the daemon with <code>--socks 127.0.0.1:9050</code>)</span>}
                </div>
                {s.relay.exit && (
                  <div class='kv-row'>
                    <span class='kv-key'>Exit policy</span>
                    <ul class='plain' id='onion-exit-policy'>{s.relay.exitPolicy.map((r, i) => <li key={i}><code>{r}</code></li>)}</ul>
                  </div>
                )}
                <div class='kv-row'>
                  <span class='kv-key'>Entry guards</span>
                  {s.guards.length === 0
                    ? <span>none chosen yet</span>
                    : (
                      <ul class='plain'>
                        {s.guards.map(g => <li key={g.peerId}><Mono>{g.peerId}</Mono> <small class='muted'>added {ago(g.addedAt)}, {g.reachable ? 'reachable' : 'unreachable'}</small></li>)}
                      </ul>
                      )}
                </div>
              </div>
            </>
            )}
      </Section>
      <OnionServices />
      <Section title='Relay traffic'>
        <RelayChart samples={onion.samples} />
      </Section>
      <Section title='My circuits' id='onion-my-circuits' actions={<NewCircuits onDone={onion.refresh} />}>
        <CircuitMap state={state} circuits={onion.circuits} />
        <CircuitTable circuits={onion.circuits} />
      </Section>
    </div>
  )
}

function relayOptions (el: HTMLElement): Omit<uPlot.Options, 'width' | 'height'> {
  return {
    scales: {
      // at least a minute wide, from the samples themselves: uPlot widens one sample alone to years
      x: { time: true, range: (u) => { const xs = u.data[0]; const last = xs.at(-1) ?? Date.now() / 1000; return [Math.min(xs[0] ?? last, last - 60), last] } },
      y: { range: (_u, _min, max) => [0, Math.max(1024, max * 1.1)] }
    },
    axes: [axis(el), axis(el, { size: 80, values: (_u, ticks) => ticks.map(v => formatRate(v)) })],
    series: [
      {},
      { label: 'relayed', stroke: '#7b2cbf', width: 2, fill: 'rgba(123,44,191,0.12)', value: (_u, v) => v == null ? '–' : formatRate(v) }
    ]
  }
}

function RelayChart ({ samples }: { samples: Sample[] }) {
  const data = useMemo<uPlot.AlignedData>(() => [samples.map(x => x.t / 1000), samples.map(x => x.rate)], [samples])
  const now = samples.at(-1)
  return (
    <div data-samples={samples.length}>
      <Stats>
        <Stat id='onion-relay-rate' label='Relaying now' value={now != null ? formatRate(now.rate) : '–'} />
      </Stats>
      <Chart
        options={relayOptions}
        data={data}
        label={`Relay traffic for other nodes' circuits, bytes per second, over the last ${formatDuration(samples.length * POLL_MS / 1000)}; now ${now != null ? formatRate(now.rate) : 'unknown'}`}
      />
    </div>
  )
}

function CircuitMap ({ state, circuits }: { state: FeedState, circuits: CircuitInfo[] }) {
  const graph = useMemo(() => circuitGraph(state, circuits), [state.peers, state.network, state.status?.peerId, circuits])
  const live = circuits.filter(c => c.state !== 'closed')
  return (
    <>
      <div class='legend' aria-hidden='true'>
        <span><i class='dot dot-self' />this node</span>
        {live.map((c, i) => <span key={c.id}><i class='dot' style={{ background: colorOf(i) }} />circuit {c.id}{c.dirty ? ' (retired, dashed)' : ''}</span>)}
      </div>
      <Graph nodes={graph.nodes} links={graph.links} linkStyles={graph.styles} label={`Network graph with ${live.length} circuit path${live.length === 1 ? '' : 's'} drawn from this node through their relays`} />
    </>
  )
}

function CircuitTable ({ circuits }: { circuits: CircuitInfo[] }) {
  if (circuits.length === 0) return <Empty>No circuits. One is built when a stream needs it: a SOCKS connection or a library call.</Empty>
  const live = circuits.filter(c => c.state !== 'closed')
  return (
    <div class='table-wrap'>
      <table id='circuit-table'>
        <caption class='sr-only'>My circuits</caption>
        <thead>
          <tr>
            <th scope='col'>Circuit</th><th scope='col'>Purpose</th><th scope='col'>State</th><th scope='col'>Path (guard first)</th>
            <th scope='col'>Age</th><th scope='col'>Build</th><th scope='col'>Sent / received</th><th scope='col'>Streams</th><th scope='col'>Retired</th>
          </tr>
        </thead>
        <tbody>
          {circuits.map(c => {
            const i = live.indexOf(c)
            return (
              <tr key={c.id} data-circuit={c.id}>
                <td>{i >= 0 && <i class='dot' style={{ background: colorOf(i) }} />}{c.id}</td>
                <td>{c.purpose}</td>
                <td>{c.state}</td>
                <td class='path'>{['this node', ...c.hops.map(h => label(h.peerId))].join(' → ')}</td>
                <td>{formatDuration(c.ageSeconds)}</td>
                <td>{c.buildMs == null ? '–' : `${Math.round(c.buildMs)} ms`}</td>
                <td>{formatBytes(c.bytesSent)} / {formatBytes(c.bytesReceived)}</td>
                <td>{c.streams}</td>
                <td>{c.dirty ? 'yes' : 'no'}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

function NewCircuits ({ onDone }: { onDone: () => void }) {
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const click = async (): Promise<void> => {
    setBusy(true)
    setError(null)
    setMessage(null)
    try {
      const r = await post<{ retired: number }>('/api/v1/onion/new-circuits')
      setMessage(`Retired ${r.retired} circuit${r.retired === 1 ? '' : 's'}: new streams use new circuits.`)
      onDone()
    } catch (err) {
      setError(messageOf(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <div class='row'>
      {message != null && <span role='status' id='new-circuits-result'>{message}</span>}
      <ErrorText error={error} />
      <button type='button' class='small' disabled={busy} onClick={() => { void click() }}>{busy ? 'Retiring…' : 'New circuits'}</button>
    </div>
  )
}
