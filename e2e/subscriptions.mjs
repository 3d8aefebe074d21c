// Subscribes to caseUpdated with the real npm clients, graphql-ws over
// WebSocket and graphql-sse over Server-Sent Events, and prints the first
// event each receives as one JSON line. The Go test (TestRealClientsSubscribe)
// sends the mutation once it has seen "subscribing" and both subscriptions
// are live on the gateway.
//   node e2e/subscriptions.mjs http://127.0.0.1:8080/graphql 42
import { createClient as createWSClient } from 'graphql-ws';
import { createClient as createSSEClient } from 'graphql-sse';
import WebSocket from 'ws';

const [url, caseId] = process.argv.slice(2);
if (!url || !caseId) {
  console.error('usage: node subscriptions.mjs <graphql url> <case id>');
  process.exit(2);
}
const query = `subscription($id: ID) { caseUpdated(id: $id) { caseId changed case { id status patient { fullName } } } }`;
const watchdog = setTimeout(() => {
  console.error('no event within 30s');
  process.exit(1);
}, 30000);

function first(client, name) {
  return new Promise((resolve, reject) => {
    const dispose = client.subscribe(
      { query, variables: { id: caseId } },
      {
        next: (value) => { resolve(value); dispose(); },
        error: (err) => reject(new Error(`${name}: ${JSON.stringify(err?.message ?? err)}`)),
        complete: () => {},
      },
    );
  });
}

const ws = createWSClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { client: 'e2e' } });
const sse = createSSEClient({ url, singleConnection: false });
const results = Promise.all([first(ws, 'graphql-ws'), first(sse, 'graphql-sse')]);
console.log('subscribing');
try {
  const [viaWS, viaSSE] = await results;
  console.log(JSON.stringify({ ws: viaWS, sse: viaSSE }));
  clearTimeout(watchdog);
  await ws.dispose();
  sse.dispose();
  process.exit(0);
} catch (err) {
  console.error(String(err));
  process.exit(1);
}
