/** The OpenAPI 3.1 description of the API, served at `GET /api/v1/openapi.json`. */
import { VERSION } from '../version.ts'

const error = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['name', 'message'],
      properties: { name: { type: 'string' }, message: { type: 'string' } }
    }
  }
}

const peer = {
  type: 'object',
  required: ['peerId', 'addresses', 'direction', 'relayed', 'latencyMs'],
  properties: {
    peerId: { type: 'string' },
    addresses: { type: 'array', items: { type: 'string' } },
    direction: { type: 'string', enum: ['inbound', 'outbound'] },
    relayed: { type: 'boolean', description: 'every open connection to the peer goes through a circuit relay' },
    latencyMs: { type: ['number', 'null'] }
  }
}

const root = {
  type: 'object',
  required: ['cid', 'name', 'size', 'type', 'complete', 'source'],
  properties: {
    cid: { type: 'string' },
    name: { type: 'string' },
    size: { type: 'integer' },
    type: { type: 'string', enum: ['file', 'directory', 'raw', 'unknown'] },
    complete: { type: 'boolean' },
    selection: { type: 'array', items: { type: 'string' }, description: 'fetched in part (get with path or only): the selections fetched so far; absent once whole' },
    source: { type: 'string', enum: ['share', 'get'] },
    pinned: { type: 'boolean' },
    private: { type: 'boolean', description: 'shared with share --private (source share: served only through the onion service) or fetched with get --private (source get); never announced, and peers asking are told it is not here' },
    onion: { type: 'string', description: 'a private share: the onion address (<56 chars>.peerd) that serves it, once the node\'s onion service runs' },
    addedAt: { type: 'string' }
  }
}

const circuit = {
  type: 'object',
  required: ['id', 'purpose', 'state', 'hops', 'createdAt', 'ageSeconds', 'buildMs', 'bytesSent', 'bytesReceived', 'streams', 'dirty'],
  properties: {
    id: { type: 'string' },
    purpose: { type: 'string', enum: ['socks', 'peerd', 'test', 'hs-client', 'hs-service'] },
    state: { type: 'string', enum: ['building', 'open', 'closed'] },
    hops: { type: 'array', description: 'guard first', items: { type: 'object', required: ['peerId'], properties: { peerId: { type: 'string' }, address: { type: 'string' } } } },
    createdAt: { type: 'string' },
    ageSeconds: { type: 'number' },
    buildMs: { type: ['number', 'null'] },
    bytesSent: { type: 'integer' },
    bytesReceived: { type: 'integer' },
    streams: { type: 'integer' },
    dirty: { type: 'boolean', description: 'retired: no new streams use it' },
    isolation: { type: 'string' }
  }
}

const onionStatus = {
  type: 'object',
  required: ['relay', 'socks', 'relaysKnown', 'guards', 'circuitsOpen'],
  properties: {
    relay: {
      type: 'object',
      required: ['enabled', 'rateBytesPerSec', 'circuits', 'cellsRelayed', 'bytesRelayed', 'exit', 'exitPolicy'],
      properties: {
        enabled: { type: 'boolean' },
        rateBytesPerSec: { type: 'integer' },
        circuits: { type: 'integer' },
        cellsRelayed: { type: 'integer' },
        bytesRelayed: { type: 'integer' },
        exit: { type: 'boolean' },
        exitPolicy: { type: 'array', items: { type: 'string' } }
      }
    },
    socks: { type: ['string', 'null'] },
    relaysKnown: { type: 'integer' },
    guards: { type: 'array', items: { type: 'object', required: ['peerId', 'addedAt', 'reachable'], properties: { peerId: { type: 'string' }, addedAt: { type: 'string' }, reachable: { type: 'boolean' } } } },
    circuitsOpen: { type: 'integer' }
  }
}

const hostedService = {
  type: 'object',
  required: ['name', 'address', 'target', 'introPoints', 'authorizedClients', 'pow', 'stats'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' },
    address: { type: 'string', description: '56 base32 characters and `.peerd`: encodes the service key' },
    target: { type: 'string', description: 'host:port its streams go to' },
    introPoints: { type: 'integer', description: 'introduction points with an established circuit now' },
    publishedAt: { type: 'integer', description: 'when its descriptor was last published (ms since the epoch); absent before the first' },
    revision: { type: 'integer', description: 'the descriptor revision last published' },
    authorizedClients: { type: 'integer', description: 'client keys that may read its descriptor; 0: anyone with the address' },
    pow: { type: 'object', required: ['enabled', 'suggestedEffort'], properties: { enabled: { type: 'boolean' }, suggestedEffort: { type: 'integer' } } },
    stats: {
      type: 'object',
      required: ['introductions', 'rendezvous', 'dropped', 'streams'],
      properties: { introductions: { type: 'integer' }, rendezvous: { type: 'integer' }, dropped: { type: 'integer' }, streams: { type: 'integer' } }
    }
  }
}

function json (schema: unknown, description: string): unknown {
  return { description, content: { 'application/json': { schema } } }
}

const errors = {
  400: json({ $ref: '#/components/schemas/Error' }, 'Invalid argument or malformed JSON'),
  401: json({ $ref: '#/components/schemas/Error' }, 'Missing or wrong cookie'),
  403: json({ $ref: '#/components/schemas/Error' }, 'A Host that is not one of the API\'s names (HostNotAllowedError), or a session request from another origin or without the x-peerd-dashboard header (ForbiddenError)'),
  503: json({ $ref: '#/components/schemas/Error' }, 'The node is not running')
}

const session = {
  type: 'object',
  required: ['authenticated', 'expiresAt'],
  properties: { authenticated: { type: 'boolean' }, expiresAt: { type: ['string', 'null'] } }
}

/** The dashboard's routes. */
function dashboardPaths (): Record<string, unknown> {
  return {
    '/api/v1/dashboard/token': {
      post: {
        summary: 'A one-time login token for the dashboard (valid 10 minutes), and the login URL that carries it',
        responses: { 200: json({ type: 'object', required: ['token', 'expiresAt', 'url'], properties: { token: { type: 'string' }, expiresAt: { type: 'string' }, url: { type: 'string' } } }, 'Token'), ...errors }
      }
    },
    '/api/v1/session': {
      get: { summary: 'Whether the request carries a live dashboard session', security: [], responses: { 200: json(session, 'Session state') } },
      post: {
        summary: 'Redeem a login token for a session cookie (HttpOnly, SameSite=Strict, 12 hours)',
        security: [],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } } } } },
        responses: { 200: json(session, 'Logged in; Set-Cookie carries the session'), 400: errors[400], 403: errors[403] }
      }
    },
    '/api/v1/session/end': {
      post: { summary: 'End the session and clear its cookie', responses: { 200: json(session, 'Logged out'), ...errors } }
    },
    '/api/v1/events': {
      get: {
        summary: "Server-sent events with the node's state: status, peers, bandwidth, bandwidthHistory, transfers, held, chain, blocks, wallet, walletHistory, network",
        responses: { 200: { description: 'An event stream; each event\'s data is JSON', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors }
      }
    },
    '/api/v1/network': {
      get: { summary: 'The network around this node: its peers and theirs (peer list protocol, two hops, capped)', responses: { 200: json({ type: 'object', properties: { nodes: { type: 'array', items: { type: 'object' } }, links: { type: 'array', items: { type: 'array', items: { type: 'string' } } }, crawledAt: { type: 'string' }, partial: { type: 'boolean' } } }, 'Network map'), ...errors } }
    },
    '/api/v1/bandwidth': {
      get: { summary: 'Transport bytes in and out since start, and one sample a second for the last ten minutes', responses: { 200: json({ type: 'object', properties: { bytesIn: { type: 'integer' }, bytesOut: { type: 'integer' }, history: { type: 'array', items: { type: 'object' } } } }, 'Bandwidth'), ...errors } }
    },
    '/api/v1/chain/blocks': {
      get: {
        summary: 'The last blocks of the best chain, newest first, in brief',
        parameters: [{ name: 'count', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 20 } }],
        responses: { 200: json({ type: 'array', items: { type: 'object' } }, 'Blocks: hash, prevHash, height, time, difficulty, txCount, size, weight'), ...errors }
      }
    }
  }
}

/** The onion routes. */
function onionPaths (): Record<string, unknown> {
  const notRunning = json({ $ref: '#/components/schemas/Error' }, 'The node is not running, or runs no onion service, or (on the services routes) cannot host onion services (NotStartedError)')
  return {
    '/api/v1/onion/status': {
      get: { summary: "This node's onion state: relay and exit settings and traffic, the SOCKS address, relays known, entry guards, circuits open", responses: { 200: json({ $ref: '#/components/schemas/OnionStatus' }, 'Onion status'), ...errors, 503: notRunning } }
    },
    '/api/v1/onion/circuits': {
      get: { summary: "This node's circuits: hops (guard first), age, build time, bytes, streams", responses: { 200: json({ type: 'object', required: ['circuits'], properties: { circuits: { type: 'array', items: { $ref: '#/components/schemas/Circuit' } } } }, 'Circuits'), ...errors, 503: notRunning } }
    },
    '/api/v1/onion/new-circuits': {
      post: { summary: 'Retire every open circuit for new streams (streams already open keep theirs); new streams build new circuits', responses: { 200: json({ type: 'object', required: ['retired'], properties: { retired: { type: 'integer' } } }, 'How many circuits were retired'), ...errors, 503: notRunning } }
    },
    '/api/v1/onion/services': {
      get: { summary: 'The onion services this node hosts: name, address, target, introduction points, last publication, puzzle, counters', responses: { 200: json({ type: 'object', required: ['services'], properties: { services: { type: 'array', items: { $ref: '#/components/schemas/HostedService' } } } }, 'Services'), ...errors, 503: notRunning } },
      post: {
        summary: 'Serve host:port as an onion service (or restart one by name: its key, hence its address, is kept in the data dir); answers once it has its address, before its descriptor is published',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['target'],
                properties: {
                  target: { type: 'string', description: 'host:port, e.g. 127.0.0.1:8080' },
                  name: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'default: from the port (web-8080)' },
                  authorizedClients: { type: 'array', maxItems: 32, items: { type: 'string' }, description: 'client keys (public halves, as `peerd onion client-key` prints them); only their holders can read the descriptor' },
                  pow: { type: 'boolean', description: 'require a client puzzle from the start' }
                }
              }
            }
          }
        },
        responses: { 201: json({ $ref: '#/components/schemas/HostedService' }, 'The service'), ...errors, 503: notRunning }
      }
    },
    '/api/v1/onion/services/stop': {
      post: {
        summary: 'Stop a service and forget it (its key stays in the data dir: serving the same name again gives the same address)',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } } },
        responses: { 204: { description: 'Stopped' }, ...errors, 404: json({ $ref: '#/components/schemas/Error' }, 'No service of that name (NotFoundError)'), 503: notRunning }
      }
    },
    '/api/v1/onion/client-key': {
      post: {
        summary: 'A new client-authorization key pair (X25519): the public half for a service\'s authorizedClients, the secret half for the client\'s node; any node answers, onion running or not',
        responses: { 200: json({ type: 'object', required: ['publicKey', 'secretKey'], properties: { publicKey: { type: 'string', description: 'descriptor:x25519:<base32>' }, secretKey: { type: 'string', description: 'descriptor:x25519-private:<base32>' } } }, 'Key pair'), ...errors }
      }
    }
  }
}

/** The bandwidth caps routes. */
function bandwidthPaths (): Record<string, unknown> {
  const rate = { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string' }], description: 'bytes per second (0: unlimited), or a rate with a unit: "5MB", "500kB", "20Mbit"' }
  const entry = {
    type: 'object',
    required: ['days', 'from', 'to'],
    properties: {
      days: { type: 'string', description: 'mon-fri, sat,sun, fri-mon or daily' },
      from: { type: 'string', description: 'HH:MM local time' },
      to: { type: 'string', description: 'HH:MM local time; before from: past midnight; equal: all day' },
      maxUpload: rate,
      maxDownload: rate
    }
  }
  const caps = { type: 'object', properties: { maxUpload: { type: 'integer' }, maxDownload: { type: 'integer' } } }
  const limits = json({
    type: 'object',
    required: ['maxUpload', 'maxDownload', 'schedule', 'activeEntry', 'effective', 'totals'],
    properties: {
      maxUpload: { type: 'integer', description: 'global upload cap, bytes/s, 0 unlimited' },
      maxDownload: { type: 'integer', description: 'global download cap, bytes/s, 0 unlimited' },
      schedule: { type: 'array', items: entry },
      activeEntry: { type: ['integer', 'null'], description: 'index of the schedule entry in force now (the first that covers the local time), or null' },
      effective: { ...caps, description: 'the caps in force now' },
      totals: { type: 'object', properties: { bytesIn: { type: 'integer' }, bytesOut: { type: 'integer' } } }
    }
  }, 'Caps, schedule and what is in force now')
  return {
    '/api/v1/bandwidth/limits': {
      get: { summary: "The node's upload and download caps, their schedule and the entry in force now", responses: { 200: limits, ...errors } },
      post: {
        summary: 'Change the global caps and/or the schedule, in force at once, until the daemon stops (config.json and the flags are what a restart reads)',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { maxUpload: rate, maxDownload: rate, schedule: { type: 'array', maxItems: 64, items: entry } } } } } },
        responses: { 200: limits, ...errors }
      }
    }
  }
}

/** The document. */
export function openApiDocument (): unknown {
  return {
    openapi: '3.1.0',
    info: {
      title: 'peerd daemon API',
      version: VERSION,
      description: 'JSON API of a peerd daemon. Listens on loopback; every route except this document and the session login needs `Authorization: Bearer <cookie>`, where the cookie is the content of the `cookie` file in the data dir, or a dashboard session cookie. The daemon also serves the dashboard at `/`.'
    },
    components: {
      securitySchemes: {
        cookie: { type: 'http', scheme: 'bearer', description: 'Content of DATA_DIR/cookie' },
        session: { type: 'apiKey', in: 'cookie', name: 'peerd_session_PORT', description: "The dashboard's session cookie (PORT is the API's port); a request must also carry `x-peerd-dashboard: 1` and come from the API's own origin" }
      },
      schemas: { Error: error, Peer: peer, Root: root, OnionStatus: onionStatus, Circuit: circuit, HostedService: hostedService }
    },
    security: [{ cookie: [] }, { session: [] }],
    paths: {
      '/api/v1/id': {
        get: {
          summary: "This node's peer id and dialable addresses",
          responses: {
            200: json({ type: 'object', required: ['peerId', 'addresses'], properties: { peerId: { type: 'string' }, addresses: { type: 'array', items: { type: 'string' } } } }, 'Identity'),
            ...errors
          }
        }
      },
      '/api/v1/status': {
        get: {
          summary: 'Node state: network, version, uptime, addresses, peer and connection counts, reachability behind NATs (AutoNAT state, relayed addresses, hole punching), API and gateway URLs',
          responses: { 200: json({ type: 'object' }, 'Status'), ...errors }
        }
      },
      '/api/v1/peers': {
        get: {
          summary: 'Connected peers',
          responses: { 200: json({ type: 'array', items: { $ref: '#/components/schemas/Peer' } }, 'Peers'), ...errors }
        }
      },
      '/api/v1/peers/connect': {
        post: {
          summary: 'Dial a peer by multiaddr',
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['address'], properties: { address: { type: 'string' } } } } } },
          responses: { 200: json({ $ref: '#/components/schemas/Peer' }, 'The connected peer'), 502: json({ $ref: '#/components/schemas/Error' }, 'Dial failed'), ...errors }
        }
      },
      '/api/v1/peers/disconnect': {
        post: {
          summary: 'Close every connection to a peer',
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['peerId'], properties: { peerId: { type: 'string' } } } } } },
          responses: { 200: json({ type: 'object', properties: { disconnected: { type: 'boolean' } } }, 'Whether there was a connection'), ...errors }
        }
      },
      '/api/v1/share': {
        post: {
          summary: 'Import a file or folder (absolute path readable by the daemon), pin and announce it',
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['path'], properties: { path: { type: 'string' }, hidden: { type: 'boolean', description: 'include entries whose names start with a dot' }, private: { type: 'boolean', description: 'serve it only through this node\'s onion service, announced by its onion address (503 NotStartedError without onion routing)' } } } } } },
          responses: { 200: json({ $ref: '#/components/schemas/Root' }, 'The imported root'), ...errors, 408: json({ $ref: '#/components/schemas/Error' }, 'The upload sent nothing for 60 s (RequestTimeoutError)') }
        }
      },
      '/api/v1/add': {
        post: {
          summary: 'Import the request body as one file',
          parameters: [{ name: 'name', in: 'query', schema: { type: 'string' } }],
          requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          responses: { 200: json({ $ref: '#/components/schemas/Root' }, 'The imported root'), ...errors, 408: json({ $ref: '#/components/schemas/Error' }, 'The upload sent nothing for 60 s (RequestTimeoutError)') }
        }
      },
      '/api/v1/get': {
        post: {
          summary: 'Fetch content by CID or share link (resuming), optionally writing it to an absolute output path; streams NDJSON progress, then a done or error line',
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', description: 'either cid or link', properties: { cid: { type: 'string' }, link: { type: 'string', description: 'a share link (peerd://CID?provider=…, web+peerd:…, or CID?provider=…): its providers are dialled first, before and beside the DHT search; 400 InvalidLinkError when malformed, a link into a directory (CID/PATH) fetches that entry, as path does (not both)' }, output: { type: 'string' }, timeoutSeconds: { type: 'number' }, private: { type: 'boolean', description: 'through onion circuits: providers looked up by random peers, blocks through a circuit per provider; nothing announced' }, maxRate: { type: 'integer', minimum: 0, description: 'this download\'s own cap, bytes/s, beside the node\'s download cap; 0: none' }, path: { type: 'string', description: 'fetch only this entry of the directory (`docs/a.pdf`); with output, the entry is written there' }, only: { type: 'array', maxItems: 64, items: { type: 'string' }, description: 'fetch only the entries matching these globs (relative to path; `**` across levels); the root stays complete: false' } } } } } },
          responses: { 200: { description: 'NDJSON lines: {event: progress|done|error, …}', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, ...errors }
        }
      },
      '/api/v1/cat': {
        get: {
          summary: "Stream a file's bytes",
          parameters: ['cid', 'path', 'offset', 'length', 'timeout'].map(name => ({ name, in: 'query', required: name === 'cid', schema: { type: name === 'cid' || name === 'path' ? 'string' : 'integer' } })),
          responses: { 200: { description: 'File bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, ...errors }
        }
      },
      '/api/v1/link': {
        get: {
          summary: 'A share link to a root this node holds, naming this node\'s public addresses as providers (its loopback and private ones when it has none: localOnly)',
          parameters: [
            { name: 'cid', in: 'query', required: true, schema: { type: 'string' } },
            { name: 'name', in: 'query', schema: { type: 'string' }, description: 'the name the link carries (default: the root\'s name)' },
            { name: 'style', in: 'query', schema: { type: 'string', enum: ['peerd', 'web+peerd', 'plain'] }, description: 'peerd:// (default), web+peerd: (for a browser\'s protocol handler) or CID?provider=…' }
          ],
          responses: { 200: json({ type: 'object', properties: { cid: { type: 'string' }, link: { type: 'string' }, providers: { type: 'array', items: { type: 'string' } }, localOnly: { type: 'boolean' } } }, 'The link'), ...errors }
        }
      },
      '/api/v1/tree': {
        get: {
          summary: "A directory's entries (paths, types, sizes) for a file picker, fetching only directory nodes and each entry's top node; bounded by depth (default 8, at most 32) and entries (default 5000, at most 50000)",
          parameters: ['cid', 'depth', 'entries', 'timeout'].map(name => ({ name, in: 'query', required: name === 'cid', schema: { type: name === 'cid' ? 'string' : 'integer' } })),
          responses: { 200: json({ type: 'object', properties: { cid: { type: 'string' }, truncated: { type: 'boolean' }, entries: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, type: { type: 'string', enum: ['file', 'directory', 'symlink', 'unknown'] }, size: { type: 'integer' } } } } } }, 'The listing'), ...errors }
        }
      },
      '/api/v1/ls': {
        get: { summary: 'Content this node holds', responses: { 200: json({ type: 'array', items: { $ref: '#/components/schemas/Root' } }, 'Roots'), ...errors } }
      },
      '/api/v1/unshare': {
        post: {
          summary: 'Stop holding and announcing content',
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['cid'], properties: { cid: { type: 'string' } } } } } },
          responses: { 200: json({ $ref: '#/components/schemas/Root' }, 'The root, now unpinned'), ...errors }
        }
      },
      '/api/v1/gc': {
        post: { summary: 'Delete blocks no held content reaches', responses: { 200: json({ type: 'object', properties: { removedBlocks: { type: 'integer' }, freedBytes: { type: 'integer' } } }, 'What was freed'), ...errors } }
      },
      '/api/v1/transfers': {
        get: { summary: 'Downloads in progress', responses: { 200: json({ type: 'array', items: { type: 'object', properties: { cid: { type: 'string' }, startedAt: { type: 'string' }, private: { type: 'boolean' }, progress: { type: 'object' } } } }, 'Transfers'), ...errors } }
      },
      '/api/v1/chain/info': {
        get: { summary: 'Chain state: network, height, tip, difficulty, chainwork, mempool size, sync and miner state', responses: { 200: json({ type: 'object', properties: { network: { type: 'string' }, height: { type: 'integer' }, tip: { type: 'string' }, difficulty: { type: 'number' }, mempool: { type: 'object', properties: { size: { type: 'integer' } } } } }, 'Chain info'), ...errors } }
      },
      '/api/v1/chain/block': {
        get: {
          summary: 'A block by hash (64 hex digits) or height of the best chain',
          parameters: [{ name: 'id', in: 'query', required: true, schema: { type: 'string' } }],
          responses: { 200: json({ type: 'object' }, 'The block: header fields, confirmations, size, weight, txids'), ...errors }
        }
      },
      '/api/v1/chain/tx': {
        get: {
          summary: 'A transaction of the best chain by txid',
          parameters: [{ name: 'txid', in: 'query', required: true, schema: { type: 'string' } }],
          responses: { 200: json({ type: 'object' }, 'The transaction: block, confirmations, inputs, outputs'), ...errors }
        }
      },
      '/api/v1/mine': {
        post: {
          summary: 'Mine blocks now (regtest only)',
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['blocks', 'address'], properties: { blocks: { type: 'integer', minimum: 1, maximum: 10000 }, address: { type: 'string' } } } } } },
          responses: { 200: json({ type: 'object', properties: { blocks: { type: 'array', items: { type: 'string' } } } }, 'Hashes of the mined blocks'), ...errors }
        }
      },
      '/api/v1/wallet/create': {
        post: { summary: 'Create the wallet; answers its recovery words', requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['passphrase'], properties: { passphrase: { type: 'string' } } } } } }, responses: { 200: json({ type: 'object', properties: { mnemonic: { type: 'string' }, address: { type: 'string' } } }, 'Created'), ...errors } }
      },
      '/api/v1/wallet/restore': {
        post: { summary: 'Restore the wallet from its recovery words and rescan the chain', requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['mnemonic', 'passphrase'], properties: { mnemonic: { type: 'string' }, passphrase: { type: 'string' } } } } } }, responses: { 200: json({ type: 'object', properties: { address: { type: 'string' } } }, 'Restored'), ...errors } }
      },
      '/api/v1/wallet/mnemonic': {
        post: { summary: "The wallet's recovery words again, decrypted with its passphrase (never logged)", requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['passphrase'], properties: { passphrase: { type: 'string' } } } } } }, responses: { 200: json({ type: 'object', properties: { mnemonic: { type: 'string' } } }, 'Recovery words'), ...errors } }
      },
      '/api/v1/wallet/address': {
        post: { summary: 'A fresh receive address', responses: { 200: json({ type: 'object', properties: { address: { type: 'string' } } }, 'Address'), ...errors } }
      },
      '/api/v1/wallet/balance': {
        get: { summary: 'Balances in base units', responses: { 200: json({ type: 'object', properties: { confirmed: { type: 'integer' }, unconfirmed: { type: 'integer' }, immature: { type: 'integer' } } }, 'Balance'), ...errors } }
      },
      '/api/v1/wallet/history': {
        get: { summary: "The wallet's transactions, newest first", responses: { 200: json({ type: 'array', items: { type: 'object' } }, 'History'), ...errors } }
      },
      '/api/v1/send': {
        post: { summary: 'Pay an amount of coins to an address from the wallet', requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['address', 'amount', 'passphrase'], properties: { address: { type: 'string' }, amount: { type: 'string', description: 'coins, e.g. "1.25"' }, feeRate: { type: 'number' }, passphrase: { type: 'string' } } } } } }, responses: { 200: json({ type: 'object', properties: { txid: { type: 'string' }, fee: { type: 'integer' } } }, 'Sent'), ...errors } }
      },
      ...onionPaths(),
      ...bandwidthPaths(),
      ...dashboardPaths(),
      '/api/v1/stop': {
        post: {
          summary: 'Stop the daemon cleanly (closes connections, flushes stores, removes the api and cookie files)',
          responses: { 200: json({ type: 'object', properties: { stopping: { type: 'boolean' } } }, 'Stopping'), ...errors }
        }
      },
      '/api/v1/openapi.json': {
        get: { summary: 'This document', security: [], responses: { 200: json({ type: 'object' }, 'OpenAPI document') } }
      }
    }
  }
}
