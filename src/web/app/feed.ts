/**
 * The live feed: the server-sent events of `/api/v1/events`, folded into one state object.
 * The stream is read with `fetch` rather than `EventSource`, which can't send the dashboard
 * header the API requires. When the stream drops (the daemon restarted, the laptop slept) it is
 * opened again after a pause; if the session is gone by then, `onSessionLost` is called.
 */
import { useEffect, useState } from 'preact/hooks'
import { get, getStream } from './api.ts'
import type { BandwidthSample, FeedState } from './types.ts'

/** Samples kept on the page: ten minutes. */
const MAX_SAMPLES = 600
/** Pause before opening a dropped stream again. */
const RETRY_MS = 2000

/** Whether the stream is up. */
export type Connection = 'connecting' | 'live' | 'reconnecting'

const SECTIONS = ['status', 'peers', 'transfers', 'held', 'chain', 'blocks', 'wallet', 'walletHistory', 'network'] as const

/** Calls `onEvent` with each event (`event:` name, `data:` text) of a `text/event-stream` response. */
async function readEvents (res: Response, onEvent: (name: string, data: string) => void): Promise<void> {
  if (res.body == null) return
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffered = ''
  let name = 'message'
  let data: string[] = []
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffered += value
    let nl = buffered.search(/\r\n|\n|\r/)
    while (nl >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + (buffered.startsWith('\r\n', nl) ? 2 : 1))
      if (line === '') {
        if (data.length > 0) onEvent(name, data.join('\n'))
        name = 'message'
        data = []
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const v = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') name = v
        else if (field === 'data') data.push(v)
      }
      nl = buffered.search(/\r\n|\n|\r/)
    }
  }
}

/** Subscribes to the event stream while the component is mounted. */
export function useFeed (onSessionLost: () => void): { state: FeedState, connection: Connection } {
  const [state, setState] = useState<FeedState>({ bandwidth: [] })
  const [connection, setConnection] = useState<Connection>('connecting')

  useEffect(() => {
    const abort = new AbortController()
    const apply = (name: string, data: unknown): void => {
      if ((SECTIONS as readonly string[]).includes(name)) setState(s => ({ ...s, [name]: data }))
      else if (name === 'bandwidthHistory') setState(s => ({ ...s, bandwidth: (data as BandwidthSample[]).slice(-MAX_SAMPLES) }))
      else if (name === 'bandwidth') setState(s => ({ ...s, bandwidth: [...s.bandwidth.slice(1 - MAX_SAMPLES), data as BandwidthSample] }))
    }
    const run = async (): Promise<void> => {
      while (!abort.signal.aborted) {
        try {
          const res = await getStream('/api/v1/events', abort.signal)
          setConnection('live')
          await readEvents(res, (name, data) => { apply(name, JSON.parse(data)) })
        } catch {
          if (abort.signal.aborted) return
        }
        setConnection('reconnecting')
        // the stream ended or was refused: ask whether the session still holds
        const s = await get<{ authenticated: boolean }>('/api/v1/session').catch(() => undefined)
        if (s?.authenticated === false) {
          onSessionLost()
          return
        }
        await new Promise(resolve => { setTimeout(resolve, RETRY_MS) })
      }
    }
    void run()
    return () => { abort.abort() }
  }, [])

  return { state, connection }
}
