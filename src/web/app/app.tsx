/**
 * The dashboard: a login form without a session, otherwise a header, a tab bar (one link per
 * panel, `#overview` … `#onion`, so the back button and bookmarks work) and the active panel,
 * all fed by the live event stream.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { get, post } from './api.ts'
import { useFeed } from './feed.ts'
import { shortId } from './format.ts'
import { ChainPanel } from './panels/chain.tsx'
import { LoginPanel } from './panels/login.tsx'
import { OnionPanel } from './panels/onion.tsx'
import { OverviewPanel } from './panels/overview.tsx'
import { PeersPanel } from './panels/peers.tsx'
import { SharePanel } from './panels/share.tsx'
import { WalletPanel } from './panels/wallet.tsx'
import { PANELS, useRoute } from './route.ts'

/** Checks the session, then shows the login or the dashboard. */
export function App () {
  const [auth, setAuth] = useState<'checking' | 'in' | 'out'>('checking')
  const rejected = useRef(/login=rejected/.test(location.hash))
  useEffect(() => {
    if (rejected.current) history.replaceState(null, '', location.pathname)
    get<{ authenticated: boolean }>('/api/v1/session')
      .then(s => { setAuth(s.authenticated ? 'in' : 'out') })
      .catch(() => { setAuth('out') })
  }, [])
  if (auth === 'checking') return <p class='boot'>Checking your session…</p>
  if (auth === 'out') return <LoginPanel rejected={rejected.current} onLogin={() => { rejected.current = false; setAuth('in') }} />
  return <Dashboard onLogout={() => { setAuth('out') }} />
}

function Dashboard ({ onLogout }: { onLogout: () => void }) {
  const { state, connection } = useFeed(onLogout)
  const route = useRoute()
  const heading = useRef<HTMLHeadingElement>(null)
  const first = useRef(true)
  const title = PANELS.find(p => p.id === route.panel)?.title ?? 'Overview'

  useEffect(() => {
    document.title = `${title} · peerd${state.status != null ? ` ${state.status.network}` : ''}`
    // keyboard and screen-reader users land on the new panel, not back at the top of the page
    if (!first.current) heading.current?.focus()
    first.current = false
  }, [route.panel])

  const logout = async (): Promise<void> => {
    await post('/api/v1/session/end').catch(() => {})
    onLogout()
  }

  return (
    <div class='shell'>
      <a class='skip' href='#main'>Skip to the panel</a>
      <header class='top'>
        <div class='brand'>
          <strong>peerd</strong>
          {state.status != null && <span class='badge'>{state.status.network}</span>}
          {state.status != null && <code class='mono' title={state.status.peerId}>{shortId(state.status.peerId)}</code>}
        </div>
        <div class='top-right'>
          <span class={`conn conn-${connection}`} role='status' aria-live='polite'>
            {connection === 'live' ? 'live' : connection === 'connecting' ? 'connecting…' : 'reconnecting…'}
          </span>
          <button type='button' class='small' onClick={() => { void logout() }}>Log out</button>
        </div>
      </header>
      <nav class='tabs' aria-label='Panels'>
        <ul>
          {PANELS.map(p => (
            <li key={p.id}>
              <a href={`#${p.id}`} aria-current={route.panel === p.id ? 'page' : undefined}>{p.title}</a>
            </li>
          ))}
        </ul>
      </nav>
      <main id='main' tabIndex={-1}>
        <h2 ref={heading} tabIndex={-1} class='panel-title'>{title}</h2>
        {route.panel === 'overview' && <OverviewPanel state={state} />}
        {route.panel === 'peers' && <PeersPanel state={state} />}
        {route.panel === 'share' && <SharePanel state={state} args={route.args} />}
        {route.panel === 'chain' && <ChainPanel state={state} args={route.args} />}
        {route.panel === 'wallet' && <WalletPanel state={state} />}
        {route.panel === 'onion' && <OnionPanel state={state} />}
      </main>
    </div>
  )
}
