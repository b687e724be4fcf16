import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { NotFoundError as ExporterNotFoundError } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import { apiStatus } from '../../../src/api/http-status.ts'
import { VerifyError } from '../../../src/cash/consensus/verify-error.ts'
import { WalletNotFoundError, WalletWriteError } from '../../../src/cash/wallet/errors.ts'
import { ApiError, InvalidArgumentError, NotStartedError, PeerdError } from '../../../src/errors.ts'
import { InvalidBlockError, BlockWriteError } from '../../../src/share/blockstore.ts'
import { ContentNotFoundError, DownloadCancelledError, InvalidDagError, StoreFailedError } from '../../../src/share/errors.ts'
import { FrameTooLargeError } from '../../../src/net/frames.ts'
import { ProtocolError } from '../../../src/share/protocol.ts'

const SRC = join(import.meta.dirname, '../../../src')

/** Every error class `src/` exports (the dashboard's browser code aside), with the file it is in. */
async function errorClasses (): Promise<Array<{ file: string, cls: typeof PeerdError }>> {
  const files = (await readdir(SRC, { recursive: true }))
    .filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('web/'))
  const found: Array<{ file: string, cls: typeof PeerdError }> = []
  for (const f of files) {
    // only modules that declare an error class (some others are worker entry points)
    if (!/class \w+ extends \w*Error\b/.test(await readFile(join(SRC, f), 'utf8'))) continue
    const mod = await import(join(SRC, f)) as Record<string, unknown>
    for (const v of Object.values(mod)) {
      if (typeof v === 'function' && v.prototype instanceof PeerdError && !found.some(e => e.cls === v)) {
        found.push({ file: relative(SRC, join(SRC, f)), cls: v as typeof PeerdError })
      }
    }
  }
  return found
}

describe('API: HTTP status by error class', () => {
  it('maps each class to its status, chosen here and not by the library', () => {
    const cid = CID.parse('bafkqaaa')
    const full = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
    const io = Object.assign(new Error('i/o error'), { code: 'EIO' })
    const cases: Array<[Error, number]> = [
      [new InvalidArgumentError('bad'), 400],
      [new WalletNotFoundError(), 404],
      // docs/api.md: a send the mempool refuses (500 before: not a PeerdError)
      [new VerifyError('tx', 'min-fee-not-met', 0), 400],
      [new ContentNotFoundError('no data for 60 s'), 404],
      [new ExporterNotFoundError('no such entry in the directory'), 404],
      [new InvalidDagError('not dag-pb'), 422],
      [new DownloadCancelledError(), 499],
      [new StoreFailedError(`cannot store block ${cid.toString()}`), 500],
      // a peer's fault, not the caller's: the API is its gateway
      [new InvalidBlockError('bytes do not match'), 502],
      [new ProtocolError('bad frame'), 502],
      [new FrameTooLargeError('frame of 2^32 bytes'), 502],
      [new NotStartedError(), 503],
      [new BlockWriteError('/data/blocks', full), 507],
      [new BlockWriteError('/data/blocks', io), 500],
      [new WalletWriteError('/data/wallet', full), 507],
      [new WalletWriteError('/data/wallet', io), 500]
    ]
    for (const [err, status] of cases) assert.equal(apiStatus(err), status, `${err.name}: ${err.message}`)
    assert.equal(apiStatus(new Error('plain')), 500)
    assert.equal(apiStatus({ name: 'InvalidArgumentError' }), 500, 'only errors are mapped')
  })

  it('every error class has its own static name, distinct from every other class (the maps are keyed by it)', async () => {
    const classes = await errorClasses()
    assert.ok(classes.length >= 40, `found only ${classes.length} error classes`)
    const byName = new Map<string, string>()
    for (const { file, cls } of classes) {
      assert.ok(Object.hasOwn(cls, 'name'), `${file}: ${cls.name} declares no static name`)
      const other = byName.get(cls.name)
      assert.equal(other, undefined, `${file}: ${cls.name} is also the name of a class in ${other ?? ''}`)
      byName.set(cls.name, file)
    }
    // the CLI's view of a daemon error keeps the daemon's name
    assert.equal(new ApiError('WalletNotFoundError', 'no wallet', 404).name, 'WalletNotFoundError')
  })
})
