/** The detail views of the Chain panel: one block, one transaction. */
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { get } from '../api.ts'
import { formatBytes, formatCoins, formatTime } from '../format.ts'
import type { Block, Tx } from '../types.ts'
import { CopyButton, Empty, ErrorText, messageOf, Mono, Section } from '../ui.tsx'

function useLoad<T> (path: string, deps: unknown[]): { value?: T, error?: string } {
  const [r, setR] = useState<{ value?: T, error?: string }>({})
  useEffect(() => {
    let live = true
    setR({})
    get<T>(path).then(value => { if (live) setR({ value }) }, (err: unknown) => { if (live) setR({ error: messageOf(err) }) })
    return () => { live = false }
  }, deps)
  return r
}

function Back () {
  return <p><a href='#chain'>← Back to the chain</a></p>
}

function Row ({ k, children }: { k: string, children: ComponentChildren }) {
  return <div class='kv-row'><span class='kv-key'>{k}</span><span>{children}</span></div>
}

/** A block by hash or height; it reloads when the tip moves (confirmations, next block). */
export function BlockDetail ({ id, tipHeight }: { id: string, tipHeight?: number }) {
  const { value: b, error } = useLoad<Block>(`/api/v1/chain/block?id=${encodeURIComponent(id)}`, [id, tipHeight])
  return (
    <div class='panel'>
      <Back />
      <Section title={b != null ? `Block ${b.height}` : 'Block'} id='block-detail'>
        <ErrorText error={error} />
        {b == null && error == null && <Empty>Loading…</Empty>}
        {b != null && (
          <>
            <div class='kv'>
              <Row k='Hash'><Mono>{b.hash}</Mono> <CopyButton text={b.hash} /></Row>
              <Row k='Confirmations'>{b.confirmations > 0 ? String(b.confirmations) : 'not on the best chain'}</Row>
              <Row k='Previous'>{b.height > 0 ? <a href={`#chain/block/${b.prevHash}`}><Mono>{b.prevHash}</Mono></a> : 'none (genesis)'}</Row>
              <Row k='Next'>{b.nextHash != null ? <a href={`#chain/block/${b.nextHash}`}><Mono>{b.nextHash}</Mono></a> : '–'}</Row>
              <Row k='Time'>{formatTime(b.time)}</Row>
              <Row k='Difficulty'>{`${b.difficulty} (bits ${b.bits})`}</Row>
              <Row k='Merkle root'><Mono>{b.merkleRoot}</Mono></Row>
              <Row k='Size / weight'>{`${formatBytes(b.size)} / ${b.weight} WU`}</Row>
              <Row k='Nonce'>{String(b.nonce)}</Row>
            </div>
            <h4>{b.txCount} transaction{b.txCount === 1 ? '' : 's'}</h4>
            <ul class='plain'>
              {b.txs.map((t, i) => <li key={t}><a href={`#chain/tx/${t}`}><Mono>{t}</Mono></a>{i === 0 && ' (coinbase)'}</li>)}
            </ul>
          </>
        )}
      </Section>
    </div>
  )
}

/** A transaction of the best chain. */
export function TxDetail ({ txid }: { txid: string }) {
  const { value: t, error } = useLoad<Tx>(`/api/v1/chain/tx?txid=${encodeURIComponent(txid)}`, [txid])
  const total = t?.outputs.reduce((n, o) => n + o.amount, 0) ?? 0
  return (
    <div class='panel'>
      <Back />
      <Section title='Transaction' id='tx-detail'>
        <ErrorText error={error != null ? `${error} (a transaction still in the mempool isn't shown here until it is mined)` : null} />
        {t == null && error == null && <Empty>Loading…</Empty>}
        {t != null && (
          <>
            <div class='kv'>
              <Row k='Txid'><Mono>{t.txid}</Mono> <CopyButton text={t.txid} /></Row>
              <Row k='Block'><a href={`#chain/block/${t.blockHash}`}>{`height ${t.height}`}</a>{` (${t.confirmations} confirmation${t.confirmations === 1 ? '' : 's'})`}</Row>
              <Row k='Size'>{`${t.size} bytes, ${t.vsize} vB, ${t.weight} WU`}</Row>
              <Row k='Total out'>{formatCoins(total)}</Row>
            </div>
            <h4>Inputs</h4>
            {t.coinbase
              ? <p>Coinbase (newly minted coins and the block's fees)</p>
              : (
                <ul class='plain'>
                  {t.inputs.map(i => <li key={`${i.txid}:${i.index}`}><a href={`#chain/tx/${i.txid}`}><Mono>{`${i.txid}:${i.index}`}</Mono></a></li>)}
                </ul>
                )}
            <h4>Outputs</h4>
            <div class='table-wrap'>
              <table>
                <thead><tr><th scope='col'>#</th><th scope='col'>Amount</th><th scope='col'>Address</th></tr></thead>
                <tbody>
                  {t.outputs.map((o, n) => (
                    <tr key={n}><td>{n}</td><td>{formatCoins(o.amount)}</td><td><Mono>{o.address ?? `script ${o.script}`}</Mono></td></tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </Section>
    </div>
  )
}
