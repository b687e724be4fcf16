/**
 * A minimal client of Tor's control protocol (control-spec.txt) over the control socket a tor
 * process opens in its DataDirectory: cookie authentication, commands answered in order, and
 * asynchronous events (`650 …`) handed to listeners. The onion bench uses it to pin a 3-hop path
 * (`EXTENDCIRCUIT`), attach its streams (`ATTACHSTREAM`) and time circuit builds (`CIRC` events).
 *
 * The socket is a Unix socket in the file system, so the harness reaches a tor running inside
 * any network namespace without a route into it.
 */
import { createConnection } from 'node:net'
import type { Socket } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** One reply: its status code and its lines (without the `250-` prefixes; data blocks joined). */
export interface ControlReply {
  code: number
  lines: string[]
}

/** An asynchronous event: `CIRC 5 BUILT …` as its type and the rest of its first line. */
export interface ControlEvent {
  type: string
  /** The words after the type (`['5', 'BUILT', '$FP~name,…', 'PURPOSE=GENERAL', …]`). */
  args: string[]
  /** When it arrived (performance.now()). */
  at: number
}

/** Replies longer than this are refused: the socket is a local tor's, but a bound costs nothing. */
const MAX_REPLY_LINES = 10_000

/** A connection to one tor's control socket; see the module comment. */
export class TorControl {
  private readonly socket: Socket
  private buffer = ''
  private pending: Array<{ resolve: (r: ControlReply) => void, reject: (e: Error) => void }> = []
  private current: string[] = []
  private inData = false
  private closed: Error | undefined
  private readonly listeners = new Set<(e: ControlEvent) => void>()

  private constructor (socket: Socket) {
    this.socket = socket
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => { this.onData(d) })
    const fail = (err: Error): void => {
      this.closed ??= err
      for (const p of this.pending.splice(0)) p.reject(err)
    }
    socket.on('error', fail)
    socket.on('close', () => { fail(new Error('the tor control connection closed')) })
  }

  /**
   * Connects to `dataDir/control` and authenticates with the cookie in `dataDir`. Retries for
   * `timeoutMs`: tor opens the socket and writes the cookie a moment after it starts.
   */
  static async connect (dataDir: string, timeoutMs = 30_000): Promise<TorControl> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      try {
        const cookie = await readFile(join(dataDir, 'control_auth_cookie'))
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = createConnection(join(dataDir, 'control'))
          s.once('connect', () => { s.off('error', reject); resolve(s) })
          s.once('error', reject)
        })
        const control = new TorControl(socket)
        await control.command(`AUTHENTICATE ${cookie.toString('hex')}`)
        return control
      } catch (err) {
        if (performance.now() > deadline) throw new Error(`cannot reach tor's control socket in ${dataDir}: ${(err as Error).message}`, { cause: err })
        await new Promise(resolve => setTimeout(resolve, 250))
      }
    }
  }

  /** Sends one command line; resolves with a 2xx reply, rejects on any other. */
  async command (line: string): Promise<ControlReply> {
    if (this.closed != null) throw this.closed
    const reply = await new Promise<ControlReply>((resolve, reject) => {
      this.pending.push({ resolve, reject })
      this.socket.write(`${line}\r\n`)
    })
    if (reply.code < 200 || reply.code >= 300) throw new Error(`tor refused \`${line.split(' ')[0] ?? ''}\`: ${reply.code} ${reply.lines.join(' / ')}`)
    return reply
  }

  /** `GETINFO key`: the value (a single line, or the data block's lines joined with \n). */
  async getInfo (key: string): Promise<string> {
    const reply = await this.command(`GETINFO ${key}`)
    const first = reply.lines[0] ?? ''
    const prefix = `${key}=`
    if (!first.startsWith(prefix)) throw new Error(`unexpected GETINFO reply: ${first}`)
    return [first.slice(prefix.length), ...reply.lines.slice(1).filter(l => l !== 'OK')].join('\n').trim()
  }

  /** Calls `fn` for every event until the returned function is called. */
  onEvent (fn: (e: ControlEvent) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  /** Resolves with the first event `match` accepts; rejects after `timeoutMs`. */
  async waitForEvent (match: (e: ControlEvent) => boolean, timeoutMs: number, what: string): Promise<ControlEvent> {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error(`tor: no ${what} within ${timeoutMs / 1000} s`)) }, timeoutMs)
      const off = this.onEvent(e => {
        if (match(e)) { clearTimeout(timer); off(); resolve(e) }
      })
    })
  }

  /** Closes the connection. */
  close (): void {
    this.socket.destroy()
  }

  private onData (data: string): void {
    this.buffer += data
    let nl: number
    while ((nl = this.buffer.indexOf('\r\n')) >= 0) {
      const line = this.buffer.slice(0, nl)
      this.buffer = this.buffer.slice(nl + 2)
      this.onLine(line)
    }
  }

  private onLine (line: string): void {
    if (this.inData) {
      if (line === '.') this.inData = false
      else this.current.push(line.startsWith('..') ? line.slice(1) : line)
      return
    }
    const code = Number(line.slice(0, 3))
    const sep = line[3]
    const rest = line.slice(4)
    if (this.current.length >= MAX_REPLY_LINES) {
      this.socket.destroy(new Error('a tor control reply had too many lines'))
      return
    }
    this.current.push(rest)
    if (sep === '+') { this.inData = true; return }
    if (sep === '-') return
    const lines = this.current
    this.current = []
    if (code === 650) {
      const [type = '', ...args] = (lines[0] ?? '').split(' ')
      const event = { type, args, at: performance.now() }
      for (const l of [...this.listeners]) l(event)
      return
    }
    this.pending.shift()?.resolve({ code, lines })
  }
}

/** The value of `KEY=value` among an event's words, if present. */
export function eventField (e: ControlEvent, key: string): string | undefined {
  const prefix = `${key}=`
  return e.args.find(a => a.startsWith(prefix))?.slice(prefix.length)
}
