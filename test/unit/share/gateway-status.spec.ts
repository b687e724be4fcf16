import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  BadPathError, InvalidParametersError, NoResolverError, NotFoundError, NotUnixFSError, OverReadError, UnderReadError
} from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import { InvalidArgumentError, NotFoundError as PeerdNotFoundError, NotStartedError, PeerdError } from '../../../src/errors.ts'
import { BlockMismatchError, WantAbortedError } from '../../../src/share/bitswap/errors.ts'
import { IdentityTooLargeError } from '../../../src/share/block.ts'
import { BlockNotFoundError, BlockWriteError, InvalidBlockError } from '../../../src/share/blockstore.ts'
import { ContentNotFoundError, DownloadCancelledError, InvalidDagError, StoreFailedError } from '../../../src/share/errors.ts'
import { UnsafePathError } from '../../../src/share/export.ts'
import { gatewayStatus } from '../../../src/share/gateway.ts'
import { UnsupportedDagError } from '../../../src/share/output.ts'

const cid = CID.parse('bafkqaaa')

describe('gateway: HTTP status by error class', () => {
  it('maps each content error class to its status', () => {
    const cases: Array<[Error, number]> = [
      [new InvalidArgumentError('bad cid'), 400],
      [new IdentityTooLargeError('an identity CID inlines 129 bytes'), 400],
      [new BadPathError('bad path'), 400],
      [new InvalidParametersError('bad offset'), 400],
      [new NotFoundError('no such entry'), 404],
      [new PeerdNotFoundError('no entry named x'), 404],
      [new UnsupportedDagError('hamt'), 422],
      [new UnsafePathError('../x'), 422],
      [new NotUnixFSError('not unixfs'), 502],
      [new NoResolverError('codec'), 502],
      [new InvalidDagError('not dag-pb'), 502],
      [new InvalidBlockError('bytes do not match'), 502],
      [new BlockMismatchError(cid, cid), 502],
      [new OverReadError('over'), 502],
      [new UnderReadError('under'), 502],
      [new BlockNotFoundError(cid), 502],
      [new DownloadCancelledError(), 503],
      [new WantAbortedError(cid), 503],
      [new NotStartedError(), 503],
      // the IPFS path gateway spec's Gateway Timeout: nobody sent the content in time
      [new ContentNotFoundError('no data for 60 s'), 504]
    ]
    for (const [err, status] of cases) assert.equal(gatewayStatus(err), status, `${err.name}: ${err.message}`)
  })

  it('answers errors without an entry, and non-errors, with 500', () => {
    assert.equal(gatewayStatus(new StoreFailedError('cannot place the block')), 500)
    assert.equal(gatewayStatus(new BlockWriteError('/data', Object.assign(new Error('full'), { code: 'ENOSPC' }))), 500)
    assert.equal(gatewayStatus(new PeerdError('x')), 500)
    assert.equal(gatewayStatus(new Error('x')), 500)
    assert.equal(gatewayStatus('a string'), 500)
    assert.equal(gatewayStatus(undefined), 500)
  })
})
