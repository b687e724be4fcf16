/**
 * Onion services, a section of the Onion panel: the services this node hosts, each with its
 * address (monospace, a copy button and a QR code a phone can scan), target, introduction points,
 * last publication, client authorization and puzzle; a form that serves a local `host:port`; a
 * Stop button per service. Polled like the rest of the panel: the event stream does not carry it.
 */
import { useEffect, useState } from 'preact/hooks'
import { ApiError, DASHBOARD_HEADER, get, post } from '../api.ts'
import { Qr } from '../components/qr.tsx'
import { ago } from '../format.ts'
import type { HostedServiceInfo } from '../types.ts'
import { CopyButton, Empty, ErrorText, messageOf, Mono, Section } from '../ui.tsx'

/** How often the section asks for the list (the panel's own pace). */
const POLL_MS = 3000

interface ServicesState {
  services: HostedServiceInfo[] | null
  /** The node cannot host services (503): its message. */
  unavailable: string | null
  error: string | null
}

/** Polls `GET /api/v1/onion/services` while mounted; `refresh` asks again now. */
function useServices (): ServicesState & { refresh: () => void } {
  const [state, setState] = useState<ServicesState>({ services: null, unavailable: null, error: null })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let live = true
    const poll = async (): Promise<void> => {
      try {
        const { services } = await get<{ services: HostedServiceInfo[] }>('/api/v1/onion/services')
        if (live) setState({ services, unavailable: null, error: null })
      } catch (err) {
        if (!live) return
        const unavailable = err instanceof ApiError && err.status === 503 ? err.message : null
        setState(s => ({ ...s, unavailable, error: unavailable == null ? messageOf(err) : null }))
      }
    }
    void poll()
    const timer = setInterval(() => { void poll() }, POLL_MS)
    return () => { live = false; clearInterval(timer) }
  }, [tick])
  return { ...state, refresh: () => { setTick(t => t + 1) } }
}

/** `POST /api/v1/onion/services/stop`: answers 204 with no body, which {@link post} would take for an error. */
async function stopService (name: string): Promise<void> {
  const res = await fetch('/api/v1/onion/services/stop', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', [DASHBOARD_HEADER]: '1' },
    body: JSON.stringify({ name })
  })
  if (res.ok) return
  const e = (await res.json().catch(() => ({})) as { error?: { name?: string, message?: string } }).error
  throw new ApiError(e?.name ?? 'ApiError', e?.message ?? `HTTP ${res.status}`, res.status)
}

/** A service's puzzle for people: off, or on with the effort its descriptor asks for. */
export function powText (s: HostedServiceInfo): string {
  return s.pow.enabled ? `on, effort ${s.pow.suggestedEffort}` : 'off'
}

/** See the module comment. */
export function OnionServices () {
  const s = useServices()
  return (
    <Section title='Onion services' id='onion-services'>
      {s.unavailable != null
        ? <p id='onion-services-unavailable'>{s.unavailable.charAt(0).toUpperCase() + s.unavailable.slice(1)}.</p>
        : (
          <>
            <ErrorText error={s.error} />
            {s.services == null
              ? <Empty>Loading…</Empty>
              : s.services.length === 0
                ? <Empty>This node hosts no onion service. Serve a local web server below: anyone with its address reaches it through onion circuits, and neither side learns where the other is.</Empty>
                : <ul class='plain services'>{s.services.map(x => <ServiceItem key={x.name} s={x} onStopped={s.refresh} />)}</ul>}
            <ServeForm onServed={s.refresh} />
          </>
          )}
    </Section>
  )
}

function ServiceItem ({ s, onStopped }: { s: HostedServiceInfo, onStopped: () => void }) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const stop = async (): Promise<void> => {
    setBusy(true)
    setError(null)
    try {
      await stopService(s.name)
      onStopped()
    } catch (err) {
      setError(messageOf(err))
      setBusy(false)
    }
  }
  return (
    <li class='service' data-service={s.name}>
      <Qr text={s.address} label={`QR code of the onion address ${s.address}`} />
      <div class='service-info'>
        <div class='card-head'>
          <strong>{s.name}</strong>
          <button type='button' class='small danger' aria-label={`Stop ${s.name}`} disabled={busy} onClick={() => { void stop() }}>{busy ? 'Stopping…' : 'Stop'}</button>
        </div>
        <p class='service-address'><Mono>{s.address}</Mono> <CopyButton text={s.address} label='Copy address' /></p>
        <div class='kv'>
          <div class='kv-row'><span class='kv-key'>Target</span><code data-field='target'>{s.target}</code></div>
          <div class='kv-row'><span class='kv-key'>Introduction points</span><span data-field='intro'>{s.introPoints}</span></div>
          <div class='kv-row'><span class='kv-key'>Published</span><span data-field='published'>{s.publishedAt != null ? `${ago(s.publishedAt / 1000)} (revision ${s.revision ?? '–'})` : 'not yet'}</span></div>
          <div class='kv-row'><span class='kv-key'>Clients</span><span data-field='clients'>{s.authorizedClients === 0 ? 'anyone with the address' : `${s.authorizedClients} authorized key${s.authorizedClients === 1 ? '' : 's'}`}</span></div>
          <div class='kv-row'><span class='kv-key'>Puzzle (PoW)</span><span data-field='pow'>{powText(s)}</span></div>
          <div class='kv-row'>
            <span class='kv-key'>Since start</span>
            <span data-field='stats'>{s.stats.introductions} introductions, {s.stats.rendezvous} rendezvous, {s.stats.streams} streams, {s.stats.dropped} dropped</span>
          </div>
        </div>
        <ErrorText error={error} />
      </div>
    </li>
  )
}

function ServeForm ({ onServed }: { onServed: () => void }) {
  const [target, setTarget] = useState('')
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)
  const [served, setServed] = useState<HostedServiceInfo | null>(null)
  const [error, setError] = useState<string | null>(null)
  const submit = async (): Promise<void> => {
    setBusy(true)
    setError(null)
    setServed(null)
    try {
      const body: Record<string, string> = { target: target.trim() }
      if (name.trim() !== '') body.name = name.trim()
      setServed(await post<HostedServiceInfo>('/api/v1/onion/services', body))
      setTarget('')
      setName('')
      onServed()
    } catch (err) {
      setError(messageOf(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class='inline-form' id='serve-form' onSubmit={(e) => { e.preventDefault(); void submit() }}>
      <div class='grid-2'>
        <div>
          <label for='serve-target'>Local server to publish (host:port)</label>
          <input id='serve-target' required placeholder='127.0.0.1:8080' spellcheck={false} value={target} onInput={(e) => { setTarget((e.target as HTMLInputElement).value) }} />
        </div>
        <div>
          <label for='serve-name'>Name (optional)</label>
          <input id='serve-name' placeholder='web-8080' pattern='[A-Za-z0-9_\-]{1,32}' title='1 to 32 letters, digits, - or _' spellcheck={false} value={name} onInput={(e) => { setName((e.target as HTMLInputElement).value) }} />
        </div>
      </div>
      <button type='submit' disabled={busy}>{busy ? 'Serving…' : 'Serve'}</button>
      {served != null && <p class='ok' role='status' id='serve-result'>Serving {served.target} at <Mono>{served.address}</Mono></p>}
      <ErrorText error={error} />
    </form>
  )
}
