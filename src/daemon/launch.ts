/**
 * The process-wide settings of a `peerd daemon` process, all in this one file: the Node.js flags
 * it starts with ({@link DAEMON_NODE_FLAGS}, which `bin/peerd.js` and the devnet pass), and what
 * it sets once running ({@link prepareDaemonProcess}: V8's heap growing flags and the umask).
 * Only launchers call these: the library (`createNode`, `startDaemon`) changes no process-wide
 * state, so a program embedding peerd keeps its own.
 */

/**
 * Node.js flags for a daemon: a 4 MiB young generation (V8's default is 16–32 MiB), because a
 * daemon moving content allocates many short-lived buffers and a larger young generation lets its
 * memory grow (`npm run bench:share:memory` shows the peak RSS of a 4 GiB get). V8 reads this
 * only when it starts, hence a flag and not {@link prepareDaemonProcess}.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4']

/** Whether Node.js was started with a semi-space size of its own (flags or NODE_OPTIONS). */
function hasSemiSpaceSize (): boolean {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some(a => /^--(max|min)[-_]semi[-_]space[-_]size\b/.test(a))
}

/**
 * Replaces this process with a Node.js started with {@link DAEMON_NODE_FLAGS} (`execve`: the
 * same process id and stdio, so whoever started it still holds it), running `script` with
 * `args`. Returns without doing so when Node.js has a semi-space size already, when this process
 * has an IPC channel (its descriptor would not survive), when `PEERD_NO_REEXEC=1`, or where
 * `process.execve` does not exist (Windows; Node.js before 22.15): the daemon then runs as started.
 */
export function relaunchWithDaemonFlags (script: string, args: readonly string[]): void {
  if (typeof process.execve !== 'function' || process.channel != null) return
  if (process.env.PEERD_NO_REEXEC === '1' || hasSemiSpaceSize()) return
  try {
    process.execve(process.execPath, [process.execPath, ...DAEMON_NODE_FLAGS, ...process.execArgv, script, ...args], process.env)
  } catch {
    // not replaced: run as we are
  }
}

/**
 * Sets what a daemon process needs once running: V8's heap growing flags for bulk transfers
 * (`tuneHeapForTransfers`) and a umask of 077, so that the files LevelDB and libp2p create
 * (whose modes peerd cannot pass) are private like those peerd creates with 0700/0600.
 */
export async function prepareDaemonProcess (): Promise<void> {
  process.umask(0o077)
  // loaded here, not at the top: bin/peerd.js imports this module before libp2p is needed
  const { tuneHeapForTransfers } = await import('../net/transport.ts')
  tuneHeapForTransfers()
}
