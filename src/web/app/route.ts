/** The page's location: `#panel/arg/arg`, so the back button and bookmarks work. */
import { useEffect, useState } from 'preact/hooks'

/** The panels, in tab order. */
export const PANELS = [
  { id: 'overview', title: 'Overview' },
  { id: 'peers', title: 'Peers' },
  { id: 'share', title: 'Share' },
  { id: 'chain', title: 'Chain' },
  { id: 'wallet', title: 'Wallet' },
  { id: 'onion', title: 'Onion' }
] as const

/** A parsed location. */
export interface Route { panel: string, args: string[] }

function parseHash (): Route {
  // what a browser opens for a web+peerd: link (registerProtocolHandler): the get form, filled in
  const open = /^#\/?open\?(?:.*&)?link=([^&]*)/.exec(location.hash)
  if (open != null) {
    let link = open[1] as string
    try { link = decodeURIComponent(link) } catch { /* shown as it came; the node says what is wrong */ }
    return { panel: 'share', args: ['open', link] }
  }
  const parts = location.hash.replace(/^#/, '').split('/').filter(p => p !== '').map(p => {
    try { return decodeURIComponent(p) } catch { return p }
  })
  const panel = PANELS.some(p => p.id === parts[0]) ? parts[0] as string : 'overview'
  return { panel, args: parts.slice(1) }
}

/** Moves to `#panel/args…`. */
export function navigate (panel: string, ...args: string[]): void {
  location.hash = [panel, ...args.map(encodeURIComponent)].join('/')
}

/** The current location, following hash changes. */
export function useRoute (): Route {
  const [route, setRoute] = useState(parseHash)
  useEffect(() => {
    const on = (): void => { setRoute(parseHash()) }
    addEventListener('hashchange', on)
    on() // the hash may have changed between the first render and now
    return () => { removeEventListener('hashchange', on) }
  }, [])
  return route
}
