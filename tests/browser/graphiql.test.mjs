// GraphiQL (`GET /graphql` from a browser) in headless Chromium, offline: every request the page
// makes outside the server's origin is aborted and recorded, and the test fails if there is
// one. The page must load from the server alone, draw GraphiQL, and run `{ __typename }` over
// HTTP, without a single Content-Security-Policy violation or console error.
//
//   cargo build && cd tests/browser && npm ci && node --test graphiql.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase, startServer, openBrowser } from './support.mjs';

test('GraphiQL loads from the server alone and runs a query', async () => {
  const server = await startServer(freshDatabase());
  const browser = await openBrowser();
  const context = await browser.newContext();
  const elsewhere = [];
  const origin = new URL(server.base).origin;
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin === origin) return route.continue();
    elsewhere.push(url.href);
    return route.abort('internetdisconnected');
  });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content.Security.Policy/i.test(message.text())) {
      problems.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));

  const response = await page.goto(`${server.base}/graphql`);
  assert.equal(response.status(), 200);
  const html = await response.text();
  assert.doesNotMatch(html, /https?:\/\//, 'the page names no URL of another site');
  assert.match(response.headers()['content-security-policy'], /script-src 'self'/);

  // GraphiQL is drawn: its query editor is there.
  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.waitFor({ timeout: 15_000 });

  // Replace the query and run it; the result pane shows the answer from /graphql.
  await page.evaluate(() => {
    document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ __typename }');
  });
  const answered = page.waitForResponse((r) => r.url() === `${server.base}/graphql` && r.request().method() === 'POST'
    && (r.request().postData() || '').includes('__typename'));
  await page.locator('.graphiql-execute-button').click();
  const answer = await answered;
  assert.equal(answer.status(), 200);
  const result = page.locator('.graphiql-response .CodeMirror');
  await page.waitForFunction(() => /"__typename":\s*"Query"/.test(
    document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? ''), null, { timeout: 10_000 });
  assert.match(await result.evaluate((node) => node.CodeMirror.getValue()), /"data"/);

  assert.deepEqual(elsewhere, [], 'requests outside the server');
  assert.deepEqual(problems, [], 'console errors or CSP violations');
});
