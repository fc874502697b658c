// The city-wide overview screen: subscribes to `cityOverviewUpdated` and `publicEvents` over
// graphql-transport-ws (plain WebSocket, no library) and keeps the page in step with them.
// Public data only: no token is sent and no personal data is asked for. Everything from the
// server goes into the page as text (textContent), never as markup.
'use strict';

(() => {
  const WS_PROTOCOL = 'graphql-transport-ws';
  const TIME_ZONE = 'Europe/Amsterdam';
  const TICKER_LINES = 8; // kept; the screen shows as many as fit
  const HEARTBEAT_MS = 10000; // send a ping this often
  const SILENCE_MS = 25000; // no message at all for this long: the connection is dead
  const ACK_TIMEOUT_MS = 10000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 8000;

  const STATUSES = [
    ['submitted', 'ingediend'],
    ['connected', 'verbonden'],
    ['funded', 'gefinancierd'],
    ['completed', 'afgerond'],
    ['rejected', 'afgewezen'],
    ['withdrawn', 'ingetrokken'],
    ['referred', 'doorverwezen'],
  ];

  const BUDGET = 'allocated committed spent remaining';
  const COUNTS = `${STATUSES.map(([key]) => key).join(' ')} total`;
  const OVERVIEW_QUERY = `subscription Overview($year: Int!) {
  cityOverviewUpdated(year: $year) {
    year position asOf
    totals { ${BUDGET} }
    initiativeCounts { ${COUNTS} }
    gebieden { code name budget(year: $year) { ${BUDGET} } wijken { code } }
    wijken { code name budget(year: $year) { ${BUDGET} } initiativeCounts { ${COUNTS} } }
  }
}`;
  const TICKER_QUERY = `subscription Ticker($first: Int!) {
  publicEvents(first: $first) { position kind occurredAt summary }
}`;

  // ---------------------------------------------------------------- formatting (Dutch)

  const wholeEuros = new Intl.NumberFormat('nl-NL');
  const timeOfDay = new Intl.DateTimeFormat('nl-NL', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit' });
  const dayOfYear = new Intl.DateTimeFormat('nl-NL', { timeZone: TIME_ZONE, day: 'numeric', month: 'short' });
  const dateKey = new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });

  /** A Money string ("1250.00") as integer cents (BigInt): exact, never floating point. */
  function cents(money) {
    const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(money));
    if (!match) return 0n;
    const value = BigInt(match[2]) * 100n + BigInt((match[3] || '0').padEnd(2, '0'));
    return match[1] ? -value : value;
  }

  /**
   * Dutch notation in whole euros, as a wall screen wants it: `€ 12.500` (rounded half up;
   * the exact amount goes in the `<data value>` around it, see setMoney).
   */
  function euros(money) {
    const value = cents(money);
    const whole = ((value < 0n ? -value : value) + 50n) / 100n;
    return `€\u00a0${value < 0n && whole > 0n ? '-' : ''}${wholeEuros.format(whole)}`;
  }

  /** Shows an amount in a `<data>` element: the text rounded, the value exact. */
  function setMoney(node, money) {
    node.value = String(money);
    node.textContent = euros(money);
  }

  /** The part of the whole, in percent (for drawing only). */
  function percent(part, whole) {
    if (whole <= 0n || part <= 0n) return 0;
    return Math.min(100, Number((part * 100000n) / whole) / 1000);
  }

  function currentYear() {
    return Number(dateKey.format(new Date()).slice(0, 4));
  }

  function when(iso) {
    const at = new Date(iso);
    if (Number.isNaN(at.getTime())) return '';
    const today = dateKey.format(new Date()) === dateKey.format(at);
    return today ? timeOfDay.format(at) : `${dayOfYear.format(at)} ${timeOfDay.format(at)}`;
  }

  // ---------------------------------------------------------------- DOM helpers

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** A name with a line-break opportunity after every `/` ("Burgemeesterswijk/Hoogkamp"). */
  function nameNode(tag, className, name) {
    const node = el(tag, className);
    String(name).split('/').forEach((part, i, parts) => {
      node.append(document.createTextNode(i < parts.length - 1 ? `${part}/` : part));
      if (i < parts.length - 1) node.append(document.createElement('wbr'));
    });
    return node;
  }

  function flash(node) {
    node.classList.remove('changed');
    void node.offsetWidth; // restart the animation
    node.classList.add('changed');
  }

  document.addEventListener('animationend', (event) => {
    if (event.target.classList.contains('changed')) event.target.classList.remove('changed');
  });

  /** A `<dl>` of the seven statuses; returns the `<dd>` per status key. */
  function statusList(list, className) {
    const cells = {};
    for (const [key, label] of STATUSES) {
      const row = el('div', `${className} status-${key}`);
      const term = el('dt', null, label);
      const value = el('dd', null, '–');
      row.append(term, value);
      list.append(row);
      cells[key] = { row, value };
    }
    return cells;
  }

  function setCounts(cells, counts) {
    for (const [key] of STATUSES) {
      const n = counts ? counts[key] : 0;
      cells[key].value.textContent = wholeEuros.format(n);
      cells[key].row.classList.toggle('zero', n === 0);
    }
  }

  function setBar(bar, budget) {
    const allocated = cents(budget.allocated);
    bar.spent.style.width = `${percent(cents(budget.spent), allocated)}%`;
    bar.committed.style.width = `${percent(cents(budget.committed), allocated)}%`;
  }

  function barRefs(node) {
    return { spent: node.querySelector('.bar-spent'), committed: node.querySelector('.bar-committed') };
  }

  // ---------------------------------------------------------------- the screen

  const $ = (id) => document.getElementById(id);
  const screen = {
    year: currentYear(),
    layoutKey: '',
    gebieden: new Map(), // code -> { el, size, head refs }
    tiles: new Map(), // wijk code -> refs
    citySignature: '',
    cityCells: null,
    cityBar: barRefs($('city-bar')),
    lastData: null,
    openedAt: null, // the position of the first overview this page showed (BigInt)
  };

  function showYear(year) {
    for (const node of document.querySelectorAll('.js-year')) node.textContent = String(year);
  }

  function buildCity() {
    const list = $('city-statuses');
    list.textContent = '';
    screen.cityCells = statusList(list, 'city-status');
    const total = el('div', 'city-status status-total');
    total.append(el('dt', null, 'totaal'), el('dd', null, '–'));
    list.append(total);
    screen.cityCells.total = { row: total, value: total.querySelector('dd') };
  }

  function renderCity(overview) {
    const { totals, initiativeCounts } = overview;
    setMoney($('total-allocated'), totals.allocated);
    setMoney($('total-committed'), totals.committed);
    setMoney($('total-spent'), totals.spent);
    setMoney($('total-remaining'), totals.remaining);
    setBar(screen.cityBar, totals);
    setCounts(screen.cityCells, initiativeCounts);
    screen.cityCells.total.value.textContent = wholeEuros.format(initiativeCounts.total);
    const signature = JSON.stringify([totals, initiativeCounts]);
    if (screen.citySignature && screen.citySignature !== signature) flash($('city-title').parentElement);
    screen.citySignature = signature;
  }

  function buildTile(wijk) {
    const tile = el('article', 'wijk');
    tile.dataset.code = wijk.code;
    const id = `wijk-${wijk.code}`;
    tile.setAttribute('aria-labelledby', id);

    const name = nameNode('h4', 'wijk-name', wijk.name);
    name.id = id;

    const money = el('div', 'wijk-money');
    const remaining = el('p', 'wijk-remaining');
    const remainingLabel = el('span', 'amount-label');
    const allocated = el('data', 'wijk-allocated');
    const remainingAmount = el('data', 'amount');
    remaining.append(remainingAmount, document.createTextNode(' '), remainingLabel);
    const bar = el('div', 'bar');
    bar.setAttribute('aria-hidden', 'true');
    bar.append(el('span', 'bar-spent'), el('span', 'bar-committed'));
    const lines = el('dl', 'wijk-lines');
    const line = (className, label) => {
      const row = el('div', className);
      const value = el('data');
      const dd = el('dd');
      dd.append(value);
      row.append(el('dt', null, label), dd);
      lines.append(row);
      return value;
    };
    const spent = line('line-spent', 'Besteed');
    const committed = line('line-committed', 'Vastgelegd');
    money.append(remaining, bar, lines);

    const statuses = el('dl', 'wijk-statuses');
    const cells = statusList(statuses, 'wijk-status');

    const body = el('div', 'wijk-body');
    body.append(money, statuses);
    tile.append(name, body);
    return { el: tile, name, remainingLabel, remainingAmount, bar: barRefs(bar), spent, committed, allocated, cells, signature: '' };
  }

  function renderTile(tile, wijk) {
    const { budget, initiativeCounts } = wijk;
    const signature = JSON.stringify([screen.year, budget, initiativeCounts]);
    if (signature === tile.signature) return;
    const noBudget = cents(budget.allocated) === 0n;
    tile.el.classList.toggle('no-budget', noBudget);
    setMoney(tile.remainingAmount, budget.remaining);
    setMoney(tile.allocated, budget.allocated);
    if (noBudget) {
      tile.remainingLabel.replaceChildren(`budget ${screen.year}`);
      tile.remainingAmount.textContent = 'geen';
    } else {
      tile.remainingLabel.replaceChildren('resterend van ', tile.allocated);
    }
    setMoney(tile.spent, budget.spent);
    setMoney(tile.committed, budget.committed);
    setBar(tile.bar, budget);
    setCounts(tile.cells, initiativeCounts);
    if (tile.signature) flash(tile.el);
    tile.signature = signature;
  }

  /** (Re)builds the gebied sections and tiles when the set of wijken changes. */
  function buildGebieden(overview) {
    const container = $('gebieden');
    container.textContent = '';
    screen.gebieden.clear();
    screen.tiles.clear();
    const names = new Map(overview.wijken.map((w) => [w.code, w]));
    for (const gebied of overview.gebieden) {
      const section = el('section', 'gebied');
      section.dataset.code = gebied.code;
      const headingId = `gebied-${gebied.code}`;
      section.setAttribute('aria-labelledby', headingId);
      const head = el('header', 'gebied-head');
      const title = el('h3', 'gebied-name');
      title.id = headingId;
      title.append(el('span', 'gebied-code', gebied.code), document.createTextNode(' '), nameNode('span', null, gebied.name));
      const summary = el('p', 'gebied-summary');
      head.append(title, summary);
      section.append(head);
      for (const { code } of gebied.wijken) {
        const wijk = names.get(code);
        if (!wijk) continue;
        const tile = buildTile(wijk);
        screen.tiles.set(code, tile);
        section.append(tile.el);
      }
      container.append(section);
      screen.gebieden.set(gebied.code, { el: section, summary, size: gebied.wijken.length, signature: '' });
    }
    layout();
  }

  function renderGebied(gebied) {
    const refs = screen.gebieden.get(gebied.code);
    if (!refs) return;
    const signature = JSON.stringify([screen.year, gebied.budget]);
    if (signature === refs.signature) return;
    refs.signature = signature;
    refs.summary.textContent = cents(gebied.budget.allocated) === 0n
      ? `geen budget ${screen.year}`
      : `resterend ${euros(gebied.budget.remaining)} van ${euros(gebied.budget.allocated)}`;
  }

  /**
   * Places the gebieden on a grid of as many tile columns as fit: each gebied spans one column
   * per wijk (at most all), and the gebieden are packed into as few rows as possible (first
   * fit, largest first), rows in the order of their first gebied. Arnhem's 24 wijken in 8
   * gebieden fill 4 rows of 6 exactly on a wall screen.
   */
  function layout() {
    const grid = $('gebieden');
    if (!screen.gebieden.size) return;
    const style = getComputedStyle(grid);
    const gap = parseFloat(style.columnGap) || 16;
    const minTile = parseFloat(style.getPropertyValue('--tile-min')) || 280;
    const cols = Math.max(1, Math.floor((grid.clientWidth + gap) / (minTile + gap)));
    const items = [...screen.gebieden.values()].map((g, order) => ({ g, order, span: Math.min(Math.max(g.size, 1), cols) }));
    const rows = [];
    for (const item of [...items].sort((a, b) => b.span - a.span || a.order - b.order)) {
      let row = rows.find((r) => r.used + item.span <= cols);
      if (!row) rows.push((row = { used: 0, items: [] }));
      row.items.push(item);
      row.used += item.span;
    }
    for (const row of rows) row.items.sort((a, b) => a.order - b.order);
    rows.sort((a, b) => a.items[0].order - b.items[0].order);
    grid.style.setProperty('--cols', String(cols));
    rows.forEach((row, r) => {
      let column = 1;
      for (const item of row.items) {
        item.g.el.style.gridRow = String(r + 1);
        item.g.el.style.gridColumn = `${column} / span ${item.span}`;
        item.g.el.style.setProperty('--span', String(item.span));
        column += item.span;
      }
    });
  }

  function renderOverview(overview) {
    screen.lastData = overview;
    if (screen.openedAt === null) screen.openedAt = BigInt(overview.position);
    if (overview.year !== screen.year) return; // an answer to an old subscription
    showYear(overview.year);
    const names = new Map(overview.wijken.map((w) => [w.code, w.name]));
    const key = JSON.stringify(overview.gebieden.map((g) => [g.code, g.name, g.wijken.map((w) => [w.code, names.get(w.code)])]));
    if (key !== screen.layoutKey) {
      buildGebieden(overview);
      screen.layoutKey = key;
    }
    renderCity(overview);
    for (const gebied of overview.gebieden) renderGebied(gebied);
    for (const wijk of overview.wijken) {
      const tile = screen.tiles.get(wijk.code);
      if (tile) renderTile(tile, wijk);
    }
    $('as-of').textContent = overview.asOf ? `Laatste wijziging: ${when(overview.asOf)}` : 'Nog geen wijzigingen';
    document.body.dataset.position = String(overview.position);
    document.body.classList.add('ready');
  }

  // ---------------------------------------------------------------- the ticker

  const ticker = {
    list: $('ticker'),
    shown: new Set(), // positions in the list
    newest: -1n, // the highest position ever shown
    replacing: false, // the next line starts a fresh list (a new subscription's backlog)
  };

  function addEvent(event) {
    const position = BigInt(event.position);
    if (ticker.replacing) {
      ticker.list.textContent = '';
      ticker.shown.clear();
      ticker.replacing = false;
    }
    if (ticker.shown.has(event.position)) return;
    const item = el('li', 'ticker-item');
    item.dataset.position = event.position;
    item.dataset.kind = event.kind;
    const time = el('time', 'ticker-time', when(event.occurredAt));
    time.dateTime = event.occurredAt;
    item.append(time, el('span', 'ticker-text', event.summary));
    // Newest on top; keep the list in position order even if lines come out of order.
    const after = [...ticker.list.children].find((li) => BigInt(li.dataset.position) < position);
    ticker.list.insertBefore(item, after || null);
    ticker.shown.add(event.position);
    while (ticker.list.children.length > TICKER_LINES) {
      ticker.shown.delete(ticker.list.lastElementChild.dataset.position);
      ticker.list.lastElementChild.remove();
    }
    // News (after what the screen showed when it opened, and not shown before) highlights.
    const opened = screen.openedAt;
    if (opened !== null && position > opened && position > ticker.newest) flash(item);
    if (position > ticker.newest) ticker.newest = position;
  }

  // ---------------------------------------------------------------- graphql-transport-ws

  const connection = {
    socket: null,
    attempt: 0,
    sequence: 0,
    retryTimer: 0,
    ackTimer: 0,
    heartbeat: 0,
    lastMessage: 0,
    acked: false,
    active: new Map(), // operation id -> subscription
  };

  const subscriptions = [
    {
      name: 'overview',
      payload: () => ({ query: OVERVIEW_QUERY, variables: { year: screen.year } }),
      next: (data) => renderOverview(data.cityOverviewUpdated),
      start: () => {},
    },
    {
      name: 'ticker',
      payload: () => ({ query: TICKER_QUERY, variables: { first: TICKER_LINES } }),
      next: (data) => addEvent(data.publicEvents),
      start: () => {
        ticker.replacing = true;
      },
    },
  ];

  function setState(state, text) {
    const node = $('connection');
    node.dataset.state = state;
    $('connection-label').textContent = text;
    document.body.classList.toggle('offline', state !== 'connected');
  }

  function send(socket, message) {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function subscribe(socket, subscription) {
    connection.sequence += 1;
    const id = `${subscription.name}-${connection.sequence}`;
    connection.active.set(id, subscription);
    subscription.start();
    send(socket, { id, type: 'subscribe', payload: subscription.payload() });
  }

  function resubscribeLater(socket, subscription, ms) {
    setTimeout(() => {
      if (connection.socket === socket && connection.acked) subscribe(socket, subscription);
    }, ms);
  }

  function clearTimers() {
    clearTimeout(connection.retryTimer);
    clearTimeout(connection.ackTimer);
    clearInterval(connection.heartbeat);
  }

  function connect() {
    clearTimers();
    if (connection.socket) return;
    setState('connecting', 'Verbinden…');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${location.host}/graphql/ws`, WS_PROTOCOL);
    } catch (error) {
      reconnectLater();
      return;
    }
    connection.socket = socket;
    connection.acked = false;
    connection.active.clear();
    socket.onopen = () => {
      connection.lastMessage = Date.now();
      send(socket, { type: 'connection_init', payload: {} });
      connection.ackTimer = setTimeout(() => drop(socket), ACK_TIMEOUT_MS);
    };
    socket.onmessage = (event) => receive(socket, event.data);
    socket.onclose = () => {
      if (connection.socket === socket) drop(socket);
    };
    // A failed connection also closes; `close` handles it.
    socket.onerror = () => {};
  }

  /** Gives up on this socket (closed, silent or broken) and schedules a new one. */
  function drop(socket) {
    if (connection.socket !== socket) return;
    connection.socket = null;
    connection.acked = false;
    connection.active.clear();
    socket.onopen = socket.onmessage = socket.onclose = null;
    try {
      socket.close(1000);
    } catch (error) {
      // already closing
    }
    reconnectLater();
  }

  function reconnectLater() {
    clearTimers();
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** connection.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    connection.attempt += 1;
    setState('disconnected', `Geen verbinding · opnieuw over ${Math.max(1, Math.round(delay / 1000))} s`);
    connection.retryTimer = setTimeout(connect, delay);
  }

  function receive(socket, raw) {
    if (connection.socket !== socket) return;
    connection.lastMessage = Date.now();
    let message;
    try {
      message = JSON.parse(raw);
    } catch (error) {
      drop(socket);
      return;
    }
    switch (message.type) {
      case 'connection_ack':
        clearTimeout(connection.ackTimer);
        connection.acked = true;
        connection.attempt = 0;
        setState('connected', 'Live verbonden');
        for (const subscription of subscriptions) subscribe(socket, subscription);
        connection.heartbeat = setInterval(() => {
          if (Date.now() - connection.lastMessage > SILENCE_MS) drop(socket);
          else send(socket, { type: 'ping' });
        }, HEARTBEAT_MS);
        break;
      case 'ping':
        send(socket, { type: 'pong' });
        break;
      case 'pong':
        break;
      case 'next': {
        const subscription = connection.active.get(message.id);
        if (!subscription) break;
        const payload = message.payload || {};
        if (payload.data) subscription.next(payload.data);
        else if (payload.errors) failed(socket, message.id, subscription, payload.errors, true);
        break;
      }
      case 'error': {
        const subscription = connection.active.get(message.id);
        if (subscription) failed(socket, message.id, subscription, message.payload, false);
        break;
      }
      case 'complete': {
        // The server ended a subscription (it should not): start it again.
        const subscription = connection.active.get(message.id);
        connection.active.delete(message.id);
        if (subscription) resubscribeLater(socket, subscription, 1000);
        break;
      }
      default:
        drop(socket);
    }
  }

  /** A subscription that went wrong: say so, and try it again in a while. */
  function failed(socket, id, subscription, errors, stillOpen) {
    connection.active.delete(id);
    if (stillOpen) send(socket, { id, type: 'complete' });
    const text = Array.isArray(errors) && errors[0] && errors[0].message ? errors[0].message : 'onbekende fout';
    setState('error', `Fout: ${text}`);
    console.warn('wijkpuls: subscription failed', errors);
    resubscribeLater(socket, subscription, 5000);
  }

  // ---------------------------------------------------------------- start

  buildCity();
  showYear(screen.year);
  window.addEventListener('resize', () => {
    clearTimeout(screen.resizeTimer);
    screen.resizeTimer = setTimeout(layout, 100);
  });
  window.addEventListener('online', () => {
    if (!connection.socket) connect();
  });
  window.addEventListener('offline', () => {
    if (connection.socket) drop(connection.socket);
  });
  // A new year: subscribe to its budgets.
  setInterval(() => {
    const year = currentYear();
    if (year === screen.year) return;
    screen.year = year;
    showYear(year);
    if (connection.socket) drop(connection.socket);
  }, 60000);
  // Refresh "today"/dates in relative time labels now and then.
  setInterval(() => {
    if (screen.lastData && screen.lastData.asOf) $('as-of').textContent = `Laatste wijziging: ${when(screen.lastData.asOf)}`;
  }, 60000);
  connect();
})();
