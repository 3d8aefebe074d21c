// A file upload from a real browser: Debian's Chromium, headless, driven by
// playwright-core. Run by TestUploadFromBrowser (gateway/upload_test.go),
// which starts Stacker and passes:
//
//   PAGE_URL    a page of the gateway (the playground), so /graphql is same-origin
//   UPLOAD_FILE a file on disk, chosen in an <input type="file"> as a user would
//   CHROMIUM    the browser (default /usr/bin/chromium)
//
// The page sends the GraphQL multipart request the way apollo-upload-client
// and urql build it (FormData: operations, map, then the file), once with
// the preflight header and once without, and prints both answers as one
// JSON line for the Go test to check. Chromium's own traffic goes to a proxy
// that does not exist, so nothing leaves the machine.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

const STEP_TIMEOUT = 60_000;
const pageURL = process.env.PAGE_URL;
const file = process.env.UPLOAD_FILE;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const MUTATION = `mutation UploadDocument($input: UploadDocumentInput!) {
  uploadDocument(input: $input) { document { id title sizeBytes } userErrors { field message } }
}`;

async function main() {
  if (!pageURL || !file) throw new Error('PAGE_URL and UPLOAD_FILE must be set');
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'stacker-chromium-'));
  const watchdog = setTimeout(() => { console.error('upload-test: watchdog fired'); process.exit(2); }, 3 * STEP_TIMEOUT);
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      timeout: STEP_TIMEOUT,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--proxy-server=http://127.0.0.1:9'],
    });
    context.setDefaultTimeout(STEP_TIMEOUT);
    const page = context.pages()[0] || await context.newPage();
    await page.goto(pageURL);
    await page.evaluate(() => {
      const input = document.createElement('input');
      input.type = 'file';
      input.id = 'stacker-upload';
      document.body.appendChild(input);
    });
    await page.setInputFiles('#stacker-upload', file);
    const result = await page.evaluate(async (query) => {
      const send = async (headers) => {
        const picked = document.getElementById('stacker-upload').files[0];
        const body = new FormData();
        body.append('operations', JSON.stringify({
          query,
          variables: { input: { caseId: '42', kind: 'IMAGING', title: 'Scan from the browser', file: null } },
        }));
        body.append('map', JSON.stringify({ 0: ['variables.input.file'] }));
        body.append('0', picked, picked.name);
        const resp = await fetch('/graphql', { method: 'POST', headers, body });
        return { status: resp.status, body: await resp.json(), size: picked.size, type: picked.type };
      };
      return {
        withPreflight: await send({ 'Apollo-Require-Preflight': 'true' }),
        withoutPreflight: await send({}),
      };
    }, MUTATION);
    console.log(JSON.stringify(result));
  } finally {
    clearTimeout(watchdog);
    if (context) await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`upload-test: ${err.stack || err}`);
  process.exit(1);
});
