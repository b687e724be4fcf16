/**
 * A FIFO async mutex: the chain's one lock around every mutation (bcoin's `addBlock` →
 * `_addBlock`, hypercore's mutex). `run` queues `fn` behind every earlier holder.
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve()
  private waiting = 0

  /** Holders queued or running. */
  get pending (): number { return this.waiting }

  /** Runs `fn` once every earlier holder is done; the lock is released whether it resolves or throws. */
  async run<T> (fn: () => Promise<T>): Promise<T> {
    this.waiting++
    const prev = this.tail
    let release!: () => void
    this.tail = new Promise<void>(resolve => { release = resolve })
    try {
      await prev.catch(() => {})
      return await fn()
    } finally {
      this.waiting--
      release()
    }
  }
}
