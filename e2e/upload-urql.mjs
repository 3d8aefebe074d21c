// Uploads a file through the real urql (@urql/core 6), whose fetchExchange
// sends a GraphQL multipart request by itself when the variables hold a
// File; the Apollo-Require-Preflight header goes in through fetchOptions.
// Prints one JSON line with the result. The Go test (TestUrqlUpload)
// checks it.
//   node e2e/upload-urql.mjs http://127.0.0.1:8080/graphql <case id>
import { Client, fetchExchange, gql } from '@urql/core';

const [url, caseId] = process.argv.slice(2);
if (!url || !caseId) {
  console.error('usage: node upload-urql.mjs <graphql url> <case id>');
  process.exit(2);
}
const watchdog = setTimeout(() => {
  console.error('the upload did not complete within 30s');
  process.exit(1);
}, 30000);

const client = new Client({
  url,
  exchanges: [fetchExchange],
  fetchOptions: { headers: { 'Apollo-Require-Preflight': 'true' } },
});

const mutation = gql`
  mutation UploadDocument($input: UploadDocumentInput!) {
    uploadDocument(input: $input) {
      document { id kind title sizeBytes }
      userErrors { field message }
    }
  }
`;

const file = new File(['an image, as far as this test is concerned'], 'xray.png', { type: 'image/png' });
const r = await client.mutation(mutation, { input: { caseId, kind: 'IMAGING', title: 'Chest X-ray', file } }).toPromise();
clearTimeout(watchdog);
console.log(JSON.stringify({ data: r.data ?? null, error: r.error ? r.error.message : null }));
