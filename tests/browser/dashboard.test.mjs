// The example dashboard (examples/dashboard: graphql-request, graphql-ws, codegen types) in a
// real browser, against `wijkpuls serve --demo`. The page is served from its own origin (another
// port), so the server is started with `--cors-origin` for it. Every panel must show what a
// direct GraphQL query answers; after an allocation and a submission the live panels follow
// within 2 s and the query panels load again.
//
//   cargo build && (cd examples/dashboard && npm ci && npm run build) &&
//   cd tests/browser && npm ci && node --test dashboard.test.mjs
//
// Screenshot: tests/output/dashboard.png (git-ignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { OUTPUT, repo, cleanups, freshDatabase, startServer, adminToken, openBrowser } from './support.mjs';

const DIST = path.join(repo, 'examples', 'dashboard', 'dist');
const WIJK = 'WK020207'; // Klarendal, in W2 Noordwest
const GEBIED = 'W2';
const LIVE_MS = 2000; // a live panel must show a change within this
const RELOAD_MS = 5000; // the query panels load again after the live overview moves on

// ---------------------------------------------------------------- the servers

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };

/** Serves examples/dashboard/dist on its own origin (http://127.0.0.1:PORT). */
async function serveDashboard() {
  assert.ok(existsSync(path.join(DIST, 'index.html')), `no ${DIST}/index.html: run npm ci && npm run build in examples/dashboard`);
  const server = http.createServer(async (request, response) => {
    const name = new URL(request.url, 'http://x').pathname.replace(/^\/$/, '/index.html');
    const file = path.join(DIST, path.normalize(name));
    if (!file.startsWith(DIST + path.sep) || !TYPES[path.extname(file)]) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': TYPES[path.extname(file)] }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${server.address().port}`;
}

async function graphql(server, query, variables = {}, token = null) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${server.base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

// What every panel should show, asked directly (written here, not taken from the example).
const TRUTH = `
  fragment B on Budget { year allocated committed spent remaining lines { theme allocated committed spent remaining } }
  query ($wijk: ID!, $gebied: ID!) {
    cityOverview {
      year position totals { ...B } initiativeCounts { total }
      recentEvents(limit: 10) { position type summary }
    }
    gebied(code: $gebied) { code name budget { ...B } }
    wijk(code: $wijk) {
      name budget { ...B } initiativeCounts { total }
      initiatives(first: 20) { totalCount nodes { id title status requestedAmount fundedAmount } }
    }
  }`;
const ALLOCATE = `mutation ($input: AllocateBudgetInput!) { allocateBudget(input: $input) { allocated } }`;
const SUBMIT = `mutation ($input: SubmitInitiativeInput!) { submitInitiative(input: $input) { initiative { id status } } }`;

/** The figures of a `Budget` as the page's budget panels hold them. */
function budgetView(budget) {
  const figures = ({ allocated, committed, spent, remaining }) => ({ allocated, committed, spent, remaining });
  return { year: String(budget.year), total: figures(budget), lines: Object.fromEntries(budget.lines.map((line) => [line.theme, figures(line)])) };
}

/** What the page should show, from the direct query's answer. */
function expectedView(truth) {
  const live = (budget, counts) => ({ allocated: budget.allocated, committed: budget.committed, spent: budget.spent, remaining: budget.remaining, initiatives: String(counts.total) });
  return {
    year: String(truth.cityOverview.year),
    liveCity: { ...live(truth.cityOverview.totals, truth.cityOverview.initiativeCounts), position: truth.cityOverview.position },
    liveWijk: { name: truth.wijk.name, ...live(truth.wijk.budget, truth.wijk.initiativeCounts) },
    city: budgetView(truth.cityOverview.totals),
    gebied: { name: `${truth.gebied.code} ${truth.gebied.name}`, ...budgetView(truth.gebied.budget) },
    wijk: { name: truth.wijk.name, ...budgetView(truth.wijk.budget) },
    initiatives: {
      total: String(truth.wijk.initiatives.totalCount),
      rows: truth.wijk.initiatives.nodes.map((node) => ({ id: node.id, title: node.title, status: node.status, requestedAmount: node.requestedAmount, fundedAmount: node.fundedAmount })),
    },
    events: truth.cityOverview.recentEvents.map(({ position, type, summary }) => ({ position, type, summary })),
  };
}

// ---------------------------------------------------------------- the page

/** What the dashboard shows: the exact values (`data-value`) and every amount's text. */
function readDashboard() {
  const byId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const value = (node) => node?.dataset.value ?? null;
  const text = (node) => (node ? node.textContent.replace(/[\u00a0\u202f]/g, ' ').replace(/\s+/g, ' ').trim() : null);
  const amounts = [];
  const money = (node) => {
    if (node?.dataset.value !== undefined) amounts.push({ value: node.dataset.value, text: text(node) });
    return value(node);
  };
  const figures = (row) => Object.fromEntries(['allocated', 'committed', 'spent', 'remaining'].map((field) => [field, money(row?.querySelector(`[data-field="${field}"]`))]));
  const budget = (id) => {
    const panel = byId(id);
    return {
      loaded: panel.dataset.loaded !== undefined,
      year: panel.dataset.year ?? null,
      total: figures(panel.querySelector('tr[data-total]')),
      lines: Object.fromEntries([...panel.querySelectorAll('tr[data-theme]')].map((row) => [row.dataset.theme, figures(row)])),
    };
  };
  const live = (prefix) => ({
    loaded: byId(prefix).dataset.loaded !== undefined,
    allocated: money(byId(`${prefix}-allocated`)),
    committed: money(byId(`${prefix}-committed`)),
    spent: money(byId(`${prefix}-spent`)),
    remaining: money(byId(`${prefix}-remaining`)),
    initiatives: value(byId(`${prefix}-initiatives`)),
  });
  const errors = [...document.querySelectorAll('[data-testid$="-error"]')].filter((node) => !node.hidden).map((node) => `${node.dataset.testid}: ${text(node)}`);
  return {
    connection: byId('connection').dataset.state,
    errors,
    year: text(byId('year')),
    liveCity: { ...live('live-city'), position: text(byId('live-city-position')) },
    liveWijk: { ...live('live-wijk'), name: text(byId('live-wijk-name')) },
    city: budget('city-budget'),
    gebied: { ...budget('gebied-budget'), name: text(byId('gebied-budget-name')) },
    wijk: { ...budget('wijk-budget'), name: text(byId('wijk-budget-name')) },
    initiatives: {
      loaded: byId('wijk-initiatives').dataset.loaded !== undefined,
      total: value(byId('wijk-initiatives-total')),
      rows: [...byId('wijk-initiatives').querySelectorAll('tr[data-id]')].map((row) => ({
        id: row.dataset.id,
        title: text(row.querySelector('[data-field="title"]')),
        status: row.dataset.status,
        requestedAmount: money(row.querySelector('[data-field="requestedAmount"]')),
        fundedAmount: money(row.querySelector('[data-field="fundedAmount"]')),
      })),
    },
    events: [...byId('recent-events').querySelectorAll('li[data-position]')].map((item) => ({
      position: item.dataset.position,
      type: item.dataset.type,
      summary: text(item.querySelector('[data-field="summary"]')),
    })),
    amounts,
  };
}

/** True when `actual` has every field of `expected` (deeply; arrays element by element, same length). */
function matches(expected, actual) {
  if (expected === null || typeof expected !== 'object') return expected === actual;
  if (actual === null || typeof actual !== 'object') return false;
  if (Array.isArray(expected) && (!Array.isArray(actual) || expected.length !== actual.length)) return false;
  return Object.entries(expected).every(([key, value]) => matches(value, actual[key]));
}

function pick(expected, actual) {
  if (expected === null || typeof expected !== 'object' || actual === null || typeof actual !== 'object') return actual;
  if (Array.isArray(expected)) return actual;
  return Object.fromEntries(Object.keys(expected).map((key) => [key, pick(expected[key], actual[key])]));
}

/** Waits until the page shows `expected` (a part of readDashboard()), at most `ms`. */
async function expectView(page, expected, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const view = await page.evaluate(readDashboard);
    if (matches(expected, view)) return view;
    if (Date.now() > deadline) {
      assert.fail(`${what}: not shown within ${ms} ms.\nexpected ${JSON.stringify(expected)}\nshown    ${JSON.stringify(pick(expected, view))}\npanel errors ${JSON.stringify(view.errors)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Layout faults: the page scrolls sideways, or a panel's content is wider than the panel. */
function layoutProblems() {
  const problems = [];
  const root = document.scrollingElement;
  if (root.scrollWidth > root.clientWidth) problems.push(`page scrolls sideways: ${root.scrollWidth} > ${root.clientWidth}`);
  for (const panel of document.querySelectorAll('.panel')) {
    if (panel.scrollWidth > panel.clientWidth + 1) problems.push(`${panel.dataset.testid}: ${panel.scrollWidth} px wide in ${panel.clientWidth} px`);
  }
  return problems;
}

/** Money as integer cents (exact), and back. */
const cents = (money) => {
  const [euros, fraction = ''] = money.split('.');
  return BigInt(euros) * 100n + BigInt(fraction.padEnd(2, '0'));
};
const money = (amount) => `${amount / 100n}.${String(amount % 100n).padStart(2, '0')}`;

const euro = new Intl.NumberFormat('nl-NL', { style: 'currency', currency: 'EUR' });
const spaces = (text) => text.replace(/[\u00a0\u202f]/g, ' ').replace(/\s+/g, ' ').trim();

// ---------------------------------------------------------------- the test

test('the example dashboard shows every panel from one query each and follows changes live, across origins', { timeout: 240_000 }, async () => {
  mkdirSync(OUTPUT, { recursive: true });
  const origin = await serveDashboard();
  const database = freshDatabase();
  const server = await startServer(database, { demo: true, args: ['--cors-origin', origin] });
  const token = await adminToken(database);
  const browser = await openBrowser();
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const problems = [];
  const sockets = [];
  const requests = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on('websocket', (socket) => sockets.push(socket.url()));
  page.on('request', (request) => requests.push({ method: request.method(), url: request.url() }));
  try {
    await page.goto(`${origin}/?api=${encodeURIComponent(server.base)}&wijk=${WIJK}`);

    // Every panel loaded, live connected, and each shows what a direct query answers.
    const before = await graphql(server, TRUTH, { wijk: WIJK, gebied: GEBIED });
    const expected = expectedView(before);
    const first = await expectView(page, {
      connection: 'connected',
      errors: [],
      ...expected,
      liveCity: { loaded: true, ...expected.liveCity },
      liveWijk: { loaded: true, ...expected.liveWijk },
      city: { loaded: true, ...expected.city },
      gebied: { loaded: true, ...expected.gebied },
      wijk: { loaded: true, ...expected.wijk },
      initiatives: { loaded: true, ...expected.initiatives },
    }, 15_000, 'the dashboard on the demo year');
    // Not just zeros: the demo year has budgets, initiatives and events.
    assert.ok(cents(before.cityOverview.totals.allocated) > 0n, 'the city has a budget');
    assert.ok(cents(before.wijk.budget.allocated) > 0n, 'the wijk has a budget');
    assert.equal(first.city.lines && Object.keys(first.city.lines).length, 8, 'every theme has a row');
    assert.ok(before.wijk.initiatives.totalCount > 0, 'the wijk has initiatives');
    assert.equal(first.events.length, 10, 'ten recent events');
    // Every amount reads as euros in Dutch, e.g. "€ 1.250,00".
    assert.ok(first.amounts.length > 100, `amounts shown: ${first.amounts.length}`);
    for (const { value, text } of first.amounts) assert.equal(text, spaces(euro.format(Number(value))), `the text of ${value}`);

    // It used the API of the other origin: over HTTP (so CORS allowed it) and over WebSocket.
    const api = requests.filter((request) => request.url === `${server.base}/graphql`);
    assert.ok(api.some((request) => request.method === 'POST'), 'queries went to the API');
    assert.deepEqual([...new Set(sockets)], [`ws://${server.addr}/graphql/ws`], 'one WebSocket endpoint');

    // An allocation in the wijk: both live panels within 2 s, then the query panels.
    const year = before.cityOverview.year;
    const groen = before.wijk.budget.lines.find((line) => line.theme === 'GROEN');
    const raised = money(cents(groen.allocated) + 100_000n); // + € 1.000,00
    let sent = Date.now();
    await graphql(server, ALLOCATE, { input: { wijkCode: WIJK, year, theme: 'GROEN', amount: raised } }, token);
    const plus = (amount) => money(cents(amount) + 100_000n);
    await expectView(page, {
      liveWijk: { allocated: plus(before.wijk.budget.allocated), remaining: plus(before.wijk.budget.remaining) },
      liveCity: { allocated: plus(before.cityOverview.totals.allocated), remaining: plus(before.cityOverview.totals.remaining) },
    }, LIVE_MS - (Date.now() - sent), 'the allocation in the live panels');
    await expectView(page, {
      wijk: { lines: { GROEN: { allocated: raised } }, total: { allocated: plus(before.wijk.budget.allocated) } },
      gebied: { total: { allocated: plus(before.gebied.budget.allocated) } },
      city: { total: { allocated: plus(before.cityOverview.totals.allocated) } },
      events: [{ type: 'BudgetAllocated' }, ...Array(9).fill({})],
    }, RELOAD_MS, 'the allocation in the query panels');

    // A new initiative in the wijk: counted live, listed first with its status.
    sent = Date.now();
    const submitted = await graphql(server, SUBMIT, {
      input: {
        wijkCode: WIJK,
        title: 'Bankjes op het Karel Doormanplein',
        description: 'Drie bankjes om elkaar te ontmoeten.',
        theme: 'WELZIJN',
        requestedAmount: '850.00',
        initiator: { name: 'Test Dashboard', email: 'dashboard@example.nl' },
      },
    });
    const id = submitted.submitInitiative.initiative.id;
    await expectView(page, {
      liveWijk: { initiatives: String(before.wijk.initiativeCounts.total + 1) },
      liveCity: { initiatives: String(before.cityOverview.initiativeCounts.total + 1) },
    }, LIVE_MS - (Date.now() - sent), 'the submission in the live panels');
    const others = Array(Math.min(before.wijk.initiatives.totalCount, 19)).fill({}); // a page is 20
    await expectView(page, {
      initiatives: { total: String(before.wijk.initiatives.totalCount + 1), rows: [{ id, status: 'SUBMITTED', title: 'Bankjes op het Karel Doormanplein', requestedAmount: '850.00', fundedAmount: null }, ...others] },
    }, RELOAD_MS, 'the submission in the initiatives panel');

    // And then the whole page agrees with a direct query again.
    const after = await graphql(server, TRUTH, { wijk: WIJK, gebied: GEBIED });
    await expectView(page, { errors: [], ...expectedView(after) }, RELOAD_MS, 'the dashboard after the changes');
    await page.screenshot({ path: path.join(OUTPUT, 'dashboard.png'), fullPage: true });
    assert.deepEqual(await page.evaluate(layoutProblems), [], 'layout at 1440 px');

    const html = await page.content();
    for (const secret of ['Test Dashboard', 'dashboard@example.nl']) assert.ok(!html.includes(secret), `the page shows "${secret}"`);
    assert.deepEqual(problems, [], 'nothing went wrong in the page');
  } catch (error) {
    await page.screenshot({ path: path.join(OUTPUT, 'dashboard-failure.png'), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await server.stop();
  }
});

test('without --cors-origin for its origin the browser refuses the queries, and each query panel says so', { timeout: 120_000 }, async () => {
  const origin = await serveDashboard();
  const server = await startServer(freshDatabase(), { demo: true });
  const browser = await openBrowser();
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/?api=${encodeURIComponent(server.base)}&wijk=${WIJK}`);
    const panels = ['city-budget', 'gebied-budget', 'wijk-budget', 'wijk-initiatives', 'recent-events'];
    await page.waitForFunction((ids) => ids.every((id) => !document.querySelector(`[data-testid="${id}-error"]`).hidden), panels, { timeout: 15_000 });
    for (const id of panels) {
      // The gebied panel waits for the wijk's gebied, so it says that the wijk did not load.
      const reason = id === 'gebied-budget' ? /the wijk did not load/ : /failed to fetch/i;
      assert.match(await page.locator(`[data-testid="${id}-error"]`).textContent(), reason, `${id} says why it is empty`);
      assert.equal(await page.locator(`[data-testid="${id}"]`).getAttribute('data-loaded'), null, `${id} shows no figures`);
    }
  } finally {
    await server.stop();
  }
});
