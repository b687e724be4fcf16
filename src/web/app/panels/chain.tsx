/**
 * Chain: height, tip, difficulty over recent blocks, the mempool with its fee-rate histogram,
 * the recent blocks, and a detail view of any block or transaction (`#chain/block/ID`,
 * `#chain/tx/TXID`).
 */
import { useMemo, useState } from 'preact/hooks'
import uPlot from 'uplot'
import { navigate } from '../route.ts'
import { axis, Chart } from '../components/chart.tsx'
import { ago, formatBytes, formatCoins, shortId } from '../format.ts'
import type { BlockSummary, ChainState, FeedState } from '../types.ts'
import { Empty, Mono, Section, Stat, Stats } from '../ui.tsx'
import { BlockDetail, TxDetail } from './chain-detail.tsx'

/** See the module comment. */
export function ChainPanel ({ state, args }: { state: FeedState, args: string[] }) {
  const [kind, id] = args
  if (kind === 'block' && id != null) return <BlockDetail id={id} tipHeight={state.chain?.height} />
  if (kind === 'tx' && id != null) return <TxDetail txid={id} />
  const c = state.chain
  return (
    <div class='panel'>
      <Section title='State' id='chain-state'>
        {c == null
          ? <Empty>Waiting for the chain…</Empty>
          : (
            <Stats>
              <Stat id='chain-height' label='Height' value={String(c.height)} />
              <Stat id='chain-tip' label='Tip' value={<a href={`#chain/block/${c.tip}`}><Mono>{shortId(c.tip, 10, 6)}</Mono></a>} />
              <Stat id='chain-difficulty' label='Difficulty' value={String(c.difficulty)} />
              <Stat id='chain-sync' label='Sync' value={c.sync.syncing ? `syncing (best ${c.sync.bestHeight})` : 'idle'} hint={` ${c.sync.peers} chain peers`} />
              <Stat id='chain-mining' label='Mining' value={c.miner.mining ? `${c.miner.hashRate} H/s` : 'off'} />
            </Stats>
            )}
        <SearchForm />
      </Section>
      <div class='grid-2'>
        <Section title='Difficulty'>
          <DifficultyChart blocks={state.blocks ?? []} />
        </Section>
        <Section title='Mempool' id='mempool'>
          {c != null && <MempoolView chain={c} />}
        </Section>
      </div>
      <Section title='Recent blocks' id='recent-blocks'>
        <BlockTable blocks={state.blocks ?? []} />
      </Section>
    </div>
  )
}

function SearchForm () {
  const [q, setQ] = useState('')
  return (
    <form
      class='inline-form' role='search' onSubmit={(e) => {
        e.preventDefault()
        const v = q.trim()
        if (/^\d+$/.test(v)) navigate('chain', 'block', v)
        else if (v !== '') navigate('chain', 'block', v)
      }}
    >
      <label for='chain-search'>Find a block by height or hash</label>
      <div class='row'>
        <input id='chain-search' placeholder='height or block hash' spellcheck={false} value={q} onInput={(e) => { setQ((e.target as HTMLInputElement).value) }} />
        <button type='submit'>Show block</button>
        <button type='button' onClick={() => { if (q.trim() !== '') navigate('chain', 'tx', q.trim()) }}>Show transaction</button>
      </div>
    </form>
  )
}

function difficultyOptions (el: HTMLElement): Omit<uPlot.Options, 'width' | 'height'> {
  return {
    scales: { x: { time: false } },
    // whole heights only
    axes: [axis(el, { label: 'height', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000] }), axis(el, { size: 60 })],
    series: [{ label: 'height' }, { label: 'difficulty', stroke: '#e9c46a', width: 2, paths: uPlot.paths.stepped?.({ align: 1 }) }],
    cursor: { drag: { x: false, y: false } }
  }
}

function DifficultyChart ({ blocks }: { blocks: BlockSummary[] }) {
  const data = useMemo<uPlot.AlignedData>(() => {
    const asc = [...blocks].reverse()
    return [asc.map(b => b.height), asc.map(b => b.difficulty)]
  }, [blocks])
  if (blocks.length === 0) return <Empty>No blocks yet.</Empty>
  const first = blocks.at(-1)
  const last = blocks[0]
  return (
    <Chart
      options={difficultyOptions}
      data={data}
      height={180}
      label={`Difficulty of the last ${blocks.length} blocks, from ${first?.difficulty ?? '?'} at height ${first?.height ?? '?'} to ${last?.difficulty ?? '?'} at height ${last?.height ?? '?'}`}
    />
  )
}

function bucketName (b: { from: number, to: number | null }): string {
  return b.to == null ? `${b.from}+` : `${b.from}–${b.to}`
}

function MempoolView ({ chain }: { chain: ChainState }) {
  const m = chain.mempool
  const buckets = m.histogram.filter(b => b.count > 0)
  const options = useMemo(() => (el: HTMLElement): Omit<uPlot.Options, 'width' | 'height'> => ({
    scales: { x: { time: false, range: (_u, min, max) => [min - 0.6, max + 0.6] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
    axes: [
      axis(el, { label: 'fee rate (units/vB)', values: (_u, ticks) => ticks.map(t => Number.isInteger(t) ? bucketName(m.histogram[t] ?? { from: t, to: null }) : '') }),
      axis(el, { size: 50, label: 'transactions' })
    ],
    series: [{}, { label: 'transactions', stroke: '#264653', fill: 'rgba(42,157,143,0.55)', paths: uPlot.paths.bars?.({ size: [0.7, 60] }), points: { show: false } }],
    cursor: { drag: { x: false, y: false } }
  }), [m.histogram.map(bucketName).join(',')])
  const data = useMemo<uPlot.AlignedData>(() => [m.histogram.map((_b, i) => i), m.histogram.map(b => b.count)], [m.histogram])
  return (
    <>
      <Stats>
        <Stat id='mempool-size' label='Transactions' value={String(m.size)} />
        <Stat id='mempool-vsize' label='Size' value={`${m.vsize} vB`} hint={` ${formatBytes(m.bytes)} of ${formatBytes(m.maxBytes)} memory`} />
        <Stat id='mempool-fees' label='Fees' value={formatCoins(m.fees)} />
        <Stat id='mempool-feerate' label='Next-block fee rate' value={`${chain.feeEstimate} units/vB`} hint={` min ${m.minFeeRate}`} />
      </Stats>
      <Chart
        options={options}
        data={data}
        height={180}
        label={buckets.length === 0 ? 'Fee-rate histogram: the mempool is empty' : `Fee-rate histogram: ${buckets.map(b => `${b.count} at ${bucketName(b)} units per vbyte`).join(', ')}`}
      />
    </>
  )
}

function BlockTable ({ blocks }: { blocks: BlockSummary[] }) {
  if (blocks.length === 0) return <Empty>No blocks yet.</Empty>
  return (
    <div class='table-wrap'>
      <table id='block-table'>
        <caption class='sr-only'>Recent blocks, newest first</caption>
        <thead><tr><th scope='col'>Height</th><th scope='col'>Hash</th><th scope='col'>Time</th><th scope='col'>Transactions</th><th scope='col'>Size</th></tr></thead>
        <tbody>
          {blocks.slice(0, 20).map(b => (
            <tr key={b.hash} data-height={b.height}>
              <td>{b.height}</td>
              <td><a href={`#chain/block/${b.hash}`} aria-label={`Block ${b.height}, ${b.hash}`}><Mono>{shortId(b.hash, 12, 6)}</Mono></a></td>
              <td title={new Date(b.time * 1000).toLocaleString()}>{ago(b.time)}</td>
              <td>{b.txCount}</td>
              <td>{formatBytes(b.size)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
