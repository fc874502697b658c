// The city-wide overview screen (`GET /`) in a real browser: Debian's headless Chromium driven
// by playwright-core. Builds nothing: it runs the `wijkpuls` binary at $WIJKPULS_BIN (default
// target/debug/wijkpuls from the repository root) on a fresh SQLite database in a temporary
// folder, and drives changes through GraphQL over HTTP with an admin token.
//
//   cargo build && cd tests/browser && npm ci && node --test overview.test.mjs
//
// Screenshots go to tests/output/ (git-ignored): overview.png after the live scenario, and
// overview-demo-1920x1080.png / overview-demo-1280x800.png of a `--demo` server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { OUTPUT, freshDatabase, startServer, adminToken, openBrowser } from './support.mjs';

const LIVE_MS = 2000; // a change must show within this

/** The reference data of docs/domain.md: 8 gebieden, 24 wijken. */
const GEBIEDEN = [
  ['W1', 'Centrum-Spijkerkwartier-Arnhemse Broek', [['WK020201', 'Centrum'], ['WK020202', 'Spijkerkwartier'], ['WK020203', 'Arnhemse Broek']]],
  ['W2', 'Noordwest', [['WK020206', 'St. Marten/Sonsbeek'], ['WK020207', 'Klarendal'], ['WK020212', 'Burgemeesterswijk/Hoogkamp'], ['WK020213', 'Schaarsbergen'], ['WK020214', 'Heijenoord/Lombok'], ['WK020215', 'Klingelbeek e.o.']]],
  ['W3', 'Noordoost', [['WK020208', 'Velperweg e.o.'], ['WK020209', 'Alteveer/Cranevelt'], ['WK020210', 'Geitenkamp'], ['WK020211', 'Monnikenhuizen']]],
  ['W4', 'Presikhaaf', [['WK020204', 'Presikhaaf-West'], ['WK020205', 'Presikhaaf-Oost']]],
  ['W5', 'Malburgen', [['WK020216', 'Malburgen-West'], ['WK020217', 'Malburgen-Oost (Noord)'], ['WK020218', 'Malburgen-Oost (Zuid)']]],
  ['W6', 'Schuytgraaf-Elderveld', [['WK020221', 'Elderveld'], ['WK020224', 'Schuytgraaf']]],
  ['W7', 'Elden-De Laar', [['WK020220', 'Elden'], ['WK020222', 'De Laar']]],
  ['W8', 'Rijkerswoerd-Kronenburg-Vredenburg', [['WK020219', 'Vredenburg/Kronenburg'], ['WK020223', 'Rijkerswoerd']]],
];
const STATUS_LABELS = ['ingediend', 'verbonden', 'gefinancierd', 'afgerond', 'afgewezen', 'ingetrokken', 'doorverwezen'];
const YEAR = Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Amsterdam', year: 'numeric' }).format(new Date()));

// ---------------------------------------------------------------- the server

async function graphql(server, token, query, variables = {}) {
  const response = await fetch(`${server.base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const ALLOCATE = `mutation ($input: AllocateBudgetInput!) { allocateBudget(input: $input) { allocated } }`;
const SUBMIT = `mutation ($input: SubmitInitiativeInput!) { submitInitiative(input: $input) { initiative { id status } trackingCode } }`;
const FUND = `mutation ($input: FundInitiativeInput!) { fundInitiative(input: $input) { id status fundedAmount } }`;
const COMPLETE = `mutation ($input: CompleteInitiativeInput!) { completeInitiative(input: $input) { id status spentAmount } }`;

// ---------------------------------------------------------------- the browser

/** A page that records console errors, uncaught exceptions and every WebSocket frame. */
async function openPage(browser, viewport) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  const frames = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('websocket', (socket) => {
    socket.on('framereceived', (frame) => frames.push(String(frame.payload)));
    socket.on('framesent', (frame) => frames.push(String(frame.payload)));
  });
  return { page, problems, frames };
}

/** What the page shows: the city totals and every tile, as text (NBSP read as a space). */
function readView() {
  const text = (node) => (node ? node.textContent.replace(/\u00a0/g, ' ').replace(/\s+/g, ' ').trim() : null);
  const counts = (rows) => Object.fromEntries([...rows].map((row) => [text(row.querySelector('dt')), Number(text(row.querySelector('dd')))]));
  const tiles = {};
  for (const tile of document.querySelectorAll('article.wijk')) {
    tiles[tile.dataset.code] = {
      name: text(tile.querySelector('h4')),
      gebied: tile.closest('section.gebied')?.dataset.code,
      remaining: text(tile.querySelector('.wijk-remaining .amount')),
      spent: text(tile.querySelector('.line-spent dd')),
      committed: text(tile.querySelector('.line-committed dd')),
      allocated: text(tile.querySelector('.wijk-allocated')),
      allocatedValue: tile.querySelector('.wijk-allocated')?.value,
      counts: counts(tile.querySelectorAll('.wijk-status')),
      changed: tile.classList.contains('changed'),
    };
  }
  return {
    connection: document.getElementById('connection').dataset.state,
    ready: document.body.classList.contains('ready'),
    city: {
      allocated: text(document.getElementById('total-allocated')),
      allocatedValue: document.getElementById('total-allocated').value,
      committed: text(document.getElementById('total-committed')),
      spent: text(document.getElementById('total-spent')),
      remaining: text(document.getElementById('total-remaining')),
      counts: counts(document.querySelectorAll('#city-statuses .city-status')),
    },
    ticker: [...document.querySelectorAll('#ticker li')].map((li) => ({ position: li.dataset.position, text: text(li.querySelector('.ticker-text')) })),
    tiles,
  };
}

/** True when `actual` has every field of `expected` (deeply). */
function matches(expected, actual) {
  if (expected === null || typeof expected !== 'object') return expected === actual;
  if (actual === null || typeof actual !== 'object') return false;
  return Object.entries(expected).every(([key, value]) => matches(value, actual[key]));
}

/** The part of `actual` that `expected` speaks about (for messages). */
function pick(expected, actual) {
  if (expected === null || typeof expected !== 'object' || actual === null || typeof actual !== 'object') return actual;
  return Object.fromEntries(Object.keys(expected).map((key) => [key, pick(expected[key], actual[key])]));
}

/** Waits until the page shows `expected` (a part of readView()), at most `ms`. */
async function expectView(page, expected, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const view = await page.evaluate(readView);
    if (matches(expected, view)) return view;
    if (Date.now() > deadline) {
      assert.fail(`${what}: not shown within ${ms} ms.\nexpected ${JSON.stringify(expected)}\nshown    ${JSON.stringify(pick(expected, view))}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Every text on the page against its background: WCAG AA (4.5:1, large text 3:1). */
function contrastProblems() {
  const rgb = (value) => {
    const m = /rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)/.exec(value);
    return m ? { r: +m[1], g: +m[2], b: +m[3], a: m[4] === undefined ? 1 : +m[4] } : null;
  };
  const luminance = ({ r, g, b }) => {
    const channel = (c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const color = rgb(getComputedStyle(n).backgroundColor);
      if (color && color.a > 0.5) return color;
    }
    return rgb(getComputedStyle(document.documentElement).backgroundColor) || { r: 255, g: 255, b: 255 };
  };
  const problems = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let textNode = walker.nextNode(); textNode; textNode = walker.nextNode()) {
    const element = textNode.parentElement;
    if (!textNode.textContent.trim() || !element || !element.checkVisibility()) continue;
    const style = getComputedStyle(element);
    if (element.closest('.visually-hidden')) continue;
    const fg = rgb(style.color);
    const bg = background(element);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push(`${ratio.toFixed(2)}:1 "${textNode.textContent.trim().slice(0, 40)}" (${style.color} on rgb(${bg.r}, ${bg.g}, ${bg.b}))`);
  }
  return problems;
}

/** Layout faults: page wider than the screen, text cut off inside a tile. */
function layoutProblems() {
  const problems = [];
  const root = document.scrollingElement;
  if (root.scrollWidth > root.clientWidth) problems.push(`page scrolls sideways: ${root.scrollWidth} > ${root.clientWidth}`);
  for (const total of document.querySelectorAll('.total')) {
    const amount = total.querySelector('dd');
    if (amount.scrollWidth > amount.clientWidth + 1 || amount.getBoundingClientRect().right > total.getBoundingClientRect().right + 1) {
      problems.push(`city total "${amount.textContent}" does not fit`);
    }
  }
  for (const tile of document.querySelectorAll('article.wijk')) {
    for (const node of tile.querySelectorAll('h4, .amount, .amount-label, dd, dt')) {
      if (node.scrollWidth > node.clientWidth + 1 || node.getBoundingClientRect().right > tile.getBoundingClientRect().right + 1) {
        problems.push(`${tile.dataset.code}: "${node.textContent}" does not fit`);
      }
    }
  }
  return problems;
}

function assertShowsAllWijken(view, structure) {
  assert.equal(Object.keys(view.tiles).length, 24, 'all 24 wijken have a tile');
  assert.deepEqual(structure, GEBIEDEN.map(([code, name, wijken]) => ({ code, heading: `${code} ${name}`, wijken: wijken.map(([c]) => c) })), 'the wijken, grouped by gebied');
  for (const [code, , wijken] of GEBIEDEN) {
    for (const [wijk, name] of wijken) {
      assert.equal(view.tiles[wijk].name, name, `${wijk}'s name`);
      assert.equal(view.tiles[wijk].gebied, code, `${wijk} is in ${code}`);
      assert.deepEqual(Object.keys(view.tiles[wijk].counts), STATUS_LABELS, `${wijk} shows every status`);
    }
  }
}

/** The gebied sections in document order, with their heading and wijken. */
function readStructure() {
  return [...document.querySelectorAll('main section.gebied')].map((section) => ({
    code: section.dataset.code,
    heading: section.querySelector('h3').textContent.replace(/\s+/g, ' ').trim(),
    wijken: [...section.querySelectorAll('article.wijk')].map((tile) => tile.dataset.code),
  }));
}

const settle = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- the tests

test('the overview follows every change live, survives a server restart, and shows no personal data', { timeout: 180_000 }, async (t) => {
  mkdirSync(OUTPUT, { recursive: true });
  const databaseUrl = freshDatabase();
  let server = await startServer(databaseUrl);
  const token = await adminToken(databaseUrl);
  const browser = await openBrowser();
  const { page, problems, frames } = await openPage(browser, { width: 1920, height: 1080 });
  try {
    const response = await page.goto(`${server.base}/`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-type'], /^text\/html; charset=utf-8$/);
    assert.match(response.headers()['content-security-policy'], /connect-src 'self'/);
    assert.equal(await page.getAttribute('html', 'lang'), 'nl');

    // The 24 wijken in their 8 gebieden, the current year, nothing allocated yet.
    const empty = await expectView(page, { connection: 'connected', ready: true, city: { allocated: '€ 0', remaining: '€ 0' } }, 10_000, 'the first overview');
    assertShowsAllWijken(empty, await page.evaluate(readStructure));
    for (const yearText of await page.locator('.js-year').allTextContents()) assert.equal(yearText, String(YEAR));
    assert.equal(await page.locator('h1').count(), 1);
    assert.deepEqual(await page.locator('section.gebied h3').count(), 8);
    assert.deepEqual(await page.locator('section.gebied > article.wijk h4').count(), 24);

    // Anything reloading the page would lose this.
    await page.evaluate(() => {
      window.__overviewTestMarker = 'still the same page';
    });

    // Budget for Klarendal: the tile and the city totals follow.
    let sent = Date.now();
    await graphql(server, token, ALLOCATE, { input: { wijkCode: 'WK020207', year: YEAR, theme: 'GROEN', amount: '10000.00' } });
    await expectView(page, {
      tiles: { WK020207: { remaining: '€ 10.000', allocated: '€ 10.000', committed: '€ 0', spent: '€ 0', changed: true } },
      city: { allocated: '€ 10.000', remaining: '€ 10.000', committed: '€ 0', spent: '€ 0' },
    }, LIVE_MS - (Date.now() - sent), 'the allocation');

    // A submitted initiative counts in Klarendal and in the city.
    sent = Date.now();
    const submitted = await graphql(server, token, SUBMIT, {
      input: {
        wijkCode: 'WK020207',
        title: 'Moestuin Sonsbeekweg',
        description: 'Een moestuin voor de buurt aan de Sonsbeekweg.',
        theme: 'GROEN',
        requestedAmount: '1250.00',
        initiator: { name: 'Test Persoon', email: 'test@example.nl' },
      },
    });
    const initiativeId = submitted.submitInitiative.initiative.id;
    await expectView(page, {
      tiles: { WK020207: { counts: { ingediend: 1, gefinancierd: 0 } } },
      city: { counts: { ingediend: 1, totaal: 1 } },
    }, LIVE_MS - (Date.now() - sent), 'the submission');

    // Funding it: the tile, the totals and the ticker change within 2 s, without a reload.
    sent = Date.now();
    await graphql(server, token, FUND, { input: { initiativeId, amount: '1250.00', year: YEAR } });
    const funded = await expectView(page, {
      tiles: { WK020207: { remaining: '€ 8.750', committed: '€ 1.250', spent: '€ 0', allocated: '€ 10.000', counts: { ingediend: 0, gefinancierd: 1 }, changed: true } },
      city: { allocated: '€ 10.000', committed: '€ 1.250', spent: '€ 0', remaining: '€ 8.750', counts: { ingediend: 0, gefinancierd: 1, totaal: 1 } },
    }, LIVE_MS - (Date.now() - sent), 'the funding');
    await expectView(page, { ticker: [{ text: "Klarendal: initiatief 'Moestuin Sonsbeekweg' gefinancierd, € 1.250" }] }, LIVE_MS - (Date.now() - sent), 'the funding in the ticker');
    // Only the changed wijk lights up.
    const lit = Object.entries(funded.tiles).filter(([, tile]) => tile.changed).map(([code]) => code);
    assert.deepEqual(lit, ['WK020207'], 'only Klarendal highlights');
    assert.equal(await page.evaluate(() => window.__overviewTestMarker), 'still the same page', 'the page was not reloaded');
    assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1);
    await page.screenshot({ path: path.join(OUTPUT, 'overview.png') });

    // Restart: the indicator says so, the page reconnects by itself and shows the current state.
    const port = server.port;
    await server.stop();
    await expectView(page, { connection: 'disconnected' }, 5_000, 'the lost connection');
    assert.match(await page.locator('#connection').innerText(), /Geen verbinding/);
    await settle(2000); // down long enough for the page to try (and fail) a few times
    assert.notEqual((await page.evaluate(readView)).connection, 'connected', 'not connected while the server is down');
    server = await startServer(databaseUrl, { listen: `127.0.0.1:${port}` });
    sent = Date.now();
    await graphql(server, token, COMPLETE, { input: { initiativeId, spentAmount: '1000.00', report: 'De moestuin is aangelegd.' } });
    await expectView(page, {
      connection: 'connected',
      tiles: { WK020207: { remaining: '€ 9.000', committed: '€ 0', spent: '€ 1.000', counts: { gefinancierd: 0, afgerond: 1 } } },
      city: { committed: '€ 0', spent: '€ 1.000', remaining: '€ 9.000', counts: { afgerond: 1, totaal: 1 } },
    }, 15_000, 'the state after the restart');
    const restarted = await expectView(page, { ticker: [{ text: "Klarendal: initiatief 'Moestuin Sonsbeekweg' afgerond, besteed € 1.000" }] }, LIVE_MS, 'the ticker after the restart');
    const positions = restarted.ticker.map((line) => line.position);
    assert.equal(new Set(positions).size, positions.length, 'no ticker line twice');
    assert.equal(await page.evaluate(() => window.__overviewTestMarker), 'still the same page', 'the page was not reloaded');

    // And live again after the reconnect.
    sent = Date.now();
    await graphql(server, token, ALLOCATE, { input: { wijkCode: 'WK020201', year: YEAR, theme: 'CULTUUR', amount: '2500.75' } });
    await expectView(page, {
      // Whole euros on the screen (rounded), the exact amount in <data value>.
      tiles: { WK020201: { remaining: '€ 2.501', allocated: '€ 2.501', allocatedValue: '2500.75' } },
      city: { allocated: '€ 12.501', remaining: '€ 11.501', allocatedValue: '12500.75' },
    }, LIVE_MS - (Date.now() - sent), 'a change after the reconnect');

    // No personal data, on the page or on the wire.
    const html = await page.content();
    for (const secret of ['Test Persoon', 'test@example.nl']) {
      assert.ok(!html.includes(secret), `the page shows "${secret}"`);
      assert.ok(!frames.some((frame) => frame.includes(secret)), `a WebSocket frame carries "${secret}"`);
    }
    assert.ok(frames.some((frame) => frame.includes('"connection_ack"')), 'the page spoke graphql-transport-ws');

    assert.deepEqual(await page.evaluate(contrastProblems), [], 'text contrast');

    // Nothing went wrong in the page, except the browser's own note while the server was down.
    const refused = `console: WebSocket connection to 'ws://127.0.0.1:${port}/graphql/ws' failed: Error in connection establishment: net::ERR_CONNECTION_REFUSED`;
    const unexpected = problems.filter((problem) => problem !== refused);
    t.diagnostic(`${problems.length - unexpected.length} connection-refused message(s) while the server was down`);
    assert.deepEqual(unexpected, [], 'console errors');
  } catch (error) {
    await page.screenshot({ path: path.join(OUTPUT, 'overview-failure.png') }).catch(() => {});
    throw error;
  } finally {
    await server.stop();
  }
});

test('a demo year fits one wall screen, and works at 1280 px', { timeout: 240_000 }, async () => {
  mkdirSync(OUTPUT, { recursive: true });
  const server = await startServer(freshDatabase(), { demo: true });
  const browser = await openBrowser();
  const { page, problems, frames } = await openPage(browser, { width: 1920, height: 1080 });
  try {
    await page.goto(`${server.base}/`);
    const view = await expectView(page, { connection: 'connected', ready: true }, 10_000, 'the demo overview');
    await page.waitForFunction(() => document.querySelectorAll('#ticker li').length > 0, null, { timeout: 5_000 });
    assertShowsAllWijken(view, await page.evaluate(readStructure));
    const withBudget = Object.values(view.tiles).filter((tile) => tile.allocated !== '€ 0');
    assert.equal(withBudget.length, 24, 'the demo gives every wijk a budget this year');
    assert.notEqual(view.city.allocated, '€ 0');

    // The wall screen: everything at once, nothing cut off, readable contrast.
    await settle(3500); // let first-render highlights fade out
    const fits = await page.evaluate(() => ({ height: document.scrollingElement.scrollHeight, viewport: innerHeight }));
    assert.ok(fits.height <= fits.viewport, `1920×1080 shows everything without scrolling (${fits.height} > ${fits.viewport})`);
    assert.deepEqual(await page.evaluate(layoutProblems), [], 'layout at 1920×1080');
    assert.deepEqual(await page.evaluate(contrastProblems), [], 'contrast at 1920×1080');
    await page.screenshot({ path: path.join(OUTPUT, 'overview-demo-1920x1080.png') });

    // A laptop: fewer columns, it may scroll down but never sideways, and nothing is cut off.
    await page.setViewportSize({ width: 1280, height: 800 });
    await settle(500);
    assert.deepEqual(await page.evaluate(layoutProblems), [], 'layout at 1280×800');
    assertShowsAllWijken(await page.evaluate(readView), await page.evaluate(readStructure));
    await page.screenshot({ path: path.join(OUTPUT, 'overview-demo-1280x800.png'), fullPage: true });

    const text = await page.evaluate(() => document.body.innerText);
    assert.doesNotMatch(text, /@/, 'no e-mail addresses on the screen');
    assert.ok(!frames.some((frame) => /"(initiator|email|phone|actor)"\s*:\s*"/.test(frame)), 'no personal data on the wire');
    assert.deepEqual(problems, [], 'console errors');
  } catch (error) {
    await page.screenshot({ path: path.join(OUTPUT, 'overview-demo-failure.png'), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await server.stop();
  }
});
