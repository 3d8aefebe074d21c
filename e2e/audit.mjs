// Runs the graphql-http server audit (the GraphQL-over-HTTP specification's
// MUSTs and SHOULDs) against a running Stacker and prints the result as JSON:
//   node e2e/audit.mjs http://127.0.0.1:8080/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}
const results = await auditServer({ url });
const out = { ok: 0, warn: 0, error: 0, failures: [] };
for (const r of results) {
  out[r.status]++;
  if (r.status !== 'ok') {
    out.failures.push({ id: r.id, status: r.status, name: r.name, reason: r.reason });
  }
}
console.log(JSON.stringify(out));
