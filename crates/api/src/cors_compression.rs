//! What every HTTP response gets on its way out: CORS for the origins an operator names (a
//! dashboard on another origin may call the API), and gzip or Brotli compression when the
//! client asks for it. Both wrap the whole router, in [`apply`].

use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::Router;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// An origin as a browser sends it in `Origin`, from [`parse_origin`].
pub type Origin = HeaderValue;

/// Bodies smaller than this go out as they are: compressing them saves less than it costs.
pub const MIN_COMPRESSED_SIZE: u16 = 1024;

/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// An origin a browser may call the API from: `scheme://host[:port]`, exactly as a browser
/// sends it in `Origin` (no path, no trailing slash, no wildcard).
pub fn parse_origin(text: &str) -> Result<Origin, String> {
    // Browsers send scheme and host in lower case.
    let text = text.trim().to_ascii_lowercase();
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(format!(
            "{text:?} is not an origin (scheme://host[:port], e.g. https://dashboard.example.nl)"
        ));
    };
    let host_ok = !rest.is_empty()
        && !rest.contains(['/', '?', '#', '*', '@'])
        && rest.chars().all(|c| c.is_ascii_graphic());
    if !matches!(scheme, "http" | "https") || !host_ok {
        return Err(format!(
            "{text:?} is not an origin (scheme://host[:port], no path or wildcard, e.g. \
             https://dashboard.example.nl)"
        ));
    }
    HeaderValue::from_str(&text).map_err(|_| format!("{text:?} is not an origin"))
}

/// The router with CORS (only when `cors_origins` names some) and negotiated compression.
pub fn apply(router: Router, cors_origins: &[Origin]) -> Router {
    // Not for small bodies, nor for a WebSocket upgrade (101, no body of its own), nor for
    // streams a client reads as they come.
    let predicate = SizeAbove::new(MIN_COMPRESSED_SIZE)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
        .and(NotForContentType::const_new("multipart/"))
        .and(|status: StatusCode, _, _: &_, _: &_| status != StatusCode::SWITCHING_PROTOCOLS);
    let router = router.layer(
        CompressionLayer::new()
            .gzip(true)
            .br(true)
            .compress_when(predicate),
    );
    if cors_origins.is_empty() {
        return router;
    }
    router.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(cors_origins.iter().cloned()))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([HeaderName::from_static("x-request-id")])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        for good in [
            "https://dashboard.example.nl",
            "http://127.0.0.1:8081",
            "HTTPS://Dashboard.Example.NL",
        ] {
            let origin = parse_origin(good).unwrap_or_else(|e| panic!("{good}: {e}"));
            assert_eq!(origin.to_str().unwrap(), good.to_ascii_lowercase());
        }
        for bad in [
            "*",
            "dashboard.example.nl",
            "https://dashboard.example.nl/",
            "https://dashboard.example.nl/path",
            "ftp://example.nl",
            "https://",
            "https://*.example.nl",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad} is refused");
        }
    }
}
