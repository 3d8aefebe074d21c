// Stacker's playground: GraphiQL with the doc explorer, talking to the
// gateway it was served by. Everything the page needs is bundled; the Go
// side owns the settings (endpoint, default query, title, headers) and passes them in
// a JSON script tag, so nothing here has to change when they do.

import './workers.js';
import 'graphiql/style.css';
import './stacker.css';

import { DOC_EXPLORER_PLUGIN } from '@graphiql/plugin-doc-explorer';
import { createGraphiQLFetcher, createLocalStorage } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createRoot } from 'react-dom/client';

/**
 * @typedef {object} Config
 * @property {string} endpoint GraphQL over HTTP, usually "/graphql"
 * @property {string} [subscriptionEndpoint] graphql-ws path; empty: none
 * @property {string} defaultQuery the first tab of a new visitor
 * @property {string} title shown as GraphiQL's logo
 * @property {string} [headers] JSON for the Headers tab of new tabs (the
 *   demo's Authorization header when STACKER_DEMO_AUTH is on); empty: none
 */

/** @returns {Config} */
function readConfig() {
  const el = document.getElementById('stacker-playground-config');
  return JSON.parse(el.textContent);
}

// webSocketURL turns a path into a ws(s):// URL on the page's own host.
function webSocketURL(path) {
  const u = new URL(path, window.location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

const config = readConfig();
const fetcher = createGraphiQLFetcher({
  url: new URL(config.endpoint, window.location.href).href,
  subscriptionUrl: config.subscriptionEndpoint ? webSocketURL(config.subscriptionEndpoint) : undefined,
});

// Tabs and history live in localStorage under "stacker:", so another
// GraphiQL on the same origin (localhost:8080 is popular) keeps its own.
// Request headers are not persisted (GraphiQL's default): they may hold tokens.
const storage = createLocalStorage({ namespace: 'stacker' });

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    storage={storage}
    defaultTabs={[{ query: config.defaultQuery, headers: config.headers }]}
    defaultHeaders={config.headers}
    referencePlugin={DOC_EXPLORER_PLUGIN}
  >
    <GraphiQL.Logo>{config.title}</GraphiQL.Logo>
  </GraphiQL>,
);
