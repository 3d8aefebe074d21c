// The playground in a real browser: Debian's Chromium, headless, driven by
// playwright-core. Run by TestPlaygroundInBrowser (browser_test.go), which
// starts Stacker and passes:
//
//   PLAYGROUND_URL          the page, e.g. http://127.0.0.1:PORT/
//   STACKER_SCREENSHOT_DIR  where playground.png goes
//   PLAYGROUND_EXPECT       JSON array of strings the rendered result must hold
//   CHROMIUM                the browser (default /usr/bin/chromium)
//
// The browser may reach loopback only: every request goes through a route
// that aborts (and records) any other host, and Chromium's own traffic goes
// to a proxy that does not exist, so nothing can leave the machine even if
// a request slipped past the route. Any such attempt, any Content Security
// Policy violation and any uncaught page error fails the test. Every wait
// is bounded; a watchdog ends the run if something hangs anyway.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

const STEP_TIMEOUT = 30_000;
const WATCHDOG = 150_000;

const url = process.env.PLAYGROUND_URL;
const screenshotDir = process.env.STACKER_SCREENSHOT_DIR || os.tmpdir();
const expected = JSON.parse(process.env.PLAYGROUND_EXPECT || '["\\"totalCount\\""]');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function log(...args) {
  console.log(`[browser-test ${new Date().toISOString().slice(11, 23)}]`, ...args);
}

class Failure extends Error {}

// fatal is set when the page cannot work at all (the schema cannot be
// loaded); waits give up at once instead of running into their timeouts.
let fatal = null;

async function main() {
  if (!url) throw new Failure('PLAYGROUND_URL is not set');
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'stacker-chromium-'));
  const blocked = [];
  const cspViolations = [];
  const pageErrors = [];
  const consoleErrors = [];
  const httpErrors = [];
  let context;
  let page;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      timeout: STEP_TIMEOUT,
      viewport: { width: 1440, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // Chromium bypasses proxies for loopback; everything else goes to
        // port 9 (discard) on loopback, where nothing listens.
        '--proxy-server=http://127.0.0.1:9',
      ],
    });
    context.setDefaultTimeout(STEP_TIMEOUT);
    await context.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if ((u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:') && !LOOPBACK.has(u.hostname)) {
        blocked.push(route.request().url());
        return route.abort('blockedbyclient');
      }
      return route.continue();
    });
    // The guard must work before it can vouch for the page: a request to
    // another host from a blank page has to be caught and aborted.
    const canaryURL = 'http://canary.invalid/';
    const canary = await context.newPage();
    await canary.goto(canaryURL).catch(() => {});
    await canary.close();
    if (!blocked.includes(canaryURL)) throw new Failure('the network guard did not catch a request to another host');
    blocked.length = 0;

    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const text = msg.text();
      consoleErrors.push(text);
      if (/Content Security Policy/i.test(text)) cspViolations.push(text);
    });
    page.on('worker', (w) => log('worker started:', w.url()));
    page.on('response', async (r) => {
      if (r.status() < 400) return;
      const body = await r.text().catch(() => '');
      const line = `HTTP ${r.status()} for ${r.request().method()} ${r.url()}: ${body.slice(0, 500)}`;
      httpErrors.push(line);
      log(line);
      if ((r.request().postData() || '').includes('"operationName":"IntrospectionQuery"')) {
        fatal ??= `the gateway refused GraphiQL's introspection query, so the docs explorer and completion cannot work: ${line}`;
      }
    });
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`Content Security Policy violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
      });
    });

    log('opening', url);
    const resp = await page.goto(url, { waitUntil: 'load' });
    if (!resp || !resp.ok()) throw new Failure(`GET ${url}: ${resp ? resp.status() : 'no response'}`);
    const csp = resp.headers()['content-security-policy'];
    if (!csp) throw new Failure('the page has no Content-Security-Policy header');

    // GraphiQL is up when Monaco has rendered the query editor.
    const queryEditor = page.locator('.graphiql-query-editor .monaco-editor .view-lines');
    await queryEditor.waitFor({ state: 'visible' });
    await waitForText(queryEditor, ['query CaseBoard'], 'the query editor (default tab)');
    log('GraphiQL loaded with the case board in the query editor');

    const run = page.locator('button.graphiql-execute-button');
    await run.waitFor({ state: 'visible' });
    await run.click();
    log('clicked the run button');
    const response = page.locator('.graphiql-response .monaco-editor .view-lines');
    await waitForText(response, expected, 'the result pane');
    log('the result pane shows', expected.join(', '));

    await page.getByRole('button', { name: /documentation explorer/i }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.waitFor({ state: 'visible' });
    await waitForText(docs, ['Root Types', 'query'], 'the docs explorer');
    await docs.getByRole('link', { name: 'Query', exact: true }).click();
    await waitForText(docs, ['cases'], 'the docs explorer (type Query)');
    log('the docs explorer shows the schema');

    const shot = path.join(screenshotDir, 'playground.png');
    await page.screenshot({ path: shot, fullPage: true, timeout: STEP_TIMEOUT });
    log('screenshot:', shot);

    const problems = [];
    if (blocked.length > 0) problems.push(`requests to non-loopback hosts (blocked): ${blocked.join(', ')}`);
    if (cspViolations.length > 0) problems.push(`Content Security Policy violations: ${cspViolations.join(' | ')}`);
    if (pageErrors.length > 0) problems.push(`uncaught page errors: ${pageErrors.join(' | ')}`);
    if (problems.length > 0) throw new Failure(problems.join('\n'));
    if (consoleErrors.length > 0) log('console errors (not failing the test):', consoleErrors.join(' | '));
    log('ok');
  } catch (err) {
    if (page) {
      const shot = path.join(screenshotDir, 'playground-failure.png');
      await page.screenshot({ path: shot, fullPage: true, timeout: 10_000 }).then(
        () => log('failure screenshot:', shot),
        () => {},
      );
    }
    const extra = [];
    if (blocked.length > 0) extra.push(`blocked requests: ${blocked.join(', ')}`);
    if (cspViolations.length > 0) extra.push(`CSP violations: ${cspViolations.join(' | ')}`);
    if (pageErrors.length > 0) extra.push(`page errors: ${pageErrors.join(' | ')}`);
    if (httpErrors.length > 0) extra.push(`failed responses: ${httpErrors.join(' | ')}`);
    if (consoleErrors.length > 0) extra.push(`console errors: ${consoleErrors.join(' | ')}`);
    throw new Failure([err instanceof Failure ? err.message : String(err.stack || err), ...extra].join('\n'));
  } finally {
    if (context) await context.close().catch(() => {});
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  }
}

// waitForText waits until the element's rendered text holds every string.
// Monaco renders spaces as no-break spaces; they count as spaces here.
async function waitForText(locator, strings, what) {
  const deadline = Date.now() + STEP_TIMEOUT;
  let text = '';
  while (Date.now() < deadline) {
    if (fatal) throw new Failure(fatal);
    text = ((await locator.innerText({ timeout: STEP_TIMEOUT }).catch(() => '')) || '').replace(/\u00a0/g, ' ');
    if (strings.every((s) => text.includes(s))) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  const missing = strings.filter((s) => !text.includes(s));
  throw new Failure(`${what} never showed ${JSON.stringify(missing)} within ${STEP_TIMEOUT / 1000}s; it shows:\n${text.slice(0, 2000)}`);
}

const watchdog = setTimeout(() => {
  console.error(`browser-test: FAIL: still running after ${WATCHDOG / 1000}s`);
  process.exit(2);
}, WATCHDOG);

main().then(
  () => {
    clearTimeout(watchdog);
    process.exit(0);
  },
  (err) => {
    console.error(`browser-test: FAIL: ${err.message}`);
    process.exit(1);
  },
);
