// GraphQL over WebSocket protocol checks with raw `ws` sockets: graphql-transport-ws as
// graphql-ws's PROTOCOL.md describes it (close codes included) and the legacy graphql-ws
// subprotocol.
//
//   node ws-protocol.mjs ws://127.0.0.1:8080/graphql/ws
//
// Environment:
//   WS_SUBSCRIPTION      a subscription that keeps emitting (default `subscription { ticks }`,
//                        the toy schema's); used for the 4409 and `complete` checks
//   WS_FORBIDDEN_PAYLOAD a connection_init payload the server refuses (default
//                        {"authorization":"Bearer bad"})
//   WS_CONNECTION_PARAMS the connection_init payload the server accepts (default none)
//   WS_INIT_TIMEOUT_MS   the server's connection_init timeout (default 10000)
// Prints one line per check and `N passed, N failed`; exits non-zero when a check fails.
import { isDeepStrictEqual } from 'node:util';
import WebSocket from 'ws';

const url = process.argv[2] ?? process.env.GRAPHQL_WS_URL;
if (!url) {
  console.error('usage: node ws-protocol.mjs WSURL   (or GRAPHQL_WS_URL=WSURL)');
  process.exit(2);
}
const longSubscription = process.env.WS_SUBSCRIPTION ?? 'subscription { ticks }';
const forbiddenPayload = JSON.parse(
  process.env.WS_FORBIDDEN_PAYLOAD ?? '{"authorization":"Bearer bad"}',
);
const connectionParams = process.env.WS_CONNECTION_PARAMS
  ? JSON.parse(process.env.WS_CONNECTION_PARAMS)
  : undefined;
const initTimeoutMs = Number(process.env.WS_INIT_TIMEOUT_MS ?? 10000);
const WAIT_MS = 5000;

/** A socket whose messages and close can be awaited in order. */
class Conn {
  static async open(protocols) {
    const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
    const conn = new Conn(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return conn;
  }

  constructor(ws) {
    this.ws = ws;
    this.events = [];
    this.waiter = null;
    ws.on('message', (data) => this.push({ message: JSON.parse(String(data)) }));
    ws.on('close', (code, reason) => this.push({ close: { code, reason: String(reason) } }));
    ws.on('error', () => {});
  }

  push(event) {
    this.events.push(event);
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter();
    }
  }

  async event(timeoutMs = WAIT_MS) {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`nothing received within ${timeoutMs} ms`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.events.shift();
  }

  send(message) {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message; fails on a close. */
  async message(timeoutMs) {
    const event = await this.event(timeoutMs);
    if (event.close) {
      throw new Error(`closed with ${event.close.code} ${event.close.reason} instead of a message`);
    }
    return event.message;
  }

  /** The close; fails on any message but those `skip` accepts. */
  async close(timeoutMs, skip = () => false) {
    for (;;) {
      const event = await this.event(timeoutMs);
      if (event.close) return event.close;
      if (!skip(event.message)) {
        throw new Error(`expected a close, received ${JSON.stringify(event.message)}`);
      }
    }
  }

  /** Asserts nothing arrives for `ms`. */
  async silence(ms) {
    try {
      const event = await this.event(ms);
      throw new Error(`expected silence, received ${JSON.stringify(event)}`);
    } catch (error) {
      if (!String(error.message).startsWith('nothing received')) throw error;
    }
  }

  terminate() {
    this.ws.terminate();
  }
}

function assertEqual(actual, expected, what) {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

async function expectClose(conn, code, reason, timeoutMs, skip) {
  const close = await conn.close(timeoutMs, skip);
  assertEqual(close.code, code, 'close code');
  if (reason !== undefined) assertEqual(close.reason, reason, 'close reason');
  return close;
}

async function acked() {
  const conn = await Conn.open('graphql-transport-ws');
  assertEqual(conn.ws.protocol, 'graphql-transport-ws', 'subprotocol');
  conn.send(connectionParams ? { type: 'connection_init', payload: connectionParams } : { type: 'connection_init' });
  const ack = await conn.message();
  assertEqual(ack.type, 'connection_ack', 'message type');
  return conn;
}

const checks = {
  'query: next, then complete': async () => {
    const conn = await acked();
    conn.send({ id: 'q', type: 'subscribe', payload: { query: '{ __typename }' } });
    const next = await conn.message();
    assertEqual([next.type, next.id, typeof next.payload?.data?.__typename], ['next', 'q', 'string'], 'next');
    assertEqual(await conn.message(), { id: 'q', type: 'complete' }, 'complete');
    conn.terminate();
  },
  'validation failure: error with the errors array': async () => {
    const conn = await acked();
    conn.send({ id: 'v', type: 'subscribe', payload: { query: '{ thisFieldDoesNotExist8f31403d }' } });
    const error = await conn.message();
    assertEqual([error.type, error.id], ['error', 'v'], 'error message');
    if (!Array.isArray(error.payload) || !error.payload.length || typeof error.payload[0].message !== 'string') {
      throw new Error(`error payload is no GraphQL errors array: ${JSON.stringify(error.payload)}`);
    }
    conn.send({ type: 'ping' });
    assertEqual(await conn.message(), { type: 'pong' }, 'the connection lives on');
    conn.terminate();
  },
  'ping: pong with the same payload; pong accepted': async () => {
    const conn = await Conn.open('graphql-transport-ws');
    conn.send({ type: 'ping', payload: { sent: 42 } });
    assertEqual(await conn.message(), { type: 'pong', payload: { sent: 42 } }, 'pong');
    conn.send({ type: 'ping' });
    assertEqual(await conn.message(), { type: 'pong' }, 'pong without payload');
    conn.send({ type: 'pong', payload: { unsolicited: true } });
    await conn.silence(200);
    conn.terminate();
  },
  'complete from the client stops the subscription': async () => {
    const conn = await acked();
    const subscribe = { id: 's', type: 'subscribe', payload: { query: longSubscription } };
    conn.send(subscribe);
    assertEqual((await conn.message()).type, 'next', 'first result');
    conn.send({ id: 's', type: 'complete' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    conn.send({ type: 'ping' });
    for (;;) {
      const message = await conn.message();
      if (message.type === 'pong') break;
      assertEqual([message.type, message.id], ['next', 's'], 'a result already under way');
    }
    await conn.silence(300);
    conn.send(subscribe);
    assertEqual((await conn.message()).type, 'next', 'the id is free again');
    conn.terminate();
  },
  '4400 on invalid JSON': async () => {
    const conn = await Conn.open('graphql-transport-ws');
    conn.send('{ not json');
    await expectClose(conn, 4400);
  },
  '4400 on an unknown message type': async () => {
    const conn = await Conn.open('graphql-transport-ws');
    conn.send({ type: 'subscribe_please' });
    await expectClose(conn, 4400);
  },
  '4400 on a subscribe without id': async () => {
    const conn = await acked();
    conn.send({ type: 'subscribe', payload: { query: '{ __typename }' } });
    await expectClose(conn, 4400);
  },
  '4400 on a subscribe without query': async () => {
    const conn = await acked();
    conn.send({ id: '1', type: 'subscribe', payload: {} });
    await expectClose(conn, 4400);
  },
  '4401 on subscribe before connection_ack': async () => {
    const conn = await Conn.open('graphql-transport-ws');
    conn.send({ id: '1', type: 'subscribe', payload: { query: '{ __typename }' } });
    await expectClose(conn, 4401, 'Unauthorized');
  },
  '4403 when connection_init is refused': async () => {
    const conn = await Conn.open('graphql-transport-ws');
    conn.send({ type: 'connection_init', payload: forbiddenPayload });
    // The reason is free text per graphql-ws; ours says why (WS_FORBIDDEN_REASON to pin it).
    const close = await expectClose(conn, 4403, process.env.WS_FORBIDDEN_REASON);
    if (!close.reason) throw new Error('close reason: expected a non-empty reason');
  },
  '4406 without the subprotocol': async () => {
    const conn = await Conn.open(undefined);
    await expectClose(conn, 4406, 'Subprotocol not acceptable');
  },
  '4408 without connection_init in time': async () => {
    const started = Date.now();
    const conn = await Conn.open('graphql-transport-ws');
    await expectClose(conn, 4408, 'Connection initialisation timeout', initTimeoutMs + WAIT_MS);
    const elapsed = Date.now() - started;
    if (elapsed < initTimeoutMs * 0.9) throw new Error(`closed after ${elapsed} ms, before the timeout`);
  },
  '4409 on a duplicate operation id': async () => {
    const conn = await acked();
    const subscribe = { id: 'dup', type: 'subscribe', payload: { query: longSubscription } };
    conn.send(subscribe);
    assertEqual((await conn.message()).type, 'next', 'first result');
    conn.send(subscribe);
    await expectClose(conn, 4409, 'Subscriber for dup already exists', WAIT_MS, (m) => m.type === 'next');
  },
  '4429 on a second connection_init': async () => {
    const conn = await acked();
    conn.send({ type: 'connection_init' });
    await expectClose(conn, 4429, 'Too many initialisation requests');
  },
  'legacy graphql-ws: ack, data, complete': async () => {
    const conn = await Conn.open('graphql-ws');
    assertEqual(conn.ws.protocol, 'graphql-ws', 'subprotocol');
    conn.send(connectionParams ? { type: 'connection_init', payload: connectionParams } : { type: 'connection_init' });
    assertEqual((await conn.message()).type, 'connection_ack', 'ack');
    conn.send({ id: '1', type: 'start', payload: { query: '{ __typename }' } });
    let message = await conn.message();
    while (message.type === 'ka') message = await conn.message();
    assertEqual([message.type, message.id, typeof message.payload?.data?.__typename], ['data', '1', 'string'], 'data');
    assertEqual(await conn.message(), { id: '1', type: 'complete' }, 'complete');
    conn.terminate();
  },
};

let passed = 0;
let failed = 0;
const results = await Promise.all(
  Object.entries(checks).map(async ([name, check]) => {
    try {
      await check();
      return [name, null];
    } catch (error) {
      return [name, error];
    }
  }),
);
for (const [name, error] of results) {
  if (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error.message}`);
  } else {
    passed += 1;
    console.log(`pass ${name}`);
  }
}
console.log(`ws-protocol: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
