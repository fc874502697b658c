// Where the dashboard gets its data and what it shows, from the page's query string:
//
//   ?api=http://127.0.0.1:8080&wijk=WK020207&gebied=W2&year=2026
//
// `api` is the wijkpuls server (default http://127.0.0.1:8080, what `wijkpuls serve` listens
// on). When the page is served from another origin, that server must be started with
// `--cors-origin` naming the page's origin. `gebied` defaults to the wijk's own gebied, `year`
// to the server's current year.

export interface Config {
  /** The GraphQL endpoint over HTTP, e.g. http://127.0.0.1:8080/graphql. */
  http: string;
  /** The GraphQL endpoint over WebSocket, e.g. ws://127.0.0.1:8080/graphql/ws. */
  ws: string;
  /** The wijk of the wijk panels (a CBS code). */
  wijk: string;
  /** The gebied of the gebied panel; null: the wijk's gebied. */
  gebied: string | null;
  /** The budget year; null: the server's current year. */
  year: number | null;
}

export const DEFAULT_API = "http://127.0.0.1:8080";
export const DEFAULT_WIJK = "WK020207";

/** Reads the configuration, or throws an Error saying what is wrong with it. */
export function readConfig(search: string): Config {
  const params = new URLSearchParams(search);
  let api: URL;
  try {
    api = new URL(params.get("api") ?? DEFAULT_API);
  } catch {
    throw new Error(`api=${params.get("api")} is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (api.protocol !== "http:" && api.protocol !== "https:") {
    throw new Error(`api=${api.href} must be an http: or https: URL`);
  }
  const base = api.href.replace(/\/+$/, "");
  const wijk = params.get("wijk") ?? DEFAULT_WIJK;
  if (!/^WK\d{6}$/.test(wijk)) {
    throw new Error(`wijk=${wijk} is not a CBS wijk code (WK followed by 6 digits, e.g. WK020207)`);
  }
  const gebied = params.get("gebied");
  if (gebied !== null && !/^W\d{1,3}$/.test(gebied)) {
    throw new Error(`gebied=${gebied} is not a gebied code (e.g. W2)`);
  }
  const yearText = params.get("year");
  const year = yearText === null ? null : Number(yearText);
  if (year !== null && !(Number.isInteger(year) && year >= 2000 && year <= 2100)) {
    throw new Error(`year=${yearText} is not a year from 2000 to 2100`);
  }
  return {
    http: `${base}/graphql`,
    ws: `${base.replace(/^http/, "ws")}/graphql/ws`,
    wijk,
    gebied,
    year,
  };
}
