// Sends a query with @defer through the real Apollo Client 4 (HttpLink and
// its Defer20220824Handler, which asks for multipart/mixed;deferSpec=20220824)
// and prints one JSON line: the Content-Type the gateway answered with, the
// dataState of every result the watcher saw, and the final data and errors.
// The Go test (TestApolloClientDefer) checks the line.
//   node e2e/defer.mjs http://127.0.0.1:8080/graphql <case id>
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { Defer20220824Handler } from '@apollo/client/incremental';

const [url, caseId] = process.argv.slice(2);
if (!url || !caseId) {
  console.error('usage: node defer.mjs <graphql url> <case id>');
  process.exit(2);
}
const watchdog = setTimeout(() => {
  console.error('the query did not complete within 30s');
  process.exit(1);
}, 30000);

const contentTypes = [];
const recordingFetch = async (input, init) => {
  const res = await fetch(input, init);
  contentTypes.push(res.headers.get('content-type'));
  return res;
};

const client = new ApolloClient({
  link: new HttpLink({ uri: url, fetch: recordingFetch }),
  cache: new InMemoryCache(),
  // Apollo Client 4 ships without an incremental format: without this
  // handler it refuses @defer.
  incrementalHandler: new Defer20220824Handler(),
});

const query = gql`
  query DeferredCase($id: ID!) {
    case(id: $id) {
      id
      status
      ... @defer(label: "patient") {
        patient {
          id
          fullName
          ...Insurer @defer(label: "insurer")
        }
      }
    }
  }
  fragment Insurer on Patient {
    insurer { id name }
  }
`;

const states = [];
const result = await new Promise((resolve, reject) => {
  const sub = client
    .watchQuery({ query, variables: { id: caseId }, errorPolicy: 'all', fetchPolicy: 'network-only' })
    .subscribe({
      next: (r) => {
        states.push(r.dataState);
        if (r.dataState === 'complete' && !r.loading) {
          sub.unsubscribe();
          resolve(r);
        }
      },
      error: reject,
    });
});
console.log(JSON.stringify({ contentTypes, states, data: result.data, error: result.error?.message ?? null }));
clearTimeout(watchdog);
process.exit(0);
