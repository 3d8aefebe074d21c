// Connects with the real graphql-ws client, the upgrade request carrying
// a good token in its Authorization header and connection_init carrying
// the token given (as connectionParams.Authorization), subscribes, and
// prints how the connection ended as one JSON line: {"code":4403,...} when
// the gateway refused the connection_init token. The Go test
// (TestRealClientRefusedAtConnectionInit) checks the line.
//   node e2e/auth.mjs http://127.0.0.1:8080/graphql <upgrade token> <init token>
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, upgradeToken, initToken] = process.argv.slice(2);
if (!url || !upgradeToken || !initToken) {
  console.error('usage: node auth.mjs <graphql url> <upgrade token> <init token>');
  process.exit(2);
}
const watchdog = setTimeout(() => {
  console.error('the connection did not end within 30s');
  process.exit(1);
}, 30000);

// Node's ws can send headers on the upgrade, which browsers cannot.
class WithToken extends WebSocket {
  constructor(address, protocols) {
    super(address, protocols, { headers: { Authorization: `Bearer ${upgradeToken}` } });
  }
}

const client = createClient({
  url: url.replace(/^http/, 'ws'),
  webSocketImpl: WithToken,
  connectionParams: { Authorization: `Bearer ${initToken}` },
  retryAttempts: 0,
});
const ended = new Promise((resolve) => {
  client.subscribe(
    { query: 'subscription { caseUpdated { caseId } }' },
    {
      next: (v) => resolve({ next: v }),
      error: (err) => resolve({ code: err?.code, reason: err?.reason, message: err?.message }),
      complete: () => resolve({ complete: true }),
    },
  );
});
const result = await ended;
console.log(JSON.stringify(result));
clearTimeout(watchdog);
await client.dispose();
process.exit(0);
