// Runs one operation over graphql-transport-ws with the graphql-ws library's own client.
//
//   node ws-client.mjs ws://127.0.0.1:8080/graphql/ws 'subscription { ... }' ['{"var":1}']
//
// The operation and its variables may also come from WS_QUERY and WS_VARIABLES (JSON).
// Optional: WS_CONNECTION_PARAMS (JSON, the connection_init payload), WS_TAKE (stop after that
// many results, for endless subscriptions), WS_EXPECT (the exact number of results required),
// WS_TIMEOUT_MS (default 10000). Each result is printed as one JSON line; exits non-zero on a
// protocol error, a close, GraphQL errors in a result, a wrong count or the timeout.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, queryArg, variablesArg] = process.argv.slice(2);
const query = queryArg ?? process.env.WS_QUERY;
const variablesText = variablesArg ?? process.env.WS_VARIABLES;
if (!url || !query) {
  console.error('usage: node ws-client.mjs WSURL QUERY [VARIABLES_JSON]   (or WS_QUERY, WS_VARIABLES)');
  process.exit(2);
}
const variables = variablesText ? JSON.parse(variablesText) : undefined;
const connectionParams = process.env.WS_CONNECTION_PARAMS
  ? JSON.parse(process.env.WS_CONNECTION_PARAMS)
  : undefined;
const take = process.env.WS_TAKE ? Number(process.env.WS_TAKE) : Infinity;
const expect = process.env.WS_EXPECT ? Number(process.env.WS_EXPECT) : undefined;
const timeoutMs = Number(process.env.WS_TIMEOUT_MS ?? 10000);

const timer = setTimeout(() => {
  console.error(`timed out after ${timeoutMs} ms`);
  process.exit(1);
}, timeoutMs);

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams,
  retryAttempts: 0,
  lazy: true,
});

let received = 0;
let failure;
try {
  for await (const result of client.iterate({ query, variables })) {
    received += 1;
    console.log(JSON.stringify(result));
    if (result.errors?.length) {
      failure = 'the result has GraphQL errors';
      break;
    }
    if (received >= take) break;
  }
} catch (error) {
  // An error message's errors array, a CloseEvent or an Error.
  failure = Array.isArray(error)
    ? `error message: ${JSON.stringify(error)}`
    : error?.code !== undefined
      ? `closed with ${error.code} ${error.reason}`
      : String(error?.stack ?? error);
} finally {
  clearTimeout(timer);
  await client.dispose();
}

if (!failure && expect !== undefined && received !== expect) {
  failure = `expected ${expect} results, received ${received}`;
}
if (failure) {
  console.error(`ws-client: ${failure}`);
  process.exit(1);
}
console.error(`ws-client: ${received} result(s)`);
