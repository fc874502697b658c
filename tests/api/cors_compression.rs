//! What responses get on their way out: CORS for the origins an operator names (none by
//! default), and gzip/br compression when the client asks for it, for bodies of 1 KiB and more.

use reqwest::header::{HeaderMap, ACCEPT_ENCODING, CONTENT_ENCODING, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use wijkpuls_api::cors_compression::parse_origin;

use crate::helpers::*;

backend_tests!(
    a_preflight_from_a_named_origin_is_answered,
    an_origin_not_named_gets_no_cors_headers,
    without_cors_origins_no_origin_is_allowed,
    gzip_is_used_when_asked_and_decodes_to_the_same_json,
    a_websocket_upgrade_is_not_compressed,
);

const DASHBOARD: &str = "https://dashboard.example.nl";
/// A query whose answer is several KiB (24 wijken with their gebied).
const WIJKEN: &str = "{ wijken { code name gebied { code name } budgetYears } }";

async fn with_origins(backend: Backend, origins: &[&str]) -> Option<TestApp> {
    let origins: Vec<_> = origins.iter().map(|o| parse_origin(o).unwrap()).collect();
    spawn_app_with(backend, move |config| config.cors_origins = origins).await
}

/// `OPTIONS /graphql` as a browser sends it before a POST with a token and a JSON body.
async fn preflight(app: &TestApp, origin: &str) -> (StatusCode, HeaderMap) {
    let response = app
        .client
        .request(Method::OPTIONS, app.url("/graphql"))
        .header(ORIGIN, origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("OPTIONS /graphql");
    (response.status(), response.headers().clone())
}

/// A POST of `{ __typename }` from a page of `origin`: its response headers.
async fn post_from(app: &TestApp, origin: &str) -> HeaderMap {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header(ORIGIN, origin)
        .bearer_auth(&app.admin_token)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("POST /graphql");
    assert_eq!(response.status(), 200);
    response.headers().clone()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn lists(headers: &HeaderMap, name: &str, wanted: &str) -> bool {
    header(headers, name)
        .unwrap_or_default()
        .split(',')
        .any(|v| v.trim().eq_ignore_ascii_case(wanted))
}

async fn a_preflight_from_a_named_origin_is_answered(backend: Backend) {
    let Some(app) = with_origins(backend, &["http://other.example.nl", DASHBOARD]).await else {
        return;
    };
    let (status, headers) = preflight(&app, DASHBOARD).await;
    assert!(status.is_success(), "the preflight is answered: {status}");
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some(DASHBOARD)
    );
    assert!(lists(&headers, "access-control-allow-methods", "POST"));
    for name in ["authorization", "content-type"] {
        assert!(
            lists(&headers, "access-control-allow-headers", name),
            "{name} may be sent: {headers:?}"
        );
    }
    let headers = post_from(&app, DASHBOARD).await;
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some(DASHBOARD)
    );
    assert!(
        lists(&headers, "access-control-expose-headers", "x-request-id"),
        "the page may read the request id: {headers:?}"
    );
}

async fn an_origin_not_named_gets_no_cors_headers(backend: Backend) {
    let Some(app) = with_origins(backend, &[DASHBOARD]).await else {
        return;
    };
    for origin in [
        "https://evil.example.nl",
        "https://dashboard.example.nl.evil.nl",
    ] {
        let (_, headers) = preflight(&app, origin).await;
        assert_eq!(header(&headers, "access-control-allow-origin"), None);
        let headers = post_from(&app, origin).await;
        assert_eq!(header(&headers, "access-control-allow-origin"), None);
    }
}

async fn without_cors_origins_no_origin_is_allowed(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (status, headers) = preflight(&app, DASHBOARD).await;
    assert!(!status.is_success(), "no preflight is answered: {status}");
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
    let headers = post_from(&app, DASHBOARD).await;
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
}

/// POSTs `query` asking for `encoding` (none: no Accept-Encoding): the Content-Encoding and
/// the raw body.
async fn post_encoded(
    app: &TestApp,
    query: &str,
    encoding: Option<&str>,
) -> (Option<String>, Vec<u8>) {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query }));
    if let Some(encoding) = encoding {
        request = request.header(ACCEPT_ENCODING, encoding);
    }
    let response = request.send().await.expect("POST /graphql");
    assert_eq!(response.status(), 200);
    let content_encoding = header(response.headers(), CONTENT_ENCODING.as_str()).map(str::to_owned);
    (content_encoding, response.bytes().await.unwrap().to_vec())
}

async fn gzip_is_used_when_asked_and_decodes_to_the_same_json(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (identity_encoding, identity) = post_encoded(&app, WIJKEN, None).await;
    assert_eq!(identity_encoding, None, "nothing asked, nothing compressed");
    assert!(
        identity.len() > 2048,
        "a body worth compressing: {} bytes",
        identity.len()
    );
    let plain: Value = serde_json::from_slice(&identity).unwrap();
    assert!(plain["errors"].is_null(), "{plain}");

    let (encoding, gzipped) = post_encoded(&app, WIJKEN, Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert!(
        gzipped.len() < identity.len() / 2,
        "{} → {} bytes",
        identity.len(),
        gzipped.len()
    );
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gzipped[..]),
        &mut decoded,
    )
    .expect("a gzip stream");
    assert_eq!(serde_json::from_slice::<Value>(&decoded).unwrap(), plain);

    let (encoding, _) = post_encoded(&app, WIJKEN, Some("br;q=1.0, gzip;q=0.5")).await;
    assert_eq!(
        encoding.as_deref(),
        Some("br"),
        "the client's preference is followed"
    );
    let (encoding, _) = post_encoded(&app, WIJKEN, Some("identity")).await;
    assert_eq!(encoding, None);
    // A small answer goes out as it is.
    let (encoding, small) = post_encoded(&app, "{ __typename }", Some("gzip")).await;
    assert_eq!(encoding, None, "{} bytes are not compressed", small.len());
}

async fn a_websocket_upgrade_is_not_compressed(backend: Backend) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut request = format!("ws://{}/graphql/ws", app.address)
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    headers.insert("accept-encoding", "gzip, br".parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the WebSocket opens although the client accepts gzip");
    assert_eq!(response.headers().get("content-encoding"), None);
    use futures::{SinkExt as _, StreamExt as _};
    socket
        .send(r#"{"type":"connection_init"}"#.into())
        .await
        .unwrap();
    let ack = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .expect("an answer in time")
        .expect("a message")
        .expect("a frame");
    assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
}
