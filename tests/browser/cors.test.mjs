// CORS in a real browser: a page served from another origin (another port) calls /graphql with
// fetch, a token and a JSON body (so the browser sends a preflight first). With that origin
// named (`--cors-origin`) the call succeeds; without any, or with only another origin named,
// the browser blocks it.
//
//   cargo build && cd tests/browser && npm ci && node --test cors.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { cleanups, freshDatabase, startServer, adminToken, openBrowser } from './support.mjs';

/** A page on its own origin (http://127.0.0.1:PORT), served by this process. */
async function dashboardOrigin() {
  const server = http.createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><title>dashboard</title><p>dashboard</p>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${server.address().port}`;
}

/** From a page of `origin`, POSTs `{ __typename }` to the API: what the page's script sees. */
async function callFromPage(browser, origin, api, token) {
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/`);
    return await page.evaluate(async ({ api, token }) => {
      try {
        const response = await fetch(`${api}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
        return { ok: true, status: response.status, body: await response.json() };
      } catch (error) {
        return { ok: false, error: String(error) };
      }
    }, { api, token });
  } finally {
    await page.close();
  }
}

async function serverFor(origins) {
  const database = freshDatabase();
  const args = origins.flatMap((origin) => ['--cors-origin', origin]);
  const server = await startServer(database, { args });
  return { server, token: await adminToken(database) };
}

test('a page of a named origin may call the API; other pages are blocked', { timeout: 120_000 }, async () => {
  const browser = await openBrowser();
  const dashboard = await dashboardOrigin();
  const elsewhere = await dashboardOrigin();

  const named = await serverFor([dashboard]);
  const allowed = await callFromPage(browser, dashboard, named.server.base, named.token);
  assert.deepEqual(allowed, { ok: true, status: 200, body: { data: { __typename: 'Query' } } });
  const other = await callFromPage(browser, elsewhere, named.server.base, named.token);
  assert.equal(other.ok, false, `a page of an origin not named is blocked: ${JSON.stringify(other)}`);

  const none = await serverFor([]);
  const blocked = await callFromPage(browser, dashboard, none.server.base, none.token);
  assert.equal(blocked.ok, false, `without --cors-origin the browser blocks the call: ${JSON.stringify(blocked)}`);
});
