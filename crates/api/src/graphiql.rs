//! GraphiQL, served by wijkpuls itself so that it works on a network without a CDN: a browser's
//! `GET /graphql` (no `query`, `Accept: text/html`) gets `assets/graphiql/index.html`, and
//! everything that page loads is under `/graphiql/assets/`, compiled into the binary with
//! `include_str!` — GraphiQL 3.8.3 and React 18.3.1, pinned, unmodified from the npm registry
//! (versions, hashes and licences in `assets/graphiql/README.md`), plus the page's own script
//! and style. Responses carry [`CONTENT_SECURITY_POLICY`], an `ETag` and `Cache-Control:
//! no-cache`, like the overview screen's.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::overview::{asset, serve, Asset};

/// Only this origin, as for the overview screen, except that GraphiQL's stylesheet embeds its
/// fonts and icons as `data:` URLs.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src data:; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Where the page's files are served.
pub const ASSETS_PATH: &str = "/graphiql/assets";

asset!(
    PAGE,
    "../assets/graphiql/index.html",
    "text/html; charset=utf-8",
    CONTENT_SECURITY_POLICY
);

/// The files under [`ASSETS_PATH`], by name.
static ASSETS: [(&str, &Asset); 6] = {
    asset!(
        GRAPHIQL_JS,
        "../assets/graphiql/graphiql.min.js",
        "text/javascript; charset=utf-8",
        CONTENT_SECURITY_POLICY,
        etag = "\"22faab94067b695e\""
    );
    asset!(
        GRAPHIQL_CSS,
        "../assets/graphiql/graphiql.min.css",
        "text/css; charset=utf-8",
        CONTENT_SECURITY_POLICY,
        etag = "\"b1868247f8e0502c\""
    );
    asset!(
        REACT,
        "../assets/graphiql/react.production.min.js",
        "text/javascript; charset=utf-8",
        CONTENT_SECURITY_POLICY,
        etag = "\"d949f1c3687aedad\""
    );
    asset!(
        REACT_DOM,
        "../assets/graphiql/react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        CONTENT_SECURITY_POLICY,
        etag = "\"35f4f974f4b2bcd4\""
    );
    asset!(
        PAGE_JS,
        "../assets/graphiql/graphiql-page.js",
        "text/javascript; charset=utf-8",
        CONTENT_SECURITY_POLICY
    );
    asset!(
        PAGE_CSS,
        "../assets/graphiql/graphiql-page.css",
        "text/css; charset=utf-8",
        CONTENT_SECURITY_POLICY
    );
    [
        ("graphiql.min.js", &GRAPHIQL_JS),
        ("graphiql.min.css", &GRAPHIQL_CSS),
        ("react.production.min.js", &REACT),
        ("react-dom.production.min.js", &REACT_DOM),
        ("graphiql-page.js", &PAGE_JS),
        ("graphiql-page.css", &PAGE_CSS),
    ]
};

/// The GraphiQL page (or `304`), for a browser's `GET /graphql`.
pub fn page(request: &HeaderMap) -> Response {
    let mut response = serve(&PAGE, request);
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// The routes of the page's files: `/graphiql/assets/{name}`.
pub fn router() -> Router {
    let mut router = Router::new();
    for (name, asset) in ASSETS.iter() {
        let asset: &'static Asset = asset;
        router = router.route(
            &format!("{ASSETS_PATH}/{name}"),
            get(move |headers: HeaderMap| async move { serve(asset, &headers) }),
        );
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_nothing_from_elsewhere_and_every_file_it_names_is_served() {
        assert!(
            !PAGE.body.contains("http://") && !PAGE.body.contains("https://"),
            "{}",
            PAGE.body
        );
        assert!(!PAGE.body.contains("//unpkg") && !PAGE.body.contains("<script>"));
        let referenced: Vec<&str> = PAGE
            .body
            .split(['"', '\''])
            .filter_map(|part| part.strip_prefix(ASSETS_PATH)?.strip_prefix('/'))
            .collect();
        assert_eq!(referenced.len(), ASSETS.len(), "{referenced:?}");
        for name in referenced {
            assert!(
                ASSETS.iter().any(|(served, _)| *served == name),
                "{name} is not served"
            );
        }
    }
}
