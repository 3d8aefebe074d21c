// Builds Stacker's playground into ../dist, which Go embeds (playground.go).
//
//   cd playground/web && npm ci && node build.mjs
//
// The output is deterministic: the same package-lock.json and sources give
// byte-identical files, so CI can rebuild and diff. Everything lands under
// dist/assets with content-hashed names (served with immutable caching), plus
// dist/index.html, a template the Go handler fills in (title and a JSON
// config). Nothing in the output refers to another host: the page must work
// with no network but the gateway it came from.

import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const webDir = path.dirname(fileURLToPath(import.meta.url));
const distDir = path.resolve(webDir, '..', 'dist');
const assetsDir = path.join(distDir, 'assets');
// ASSET_PREFIX is where the Go handler serves dist/assets (playground.AssetPrefix).
const ASSET_PREFIX = '/playground/assets/';

const common = {
  absWorkingDir: webDir,
  bundle: true,
  minify: true,
  // License texts go to one notices file (below) instead of hundreds of
  // comments in the bundle.
  legalComments: 'none',
  target: ['es2022'],
  platform: 'browser',
  outdir: assetsDir,
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
};

// graphiql/style.css already holds monaco-editor 0.52.2's CSS (the version
// package-lock.json pins), so the CSS files monaco's ESM modules import would
// only duplicate it, and in lazily loaded chunks esbuild would not load them
// anyway.
const monacoCSSIsInStyleCSS = {
  name: 'monaco-css-in-graphiql-style',
  setup(build) {
    // An empty JS module, not an empty stylesheet: no CSS output at all.
    build.onLoad({ filter: /[\\/]monaco-editor[\\/]esm[\\/].*\.css$/ }, () => ({ contents: '', loader: 'js' }));
  },
};

async function main() {
  // The plugin above relies on this; an upgrade that splits the versions
  // must bring monaco's own CSS back.
  const monaco = JSON.parse(await readFile(path.join(webDir, 'node_modules/monaco-editor/package.json'), 'utf8')).version;
  const styleCSS = await readFile(path.join(webDir, 'node_modules/graphiql/dist/style.css'), 'utf8');
  if (!styleCSS.slice(0, 1000).includes(`Version: ${monaco}(`)) {
    throw new Error(`graphiql/style.css does not carry the CSS of monaco-editor ${monaco}`);
  }

  await rm(distDir, { recursive: true, force: true });
  await mkdir(assetsDir, { recursive: true });

  // 1. Monaco's workers, as classic scripts of their own (see src/workers.js).
  const workers = await esbuild.build({
    ...common,
    entryPoints: {
      'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
      'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
      'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
    },
    entryNames: '[name]-[hash]',
    format: 'iife',
  });
  const workerURLs = {};
  for (const [out, meta] of Object.entries(workers.metafile.outputs)) {
    const label = path.basename(meta.entryPoint ?? '').replace(/\.worker\.js$/, '');
    workerURLs[label] = ASSET_PREFIX + path.basename(out);
  }
  for (const label of ['editor', 'json', 'graphql']) {
    if (!workerURLs[label]) throw new Error(`no output for the ${label} worker`);
  }

  // 2. The page: an ES module with lazily loaded chunks (monaco, prettier)
  // and one stylesheet.
  const page = await esbuild.build({
    ...common,
    entryPoints: { main: 'src/main.jsx' },
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: '[name]-[hash]',
    format: 'esm',
    splitting: true,
    jsx: 'automatic',
    define: { ...common.define, __STACKER_WORKERS__: JSON.stringify(workerURLs) },
    plugins: [monacoCSSIsInStyleCSS],
  });

  const entry = {};
  for (const [out, meta] of Object.entries(page.metafile.outputs)) {
    if (meta.entryPoint === 'src/main.jsx') entry['main.js'] = path.basename(out);
    if (out.endsWith('.css') && meta.entryPoint === undefined && path.basename(out).startsWith('main-')) {
      entry['main.css'] = path.basename(out);
    }
  }
  if (!entry['main.js'] || !entry['main.css']) {
    throw new Error(`cannot find the page's script and stylesheet in ${Object.keys(page.metafile.outputs)}`);
  }
  // Stylesheets of lazy chunks are never loaded (esbuild does not inject
  // them); the plugin above keeps monaco's from existing at all.
  const strayCSS = Object.keys(page.metafile.outputs).filter(
    (o) => o.endsWith('.css') && path.basename(o) !== entry['main.css'],
  );
  if (strayCSS.length > 0) throw new Error(`unexpected stylesheets of lazy chunks: ${strayCSS.join(', ')}`);

  // 3. The notices of every third-party package in the bundle.
  const inputs = [...Object.keys(workers.metafile.inputs), ...Object.keys(page.metafile.inputs)];
  const notices = await thirdPartyNotices(inputs);
  const noticesName = `notices-${hash(notices)}.txt`;
  await writeFile(path.join(assetsDir, noticesName), notices);

  // 4. index.html, with hashed asset URLs; {{STACKER_TITLE}} and
  // {{STACKER_CONFIG}} stay for the Go handler.
  let html = await readFile(path.join(webDir, 'src', 'index.html'), 'utf8');
  html = html.replace(/\{\{ASSET ([\w.]+)\}\}/g, (_, name) => {
    if (!entry[name]) throw new Error(`index.html refers to unknown asset ${name}`);
    return ASSET_PREFIX + entry[name];
  });
  html = html.replace('</head>', `  <link rel="license" href="${ASSET_PREFIX}${noticesName}">\n  </head>`);
  await writeFile(path.join(distDir, 'index.html'), html);

  await report();
}

function hash(s) {
  return createHash('sha256').update(s).digest('hex').slice(0, 8).toUpperCase();
}

// thirdPartyNotices lists each npm package an input file came from, with its
// version and license text, sorted by name.
async function thirdPartyNotices(inputs) {
  const dirs = new Set();
  for (const input of inputs) {
    const m = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
    if (m) dirs.add(m[1]);
  }
  const entries = [];
  for (const dir of dirs) {
    const pkg = JSON.parse(await readFile(path.join(webDir, dir, 'package.json'), 'utf8'));
    const files = (await readdir(path.join(webDir, dir))).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f)).sort();
    let text = '';
    for (const f of files) text += (await readFile(path.join(webDir, dir, f), 'utf8')).trim() + '\n';
    entries.push(`${pkg.name}@${pkg.version} (${pkg.license ?? 'see text'})\n\n${text || '(no license file in the package)\n'}`);
  }
  entries.sort();
  return (
    'Third-party software in Stacker\'s playground (bundled by playground/web/build.mjs)\n\n' +
    entries.join('\n' + '-'.repeat(78) + '\n\n')
  );
}

async function report() {
  let total = 0;
  const lines = [];
  for (const dir of [distDir, assetsDir]) {
    for (const f of (await readdir(dir)).sort()) {
      const s = await stat(path.join(dir, f));
      if (!s.isFile()) continue;
      total += s.size;
      lines.push(`  ${path.relative(distDir, path.join(dir, f)).padEnd(40)} ${(s.size / 1024).toFixed(0).padStart(6)} KiB`);
    }
  }
  console.log(`dist/\n${lines.join('\n')}\n  ${'total'.padEnd(40)} ${(total / 1024).toFixed(0).padStart(6)} KiB`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
