// The example dashboard: every panel is one GraphQL operation of src/operations.graphql, typed
// by GraphQL Code Generator (src/gql/, from ../../schema.graphql). Queries go over HTTP with
// graphql-request, the live panels over WebSocket with graphql-ws (`graphql-transport-ws`).
// When the live city overview reports a later event position, the query panels load again.

import { ClientError, GraphQLClient } from "graphql-request";
import { createClient } from "graphql-ws";
import { print } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { readConfig, type Config } from "./config";
import {
  CityBudgetDocument,
  GebiedBudgetDocument,
  LiveCityDocument,
  LiveWijkDocument,
  RecentEventsDocument,
  WijkBudgetDocument,
  WijkInitiativesDocument,
  type BudgetFiguresFragment,
  type CountsFragment,
  type InitiativeStatus,
  type LiveFiguresFragment,
  type Theme,
} from "./gql/graphql";

// Records over the schema's enums: when the schema adds a theme or a status, `tsc` fails here
// until it has a label.
const THEMES: Record<Theme, string> = {
  GROEN: "Groen",
  WIJKONDERHOUD: "Wijkonderhoud",
  SPEELTUINEN: "Speeltuinen",
  VEILIGHEID: "Veiligheid",
  WELZIJN: "Welzijn",
  PARTICIPATIE: "Participatie",
  SPORT: "Sport",
  CULTUUR: "Cultuur",
};
const STATUSES: Record<InitiativeStatus, string> = {
  SUBMITTED: "ingediend",
  CONNECTED: "verbonden",
  FUNDED: "gefinancierd",
  COMPLETED: "afgerond",
  REJECTED: "afgewezen",
  WITHDRAWN: "ingetrokken",
  REFERRED: "doorverwezen",
};
const RECENT_EVENTS = 10;
const INITIATIVES_PAGE = 20;

const euro = new Intl.NumberFormat("nl-NL", { style: "currency", currency: "EUR" });
const moment = new Intl.DateTimeFormat("nl-NL", { dateStyle: "medium", timeStyle: "short", timeZone: "Europe/Amsterdam" });

// ------------------------------------------------------------------ the page

function byTestId(id: string): HTMLElement {
  const element = document.querySelector<HTMLElement>(`[data-testid="${id}"]`);
  if (!element) throw new Error(`the page has no [data-testid="${id}"]`);
  return element;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attributes: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

/** Shows a `Money` value: formatted as text, the exact string in `data-value`. */
function showMoney(node: HTMLElement, value: string): void {
  if (node.dataset.value !== undefined && node.dataset.value !== value) flash(node);
  node.dataset.value = value;
  // Number() only to format it; sums stay with the server (Money is exact, floats are not).
  node.textContent = euro.format(Number(value));
}

function showCount(node: HTMLElement, value: number): void {
  if (node.dataset.value !== undefined && node.dataset.value !== String(value)) flash(node);
  node.dataset.value = String(value);
  node.textContent = String(value);
}

function flash(node: HTMLElement): void {
  node.classList.remove("changed");
  void node.offsetWidth; // restart the animation
  node.classList.add("changed");
}

function moneyCell(value: string | null, field: string): HTMLTableCellElement {
  const cell = element("td", undefined, { class: "money", "data-field": field });
  if (value === null) cell.textContent = "–";
  else showMoney(cell, value);
  return cell;
}

/** A header row: `text` columns of words, then columns of amounts (aligned right). */
function headerRow(text: string[], amounts: string[]): HTMLTableRowElement {
  const row = element("tr");
  for (const label of text) row.append(element("th", label, { scope: "col" }));
  for (const label of amounts) row.append(element("th", label, { class: "money", scope: "col" }));
  return row;
}

/** A budget panel: one row per theme, then the total. */
function showBudget(panel: HTMLElement, budget: BudgetFiguresFragment): void {
  const body = panel.querySelector("tbody")!;
  const rows = [headerRow(["Thema"], ["Toegekend", "Vastgelegd", "Besteed", "Beschikbaar"])];
  for (const line of budget.lines) {
    const row = element("tr", undefined, { "data-theme": line.theme });
    row.append(element("th", THEMES[line.theme], { scope: "row" }));
    row.append(moneyCell(line.allocated, "allocated"), moneyCell(line.committed, "committed"), moneyCell(line.spent, "spent"), moneyCell(line.remaining, "remaining"));
    rows.push(row);
  }
  const total = element("tr", undefined, { class: "total", "data-total": "" });
  total.append(element("td", "Totaal"));
  total.append(moneyCell(budget.allocated, "allocated"), moneyCell(budget.committed, "committed"), moneyCell(budget.spent, "spent"), moneyCell(budget.remaining, "remaining"));
  rows.push(total);
  body.replaceChildren(...rows);
  panel.dataset.year = String(budget.year);
  panel.dataset.loaded = "";
}

/** A live panel's figures (`prefix` is `live-city` or `live-wijk`). */
function showLive(prefix: string, budget: LiveFiguresFragment, counts: CountsFragment): void {
  showMoney(byTestId(`${prefix}-allocated`), budget.allocated);
  showMoney(byTestId(`${prefix}-committed`), budget.committed);
  showMoney(byTestId(`${prefix}-spent`), budget.spent);
  showMoney(byTestId(`${prefix}-remaining`), budget.remaining);
  showCount(byTestId(`${prefix}-initiatives`), counts.total);
  byTestId(prefix).dataset.loaded = "";
}

function showError(panel: string, error: unknown): void {
  const node = byTestId(`${panel}-error`);
  node.textContent = describe(error);
  node.hidden = false;
}

function clearError(panel: string): void {
  byTestId(`${panel}-error`).hidden = true;
}

/** An error in words, with the server's `extensions.code` when it gave one. */
function describe(error: unknown): string {
  if (error instanceof ClientError) {
    const first = error.response.errors?.[0];
    if (first) return `${first.message} (${String(first.extensions?.["code"] ?? "no code")})`;
    return `HTTP ${error.response.status}`;
  }
  if (Array.isArray(error)) return error.map(describe).join("; "); // graphql-ws: GraphQL errors
  if (error instanceof CloseEvent) return `verbinding gesloten (${error.code}${error.reason ? `: ${error.reason}` : ""})`;
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message);
  return String(error);
}

// ------------------------------------------------------------------ the panels

async function loadCityBudget(client: GraphQLClient, config: Config): Promise<bigint> {
  const data = await client.request(CityBudgetDocument, { year: config.year });
  showBudget(byTestId("city-budget"), data.cityOverview.totals);
  byTestId("year").textContent = String(data.cityOverview.year);
  return BigInt(data.cityOverview.position);
}

async function loadGebiedBudget(client: GraphQLClient, config: Config, code: string): Promise<void> {
  const data = await client.request(GebiedBudgetDocument, { code, year: config.year });
  if (!data.gebied) throw new Error(`there is no gebied ${code}`);
  byTestId("gebied-budget-name").textContent = `${data.gebied.code} ${data.gebied.name}`;
  showBudget(byTestId("gebied-budget"), data.gebied.budget);
}

/** Loads the wijk panel; answers the wijk's gebied. */
async function loadWijkBudget(client: GraphQLClient, config: Config): Promise<string> {
  const data = await client.request(WijkBudgetDocument, { code: config.wijk, year: config.year });
  if (!data.wijk) throw new Error(`there is no wijk ${config.wijk}`);
  byTestId("wijk-budget-name").textContent = data.wijk.name;
  showBudget(byTestId("wijk-budget"), data.wijk.budget);
  return data.wijk.gebied.code;
}

async function loadInitiatives(client: GraphQLClient, config: Config): Promise<void> {
  const data = await client.request(WijkInitiativesDocument, { code: config.wijk, first: INITIATIVES_PAGE });
  if (!data.wijk) throw new Error(`there is no wijk ${config.wijk}`);
  const panel = byTestId("wijk-initiatives");
  byTestId("wijk-initiatives-name").textContent = data.wijk.name;
  showCount(byTestId("wijk-initiatives-total"), data.wijk.initiatives.totalCount);
  const rows = [headerRow(["Initiatief", "Thema", "Status"], ["Gevraagd", "Toegekend"])];
  for (const initiative of data.wijk.initiatives.nodes) {
    const row = element("tr", undefined, { "data-id": initiative.id, "data-status": initiative.status });
    row.append(
      element("td", initiative.title, { "data-field": "title" }),
      element("td", THEMES[initiative.theme], { "data-field": "theme", "data-value": initiative.theme }),
      element("td", STATUSES[initiative.status], { "data-field": "status", "data-value": initiative.status }),
      moneyCell(initiative.requestedAmount, "requestedAmount"),
      moneyCell(initiative.fundedAmount, "fundedAmount"),
    );
    rows.push(row);
  }
  panel.querySelector("tbody")!.replaceChildren(...rows);
  panel.dataset.loaded = "";
}

async function loadRecentEvents(client: GraphQLClient, config: Config): Promise<void> {
  const data = await client.request(RecentEventsDocument, { year: config.year, limit: RECENT_EVENTS });
  const panel = byTestId("recent-events");
  const items = data.cityOverview.recentEvents.map((event) => {
    const item = element("li", undefined, { "data-position": event.position, "data-type": event.type });
    const time = element("time", moment.format(new Date(event.recordedAt)), { datetime: event.recordedAt });
    item.append(time, " ", element("span", event.summary, { "data-field": "summary" }));
    return item;
  });
  panel.querySelector("ol")!.replaceChildren(...items);
  panel.dataset.position = data.cityOverview.position;
  panel.dataset.loaded = "";
}

/** Runs one panel's load, showing its error in the panel instead of throwing. */
async function panel<T>(name: string, load: () => Promise<T>): Promise<T | undefined> {
  try {
    const result = await load();
    clearError(name);
    return result;
  } catch (error) {
    showError(name, error);
    return undefined;
  }
}

/** Loads every query panel; answers the event position the city panel shows. */
async function loadQueryPanels(client: GraphQLClient, config: Config): Promise<bigint | undefined> {
  const wijk = panel("wijk-budget", () => loadWijkBudget(client, config));
  const gebied = panel("gebied-budget", async () => {
    const code = config.gebied ?? (await wijk);
    if (code === undefined) throw new Error("the wijk did not load, so its gebied is unknown");
    await loadGebiedBudget(client, config, code);
  });
  const [position] = await Promise.all([
    panel("city-budget", () => loadCityBudget(client, config)),
    wijk,
    gebied,
    panel("wijk-initiatives", () => loadInitiatives(client, config)),
    panel("recent-events", () => loadRecentEvents(client, config)),
  ]);
  return position;
}

// ------------------------------------------------------------------ live

type Live = ReturnType<typeof createClient>;

/** Follows a typed subscription; `onData` gets every message's data. */
function follow<Result, Variables extends Record<string, unknown>>(
  ws: Live,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
  name: string,
  onData: (data: Result) => void,
): () => void {
  return ws.subscribe<Result>(
    { query: print(document), variables },
    {
      next: (message) => {
        if (message.errors?.length) showError(name, message.errors);
        else clearError(name);
        if (message.data) onData(message.data);
      },
      error: (error) => showError(name, error),
      complete: () => showError(name, new Error("the server ended the subscription")),
    },
  );
}

function start(config: Config): void {
  byTestId("api").textContent = config.http;
  const client = new GraphQLClient(config.http);
  const connection = byTestId("connection");
  const ws = createClient({
    url: config.ws,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    on: {
      connected: () => {
        connection.dataset.state = "connected";
        connection.textContent = "live";
      },
      closed: () => {
        connection.dataset.state = "closed";
        connection.textContent = "verbinding verbroken, opnieuw verbinden…";
      },
    },
  });

  // The query panels show the log up to `shown`; a later position from the live city overview
  // loads them again (one load at a time; changes meanwhile cause one more).
  let shown: bigint | undefined;
  let latest: bigint | undefined;
  let loading: Promise<void> | undefined;
  const refresh = (): void => {
    if (loading) return;
    loading = (async () => {
      do {
        const target = latest;
        const position = await loadQueryPanels(client, config);
        // The queries ran after `target` arrived, so they show at least that much.
        shown = position ?? target;
      } while (latest !== undefined && shown !== undefined && latest > shown);
    })().finally(() => {
      loading = undefined;
    });
  };
  refresh();

  follow(ws, LiveCityDocument, { year: config.year }, "live-city", ({ cityOverviewUpdated: city }) => {
    showLive("live-city", city.totals, city.initiativeCounts);
    byTestId("live-city-position").textContent = city.position;
    byTestId("live-city-as-of").textContent = city.asOf ? moment.format(new Date(city.asOf)) : "nog niets gebeurd";
    byTestId("year").textContent = String(city.year);
    latest = BigInt(city.position); // positions outgrow Number: compare as BigInt
    if (shown !== undefined && latest > shown) refresh();
  });
  follow(ws, LiveWijkDocument, { code: config.wijk, year: config.year }, "live-wijk", ({ wijkUpdated: wijk }) => {
    byTestId("live-wijk-name").textContent = wijk.name;
    showLive("live-wijk", wijk.budget, wijk.initiativeCounts);
  });
}

try {
  start(readConfig(window.location.search));
} catch (error) {
  const node = byTestId("config-error");
  node.textContent = describe(error);
  node.hidden = false;
  byTestId("connection").dataset.state = "error";
}
