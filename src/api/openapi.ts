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
  required: ['peerId', 'addresses', 'direction', 'latencyMs'],
  properties: {
    peerId: { type: 'string' },
    addresses: { type: 'array', items: { type: 'string' } },
    direction: { type: 'string', enum: ['inbound', 'outbound'] },
    latencyMs: { type: ['number', 'null'] }
  }
}

function json (schema: unknown, description: string): unknown {
  return { description, content: { 'application/json': { schema } } }
}

const errors = {
  400: json({ $ref: '#/components/schemas/Error' }, 'Invalid argument or malformed JSON'),
  401: json({ $ref: '#/components/schemas/Error' }, 'Missing or wrong cookie'),
  503: json({ $ref: '#/components/schemas/Error' }, 'The node is not running')
}

/** The document. */
export function openApiDocument (): unknown {
  return {
    openapi: '3.1.0',
    info: {
      title: 'peerd daemon API',
      version: VERSION,
      description: 'JSON API of a peerd daemon. Listens on loopback; every route except this document needs `Authorization: Bearer <cookie>`, where the cookie is the content of the `cookie` file in the data dir.'
    },
    components: {
      securitySchemes: { cookie: { type: 'http', scheme: 'bearer', description: 'Content of DATA_DIR/cookie' } },
      schemas: { Error: error, Peer: peer }
    },
    security: [{ cookie: [] }],
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
          summary: 'Node state: network, version, uptime, addresses, peer and connection counts',
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
