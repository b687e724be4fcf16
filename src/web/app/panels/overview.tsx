/** Overview: who this node is, how long it has run, and its bandwidth over time and caps. */
import { useMemo } from 'preact/hooks'
import type uPlot from 'uplot'
import { axis, Chart } from '../components/chart.tsx'
import { formatBytes, formatCoins, formatDuration, formatRate } from '../format.ts'
import type { FeedState } from '../types.ts'
import { CopyButton, Empty, Mono, Section, Stat, Stats } from '../ui.tsx'
import { BandwidthCaps } from './bandwidth-caps.tsx'

/** Whether peers can dial the node, in words: AutoNAT's answer, relays, hole punching. */
function reachabilityText (r: NonNullable<FeedState['status']>['reachability']): string {
  const seen = r.observedIps.length > 0 ? ` (seen at ${r.observedIps.join(', ')})` : ''
  const punched = r.holePunch.attempts > 0 ? ` · hole punching: ${r.holePunch.direct} of ${r.holePunch.attempts} connections turned direct` : ''
  if (r.state === 'public') return `Reachable: peers can dial this node${seen}${punched}`
  if (r.state === 'unknown') return `Not checked yet${seen}`
  const n = r.relayedAddresses.length
  return `Behind a NAT${seen}: ${n === 0 ? 'no relay reservation yet' : `reachable through ${n} relay${n === 1 ? '' : 's'}`}${punched}`
}

/** See the module comment. */
export function OverviewPanel ({ state }: { state: FeedState }) {
  const s = state.status
  const last = state.bandwidth.at(-1)
  const wallet = state.wallet
  return (
    <div class='panel'>
      <Section title='This node'>
        {s == null
          ? <Empty>Waiting for the node's status…</Empty>
          : (
            <>
              <Stats>
                <Stat id='network' label='Network' value={s.network} />
                <Stat id='uptime' label='Uptime' value={formatDuration(s.uptimeSeconds)} />
                <Stat id='peers' label='Peers' value={String(s.peers)} hint={` ${s.connections} connections`} />
                <Stat id='version' label='Version' value={s.version} />
                <Stat id='height' label='Chain height' value={state.chain != null ? String(state.chain.height) : '–'} />
                <Stat id='balance' label='Wallet' value={wallet?.exists === true ? formatCoins(wallet.confirmed + wallet.unconfirmed + wallet.immature) : 'none'} />
              </Stats>
              <div class='kv'>
                <div class='kv-row'>
                  <span class='kv-key'>Peer ID</span>
                  <span><Mono>{s.peerId}</Mono> <CopyButton text={s.peerId} /></span>
                </div>
                <div class='kv-row'>
                  <span class='kv-key'>Addresses</span>
                  <ul class='plain'>
                    {s.addresses.length === 0 && <li>none (not listening)</li>}
                    {s.addresses.map(a => <li key={a}><Mono>{a}</Mono> <CopyButton text={a} /></li>)}
                  </ul>
                </div>
                <div class='kv-row' id='reachability'><span class='kv-key'>Reachability</span><span>{reachabilityText(s.reachability)}</span></div>
                <div class='kv-row'><span class='kv-key'>API</span><Mono>{s.api}</Mono></div>
                <div class='kv-row'><span class='kv-key'>Gateway</span>{s.gateway != null ? <a href={s.gateway}>{s.gateway}</a> : <span>off (start the daemon with <code>--gateway HOST:PORT</code>)</span>}</div>
                <div class='kv-row'><span class='kv-key'>Data dir</span><Mono>{s.dataDir}</Mono></div>
              </div>
            </>
            )}
      </Section>
      <Section title='Bandwidth'>
        <Stats>
          <Stat id='rate-in' label='In' value={last != null ? formatRate(last.rateIn) : '–'} hint={last != null ? ` ${formatBytes(last.bytesIn)} total` : undefined} />
          <Stat id='rate-out' label='Out' value={last != null ? formatRate(last.rateOut) : '–'} hint={last != null ? ` ${formatBytes(last.bytesOut)} total` : undefined} />
        </Stats>
        <BandwidthChart state={state} />
        <BandwidthCaps />
      </Section>
    </div>
  )
}

function bandwidthOptions (el: HTMLElement): Omit<uPlot.Options, 'width' | 'height'> {
  return {
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1024, max * 1.1)] } },
    axes: [axis(el), axis(el, { size: 80, values: (_u, ticks) => ticks.map(v => formatRate(v)) })],
    series: [
      {},
      { label: 'in', stroke: '#2a9d8f', width: 2, fill: 'rgba(42,157,143,0.12)', value: (_u, v) => v == null ? '–' : formatRate(v) },
      { label: 'out', stroke: '#e76f51', width: 2, value: (_u, v) => v == null ? '–' : formatRate(v) }
    ]
  }
}

function BandwidthChart ({ state }: { state: FeedState }) {
  const data = useMemo<uPlot.AlignedData>(() => [
    state.bandwidth.map(s => s.t / 1000),
    state.bandwidth.map(s => s.rateIn),
    state.bandwidth.map(s => s.rateOut)
  ], [state.bandwidth])
  const last = state.bandwidth.at(-1)
  return (
    <Chart
      options={bandwidthOptions}
      data={data}
      label={`Bandwidth, bytes per second in and out, over the last ${Math.max(1, Math.round(state.bandwidth.length / 60))} minutes; now ${last != null ? `${formatRate(last.rateIn)} in, ${formatRate(last.rateOut)} out` : 'unknown'}`}
    />
  )
}
