/**
 * Share: add files (a file picker or drag and drop, uploaded to the node), get content by CID or
 * share link with live progress (rate, ETA, peers serving), and what the node holds, each with
 * a link that opens it (through the gateway when one runs, else the API's `cat`) and a share
 * link to copy. `#/open?link=…` (what the browser opens for a web+peerd: link once the page is
 * registered as its handler) fills the get form in. Private transfers (`get --private`: through
 * onion circuits, never announced) and content fetched so carry a badge.
 * For a folder CID, "Select files…" opens a picker and gets only the files checked.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { get, upload } from '../api.ts'
import { dismissDownload, startDownload, useDownloads } from '../downloads.ts'
import type { Download } from '../downloads.ts'
import { formatBytes, formatDuration, formatRate } from '../format.ts'
import type { FeedState, Progress, Root } from '../types.ts'
import { FilePicker } from '../components/file-picker.tsx'
import { CopyButton, Empty, ErrorText, messageOf, Mono, Section } from '../ui.tsx'

/** Whether a transfer or held root was fetched privately (`get --private`); absent means not. */
function isPrivate (x: { private?: boolean }): boolean {
  return x.private === true
}

/** The badge of a private transfer, of content fetched privately, or (`shared`) of content served only through this node's onion service. */
function PrivateBadge ({ shared = false }: { shared?: boolean }) {
  const title = shared
    ? 'Shared privately: served only through this node\'s onion service, announced by its .peerd address, never under this node\'s peer id'
    : 'Fetched through onion circuits: no provider learned who fetched it, and this node does not announce it'
  return <span class='badge' data-private='true' title={title}>private</span>
}

/** See the module comment. */
export function SharePanel ({ state, args = [] }: { state: FeedState, args?: string[] }) {
  const downloads = useDownloads()
  const mine = new Set(downloads.map(d => d.cid))
  // downloads started elsewhere (the CLI, another tab) come from the node's transfer list
  const others = (state.transfers ?? []).filter(t => !mine.has(t.cid))
  const privateCids = new Set((state.transfers ?? []).filter(isPrivate).map(t => t.cid))
  return (
    <div class='panel'>
      <div class='grid-2'>
        <Section title='Add files'><AddFiles /></Section>
        <Section title='Get by CID or link'><GetForm opened={args[0] === 'open' ? args[1] : undefined} /></Section>
      </div>
      <Section title='Downloads' id='downloads'>
        {downloads.length === 0 && others.length === 0 && <Empty>No downloads in progress.</Empty>}
        <ul class='downloads'>
          {downloads.map(d => <DownloadRow key={d.cid} d={d} private={privateCids.has(d.cid)} />)}
          {others.map(t => (
            <li key={t.cid} class='download' data-cid={t.cid} data-state='running' data-private={String(isPrivate(t))}>
              <div class='download-head'><span><Mono>{t.cid}</Mono>{isPrivate(t) && <> <PrivateBadge /></>}</span><span class='muted'>started elsewhere</span></div>
              <ProgressLine progress={t.progress} />
            </li>
          ))}
        </ul>
      </Section>
      <Section title='Held content' id='held'>
        <HeldTable held={state.held} gateway={state.status?.gateway ?? null} />
      </Section>
    </div>
  )
}

function ProgressLine ({ progress, done }: { progress?: Progress, done?: boolean }) {
  const p = progress
  const total = p?.total ?? 0
  const percent = done === true ? 100 : total > 0 && p != null ? Math.min(100, Math.floor(p.bytes / total * 100)) : 0
  const eta = p != null && p.rate > 0 && total > p.bytes ? (total - p.bytes) / p.rate : null
  return (
    <div class='progress-line'>
      <progress max={100} value={done === true || total > 0 ? percent : undefined} aria-label={`Downloaded ${percent}%`} />
      <span class='progress-text'>
        {percent}%{p != null && ` · ${formatBytes(p.bytes)}${total > 0 ? ` of ${formatBytes(total)}` : ''}`}
        {done !== true && p != null && ` · ${formatRate(p.rate)} · ${eta != null ? `ETA ${formatDuration(eta)}` : 'ETA –'} · ${p.peers} peer${p.peers === 1 ? '' : 's'} serving`}
        {done !== true && (p == null || (p.peers === 0 && p.fetched === 0)) && ' · looking for peers that have it…'}
      </span>
    </div>
  )
}

function DownloadRow ({ d, private: priv }: { d: Download, private: boolean }) {
  return (
    <li class='download' data-cid={d.cid} data-state={d.state} data-percent={d.percent} data-private={String(priv)}>
      <div class='download-head'>
        <span><Mono>{d.cid}</Mono>{priv && <> <PrivateBadge /></>}{d.only != null && <span class='muted'> ({d.only.length} picked)</span>}</span>
        {d.state !== 'running' && <button type='button' class='small' aria-label={`Dismiss ${d.cid}`} onClick={() => { dismissDownload(d.cid) }}>Dismiss</button>}
      </div>
      <ProgressLine progress={d.progress} done={d.state === 'done'} />
      {d.state === 'done' && d.result != null && (
        <p class='ok' role='status'>Complete: {formatBytes(d.result.size)} from {d.result.peers} peer{d.result.peers === 1 ? '' : 's'} in {d.result.seconds} s.</p>
      )}
      {d.state === 'failed' && <ErrorText error={d.error} />}
    </li>
  )
}

/** A share link's scheme (`peerd://`, `web+peerd:`); the plain form has none. */
const LINK_SCHEME = /^(web\+peerd|peerd):(\/\/)?/i

/** Whether the text is a share link rather than a bare CID (the node parses it for real). */
function isLink (text: string): boolean {
  return LINK_SCHEME.test(text) || text.includes('?')
}

/** The CID a link starts with, to name its download on this page until the node answers. */
function cidOfLink (text: string): string {
  return text.replace(LINK_SCHEME, '').replace(/^\/?ipfs\//, '').split(/[/?]/)[0] ?? text
}

function GetForm ({ opened }: { opened?: string }) {
  const [cid, setCid] = useState(opened ?? '')
  // a link opened while the panel shows (another web+peerd: link clicked) replaces the field
  useEffect(() => { if (opened != null) setCid(opened) }, [opened])
  /** The folder CID (or link) whose files are being picked. */
  const [picking, setPicking] = useState<string | null>(null)
  const start = (text: string, only?: string[]): void => {
    if (isLink(text)) startDownload(cidOfLink(text), { link: text, only })
    else startDownload(text, { only })
    setCid('')
    setPicking(null)
  }
  const submit = (): void => {
    const text = cid.trim()
    if (text !== '') start(text)
  }
  return (
    <form class='inline-form' onSubmit={(e) => { e.preventDefault(); submit() }}>
      <label for='get-cid'>CID to fetch into this node, or a share link (peerd://…)</label>
      <div class='row'>
        <input id='get-cid' required placeholder='bafy… or peerd://bafy…?provider=…' spellcheck={false} value={cid} onInput={(e) => { setCid((e.target as HTMLInputElement).value) }} />
        <button type='submit'>Get</button>
        <button type='button' disabled={cid.trim() === ''} onClick={() => { setPicking(cid.trim()) }}>Select files…</button>
      </div>
      {picking != null && (
        <FilePicker
          cid={isLink(picking) ? cidOfLink(picking) : picking}
          onPick={(only) => { start(picking, only) }}
          onCancel={() => { setPicking(null) }}
        />
      )}
      <p class='muted'>The node fetches it from every peer that has it (a link's providers first), then holds and serves it too. For a folder, select files to fetch only those.</p>
      <HandlerButton />
    </form>
  )
}

/** Offers to make this page the browser's handler of web+peerd: links (where the browser allows it). */
function HandlerButton () {
  const [note, setNote] = useState<string | null>(null)
  if (typeof navigator.registerProtocolHandler !== 'function') return null
  const register = (): void => {
    try {
      navigator.registerProtocolHandler('web+peerd', `${location.origin}${location.pathname}#/open?link=%s`)
      setNote('The browser asks you to confirm; web+peerd: links then open here, in this form.')
    } catch (err) {
      // browsers allow it on https: and localhost only
      setNote(`The browser refused: ${messageOf(err)}`)
    }
  }
  return (
    <p>
      <button type='button' class='small' onClick={register}>Open web+peerd: links here</button>
      {note != null && <span class='muted' role='status'> {note}</span>}
    </p>
  )
}

/**
 * Copies a root's share link. Where the clipboard is unavailable (an http: origin other than
 * localhost), shows the link in a field, selected, to copy by hand.
 */
function LinkButton ({ cid }: { cid: string }) {
  const [state, setState] = useState<{ link?: string, copied?: boolean, localOnly?: boolean, error?: string }>({})
  const field = useRef<HTMLInputElement>(null)
  useEffect(() => { if (state.link != null && state.copied !== true) field.current?.select() }, [state.link, state.copied])
  const copy = async (): Promise<void> => {
    try {
      const r = await get<{ link: string, localOnly: boolean }>(`/api/v1/link?cid=${encodeURIComponent(cid)}`)
      let copied = false
      try {
        if (navigator.clipboard != null) { await navigator.clipboard.writeText(r.link); copied = true }
      } catch { /* not allowed here: shown to copy by hand */ }
      setState({ link: r.link, copied, localOnly: r.localOnly })
      if (copied) setTimeout(() => { setState(s => ({ ...s, copied: undefined, link: undefined })) }, 1500)
    } catch (err) {
      setState({ error: messageOf(err) })
    }
  }
  return (
    <>
      <button type='button' class='small' aria-label={`Copy link: ${cid}`} onClick={() => { void copy() }}>{state.copied === true ? 'Copied' : 'Copy link'}</button>
      {state.link != null && state.copied !== true && (
        <input ref={field} class='link-field' readOnly aria-label={`Share link of ${cid}`} value={state.link} onFocus={(e) => { (e.target as HTMLInputElement).select() }} />
      )}
      {state.localOnly === true && state.link != null && <span class='muted' title='This node has only loopback or private addresses'> (this machine or LAN only)</span>}
      {state.error != null && <ErrorText error={state.error} />}
    </>
  )
}

interface Upload { name: string, size: number, sent: number, cid?: string, error?: string }

function AddFiles () {
  const [uploads, setUploads] = useState<Upload[]>([])
  const [over, setOver] = useState(false)
  const add = async (files: FileList | null): Promise<void> => {
    for (const file of Array.from(files ?? [])) {
      const entry: Upload = { name: file.name, size: file.size, sent: 0 }
      setUploads(u => [entry, ...u].slice(0, 10))
      const patch = (p: Partial<Upload>): void => { Object.assign(entry, p); setUploads(u => [...u]) }
      try {
        const root = await upload<Root>(file, (sent) => { patch({ sent }) })
        patch({ sent: file.size, cid: root.cid })
      } catch (err) {
        patch({ error: messageOf(err) })
      }
    }
  }
  return (
    <div
      class={`dropzone${over ? ' over' : ''}`}
      onDragOver={(e) => { e.preventDefault(); setOver(true) }}
      onDragLeave={() => { setOver(false) }}
      onDrop={(e) => { e.preventDefault(); setOver(false); void add(e.dataTransfer?.files ?? null) }}
    >
      <p>Drop files here, or</p>
      {/* the input stays focusable (hidden only visually); its label shows the focus */}
      <input id='add-file' class='sr-only file-input' type='file' multiple onChange={(e) => { const input = e.target as HTMLInputElement; void add(input.files).then(() => { input.value = '' }) }} />
      <label class='button' for='add-file'>Choose files…</label>
      <ul class='plain uploads' aria-live='polite'>
        {uploads.map((u, i) => (
          <li key={i}>
            <strong>{u.name}</strong> ({formatBytes(u.size)}){' '}
            {u.cid != null
              ? <span>shared as <Mono>{u.cid}</Mono> <CopyButton text={u.cid} /></span>
              : u.error != null ? <ErrorText error={u.error} /> : <progress max={Math.max(1, u.size)} value={u.sent} aria-label={`Uploading ${u.name}`} />}
          </li>
        ))}
      </ul>
    </div>
  )
}

function openLink (r: Root, gateway: string | null): { href: string, download?: string } | null {
  if (gateway != null) return { href: `${gateway}/ipfs/${r.cid}` }
  if (r.type === 'directory') return null
  return { href: `/api/v1/cat?cid=${encodeURIComponent(r.cid)}`, download: r.name !== '' ? r.name : r.cid }
}

function HeldTable ({ held, gateway }: { held: Root[] | undefined, gateway: string | null }) {
  if (held == null) return <Empty>Loading…</Empty>
  if (held.length === 0) return <Empty>This node holds nothing yet.</Empty>
  return (
    <div class='table-wrap'>
      <table id='held-table'>
        <caption class='sr-only'>Content this node holds</caption>
        <thead><tr><th scope='col'>Name</th><th scope='col'>CID</th><th scope='col'>Size</th><th scope='col'>State</th><th scope='col'><span class='sr-only'>Actions</span></th></tr></thead>
        <tbody>
          {[...held].reverse().map(r => {
            const link = openLink(r, gateway)
            return (
              <tr key={r.cid} data-cid={r.cid} data-complete={String(r.complete)}>
                <td>{r.name !== '' ? r.name : <span class='muted'>(fetched by CID)</span>}{r.type === 'directory' && ' (folder)'}{isPrivate(r) && <> <PrivateBadge shared={r.source === 'share'} /></>}</td>
                <td><Mono>{r.cid}</Mono></td>
                <td>{formatBytes(r.size)}</td>
                <td title={r.selection != null ? `Fetched in part: ${r.selection.join('; ')}` : undefined}>{r.complete ? 'complete' : r.selection != null ? `partial (${r.selection.length} selection${r.selection.length === 1 ? '' : 's'})` : 'partial'}</td>
                <td class='actions'>
                  <CopyButton text={r.cid} label='Copy CID' />
                  {!isPrivate(r) && <LinkButton cid={r.cid} />}
                  {r.onion != null && <CopyButton text={r.onion} label='Copy onion address' />}
                  {link != null && (
                    gateway != null
                      ? <a class='button small' href={link.href} target='_blank' rel='noopener noreferrer'>Open</a>
                      : <a class='button small' href={link.href} download={link.download}>Download</a>
                  )}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
