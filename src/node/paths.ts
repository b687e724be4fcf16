/**
 * The layout of a data directory: only paths, so that the CLI, which needs them to find the
 * running daemon, does not load LevelDB and libp2p's key code (see data-dir.ts) on every command.
 */
import { join } from 'node:path'

/** Paths of the files inside a data dir. */
export interface DataDirPaths {
  root: string
  /** Ed25519 private key (libp2p protobuf encoding), mode 0600. */
  key: string
  config: string
  /** URL of the running daemon's API; present only while it runs. */
  api: string
  /** Secret the API requires as a bearer token, mode 0600; present only while the daemon runs. */
  cookie: string
  /** LevelDB holding the libp2p datastore (peer store, DHT records). */
  libp2p: string
  /** The onion service's relay view, entry guards (LevelDB) and onion keys (0600). */
  onion: string
}

/** The layout of `root`. */
export function dataDirPaths (root: string): DataDirPaths {
  return {
    root,
    key: join(root, 'identity.key'),
    config: join(root, 'config.json'),
    api: join(root, 'api'),
    cookie: join(root, 'cookie'),
    libp2p: join(root, 'libp2p'),
    onion: join(root, 'onion')
  }
}
