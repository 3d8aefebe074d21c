// Monaco runs its language services in web workers. GraphiQL's own
// setup-workers modules either fetch them from esm.sh (a CDN: not allowed
// here) or rely on a Vite/webpack worker plugin, so build.mjs bundles the
// three workers as files of their own and defines their content-hashed URLs
// as __STACKER_WORKERS__. Same-origin worker scripts keep the CSP at
// worker-src 'self' (no blob: or data: workers).

/* global __STACKER_WORKERS__ */
const workers = __STACKER_WORKERS__;

globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    switch (label) {
      case 'json':
        return new Worker(workers.json, { name: 'json' });
      case 'graphql':
        return new Worker(workers.graphql, { name: 'graphql' });
      default:
        return new Worker(workers.editor, { name: label || 'editor' });
    }
  },
};
