/**
 * The live feed: one EventSource on `/api/v1/events`, its events folded into one state object.
 * The browser reconnects by itself when the stream drops (the daemon restarted, the laptop
 * slept); if the session is gone by then, `onSessionLost` is called.
 */
import { useEffect, useState } from 'preact/hooks'
import { get } from './api.ts'
import type { BandwidthSample, FeedState } from './types.ts'

/** Samples kept on the page: ten minutes. */
const MAX_SAMPLES = 600

/** Whether the stream is up. */
export type Connection = 'connecting' | 'live' | 'reconnecting'

const SECTIONS = ['status', 'peers', 'transfers', 'held', 'chain', 'blocks', 'wallet', 'walletHistory', 'network'] as const

/** Subscribes to the event stream while the component is mounted. */
export function useFeed (onSessionLost: () => void): { state: FeedState, connection: Connection } {
  const [state, setState] = useState<FeedState>({ bandwidth: [] })
  const [connection, setConnection] = useState<Connection>('connecting')
  const [generation, setGeneration] = useState(0)

  useEffect(() => {
    const source = new EventSource('/api/v1/events')
    const on = (name: string, apply: (data: unknown) => void): void => {
      source.addEventListener(name, (e) => { apply(JSON.parse((e as MessageEvent<string>).data)) })
    }
    for (const name of SECTIONS) on(name, (data) => { setState(s => ({ ...s, [name]: data })) })
    on('bandwidthHistory', (data) => { setState(s => ({ ...s, bandwidth: (data as BandwidthSample[]).slice(-MAX_SAMPLES) })) })
    on('bandwidth', (data) => {
      setState(s => ({ ...s, bandwidth: [...s.bandwidth.slice(1 - MAX_SAMPLES), data as BandwidthSample] }))
    })
    source.onopen = () => { setConnection('live') }
    source.onerror = () => {
      setConnection('reconnecting')
      // a 401 looks like any other failure to EventSource: ask whether the session still holds
      void get<{ authenticated: boolean }>('/api/v1/session')
        .then(s => {
          if (!s.authenticated) onSessionLost()
          // the browser gives up on an answer that isn't a stream: start a new one
          else if (source.readyState === EventSource.CLOSED) setTimeout(() => { setGeneration(g => g + 1) }, 2000)
        })
        .catch(() => {})
    }
    return () => { source.close() }
  }, [generation])

  return { state, connection }
}
