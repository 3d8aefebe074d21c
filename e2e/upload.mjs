// Uploads files through the real apollo-upload-client (19, for Apollo
// Client 4): its UploadHttpLink sends a GraphQL multipart request when the
// variables hold a File, with the Apollo-Require-Preflight header Stacker's
// CSRF rule asks of multipart requests. Prints one JSON line with the
// outcome of three uploads: an accepted PDF, a refused content type and a
// file over the limit. The Go test (TestApolloUploadClient) checks it.
//   node e2e/upload.mjs http://127.0.0.1:8080/graphql <case id> <bytes over the limit>
import { ApolloClient, InMemoryCache, gql } from '@apollo/client';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';

const [url, caseId, tooLarge] = process.argv.slice(2);
if (!url || !caseId || !tooLarge) {
  console.error('usage: node upload.mjs <graphql url> <case id> <bytes over the limit>');
  process.exit(2);
}
const watchdog = setTimeout(() => {
  console.error('the uploads did not complete within 30s');
  process.exit(1);
}, 30000);

const client = new ApolloClient({
  link: new UploadHttpLink({ uri: url, headers: { 'Apollo-Require-Preflight': 'true' } }),
  cache: new InMemoryCache(),
});

const mutation = gql`
  mutation UploadDocument($caseId: ID!, $kind: DocumentKind!, $title: String!, $file: Upload!) {
    uploadDocument(input: { caseId: $caseId, kind: $kind, title: $title, file: $file }) {
      document { id kind title sizeBytes }
      userErrors { field message }
    }
  }
`;

async function upload(title, file) {
  try {
    const r = await client.mutate({ mutation, variables: { caseId, kind: 'MEDICAL_REPORT', title, file }, errorPolicy: 'all' });
    return { data: r.data ?? null, error: r.error ? errorOf(r.error) : null };
  } catch (e) {
    return { data: null, error: errorOf(e) };
  }
}

function errorOf(e) {
  const errors = e.errors ?? e.result?.errors ?? [];
  return { name: e.name, statusCode: e.statusCode ?? null, codes: errors.map((x) => x.extensions?.code) };
}

const pdf = new File(['%PDF-1.4\nDischarge letter\n%%EOF\n'], 'letter.pdf', { type: 'application/pdf' });
const exe = new File(['MZ'], 'setup.exe', { type: 'application/x-msdownload' });
const big = new File([new Uint8Array(Number(tooLarge))], 'scan.pdf', { type: 'application/pdf' });

const out = {
  accepted: await upload('Discharge letter', pdf),
  refused: await upload('Setup', exe),
  tooLarge: await upload('Scan', big),
};
clearTimeout(watchdog);
console.log(JSON.stringify(out));
