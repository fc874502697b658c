//! The city-wide overview screen at `GET /`: one page for the wall of the city office that
//! shows every wijk live. It is three static files — `assets/overview/index.html`,
//! `overview.css` and `overview.js` — compiled into the binary with `include_str!`, so
//! `wijkpuls serve` alone serves it and there is no front-end build. The page itself holds no
//! data: its script opens `/graphql/ws` (`graphql-transport-ws`), subscribes to
//! `cityOverviewUpdated` and `publicEvents` without a token (public data only), renders
//! whatever arrives, and reconnects by itself. Every response carries a strict
//! `Content-Security-Policy` (only this origin; no inline script or style, which the page does
//! not use), `Cache-Control: no-cache` with an `ETag` (a browser revalidates and gets `304` until
//! a new binary ships other files) and `X-Content-Type-Options: nosniff`.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Only this origin, for everything the page loads or connects to. `connect-src 'self'` also
/// allows `ws:`/`wss:` to the same host and port (CSP Level 3; Chromium, Firefox and Safari do
/// so), which is all the script needs.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// One embedded file, and the `Content-Security-Policy` it is served with.
pub(crate) struct Asset {
    pub(crate) body: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) etag: &'static str,
    pub(crate) csp: &'static str,
}

/// `asset!(NAME, "path", "content type")` embeds a file served with the overview's
/// [`CONTENT_SECURITY_POLICY`]; a fourth argument names another policy.
macro_rules! asset {
    ($name:ident, $path:literal, $content_type:literal) => {
        $crate::overview::asset!(
            $name,
            $path,
            $content_type,
            $crate::overview::CONTENT_SECURITY_POLICY
        );
    };
    // A file too large to hash at compile time: its ETag is given (a pinned version's hash).
    ($name:ident, $path:literal, $content_type:literal, $csp:expr, etag = $etag:literal) => {
        static $name: $crate::overview::Asset = $crate::overview::Asset {
            body: include_str!($path),
            csp: $csp,
            content_type: $content_type,
            etag: $etag,
        };
    };
    ($name:ident, $path:literal, $content_type:literal, $csp:expr) => {
        static $name: $crate::overview::Asset = {
            const BODY: &str = include_str!($path);
            const HASH: [u8; 18] = $crate::overview::etag_of(BODY.as_bytes());
            $crate::overview::Asset {
                body: BODY,
                csp: $csp,
                content_type: $content_type,
                etag: match std::str::from_utf8(&HASH) {
                    Ok(etag) => etag,
                    Err(_) => panic!("an ETag is ASCII"),
                },
            }
        };
    };
}
pub(crate) use asset;

asset!(
    INDEX,
    "../assets/overview/index.html",
    "text/html; charset=utf-8"
);
asset!(
    STYLE,
    "../assets/overview/overview.css",
    "text/css; charset=utf-8"
);
asset!(
    SCRIPT,
    "../assets/overview/overview.js",
    "text/javascript; charset=utf-8"
);
asset!(ICON, "../assets/overview/favicon.svg", "image/svg+xml");

/// The overview's routes: `/`, `/overview.css`, `/overview.js` and `/favicon.svg`.
pub fn router() -> Router {
    Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move { serve(&INDEX, &headers) }),
        )
        .route(
            "/overview.css",
            get(|headers: HeaderMap| async move { serve(&STYLE, &headers) }),
        )
        .route(
            "/overview.js",
            get(|headers: HeaderMap| async move { serve(&SCRIPT, &headers) }),
        )
        .route(
            "/favicon.svg",
            get(|headers: HeaderMap| async move { serve(&ICON, &headers) }),
        )
}

/// The file, or `304 Not Modified` when the browser already has this version.
pub(crate) fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let fresh = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == asset.etag || tag == "*");
    let headers = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, HeaderValue::from_static(asset.etag)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(asset.csp),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (
        headers,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response()
}

/// A strong ETag, `"` + 16 hex digits of the FNV-1a hash of the bytes + `"`, computed at
/// compile time (it only has to change when the file does).
pub(crate) const fn etag_of(bytes: &[u8]) -> [u8; 18] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'"'; 18];
    let mut d = 0;
    while d < 16 {
        out[1 + d] = HEX[((hash >> (60 - 4 * d)) & 0xf) as usize];
        d += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One raw HTTP/1.1 request against the router on a real socket: status line, headers
    /// (lower-cased names) and body.
    async fn fetch(path: &str, extra: &str) -> (String, Vec<(String, String)>, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router()).await });
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        server.abort();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines.next().unwrap().to_owned();
        let headers = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        (status, headers, body.to_owned())
    }

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[tokio::test]
    async fn serves_the_page_and_its_assets_with_their_headers() {
        for (path, content_type, marker) in [
            ("/", "text/html; charset=utf-8", "<html lang=\"nl\">"),
            ("/overview.css", "text/css; charset=utf-8", ".wijk"),
            (
                "/overview.js",
                "text/javascript; charset=utf-8",
                "graphql-transport-ws",
            ),
            ("/favicon.svg", "image/svg+xml", "<svg"),
        ] {
            let (status, headers, body) = fetch(path, "").await;
            assert!(status.starts_with("HTTP/1.1 200"), "{path}: {status}");
            assert_eq!(get(&headers, "content-type"), Some(content_type), "{path}");
            assert_eq!(get(&headers, "cache-control"), Some("no-cache"), "{path}");
            assert_eq!(
                get(&headers, "content-security-policy"),
                Some(CONTENT_SECURITY_POLICY),
                "{path}"
            );
            assert_eq!(get(&headers, "x-content-type-options"), Some("nosniff"));
            assert!(body.contains(marker), "{path} lacks {marker}");
        }
    }

    #[tokio::test]
    async fn a_browser_with_the_current_version_gets_304() {
        let (_, headers, _) = fetch("/overview.js", "").await;
        let etag = get(&headers, "etag").unwrap().to_owned();
        assert_eq!(etag, SCRIPT.etag);
        let (status, headers, body) = fetch(
            "/overview.js",
            &format!("If-None-Match: W/\"0\", {etag}\r\n"),
        )
        .await;
        assert!(status.starts_with("HTTP/1.1 304"), "{status}");
        assert!(body.is_empty());
        assert_eq!(get(&headers, "etag"), Some(etag.as_str()));
        let (status, _, _) = fetch("/overview.js", "If-None-Match: \"0000\"\r\n").await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    }

    #[test]
    fn the_page_loads_only_its_own_files_and_no_inline_code() {
        let html = INDEX.body;
        assert!(html.contains(r#"<script src="/overview.js" defer></script>"#));
        assert!(html.contains(r#"<link rel="stylesheet" href="/overview.css">"#));
        // The policy forbids inline script and style: the page must not need them.
        assert_eq!(html.matches("<script").count(), 1);
        assert!(!html.contains("<style"));
        assert!(!html.contains(" style="));
        let handler = html.split(" on").skip(1).find(|rest| {
            let name_end = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            name_end > 0 && rest[name_end..].starts_with('=')
        });
        assert!(handler.is_none(), "no inline event handlers: on{handler:?}");
        assert!(
            !SCRIPT.body.contains("innerHTML"),
            "data goes in as text, never as markup"
        );
    }

    #[test]
    fn etags_differ_per_file_and_are_quoted_hex() {
        let tags = [INDEX.etag, STYLE.etag, SCRIPT.etag, ICON.etag];
        for tag in tags {
            assert_eq!(tag.len(), 18);
            assert!(tag.starts_with('"') && tag.ends_with('"'));
            assert!(tag[1..17].bytes().all(|b| b.is_ascii_hexdigit()));
        }
        let unique: std::collections::HashSet<_> = tags.iter().collect();
        assert_eq!(unique.len(), tags.len());
        assert_ne!(etag_of(b"a"), etag_of(b"b"));
    }
}
