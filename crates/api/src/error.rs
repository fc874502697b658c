//! Every refusal the API can give, and — in one place — the `extensions.code` and message a
//! client sees for it. Internal causes go to the log; the client gets a short, safe message.

use std::sync::Arc;

use wijkpuls_domain::DomainError;
use wijkpuls_event_store::StoreError;

/// A refusal: its [`code`](ApiError::code) and [`client_message`](ApiError::client_message) are
/// what the client gets.
///
/// Deliberately not `Display`: async-graphql turns any `Display` error into a bare message,
/// which would drop the code. Without it, `?` in a resolver can only go through
/// [`From<ApiError> for async_graphql::Error`](#impl-From<ApiError>-for-Error), which sets it.
#[derive(Debug, Clone)]
pub enum ApiError {
    Domain(DomainError),
    BadInput(String),
    NotFound(String),
    Unauthenticated(String),
    Forbidden(String),
    Conflict(String),
    RateLimited(String),
    /// The service cannot answer fully right now (e.g. a change was recorded but this server
    /// has not caught up with it in time); the message says what is known.
    Unavailable(String),
    Internal(Arc<anyhow::Error>),
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        ApiError::Domain(error)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Internal(Arc::new(error))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(conflict) => ApiError::Conflict(format!(
                "someone else changed this at the same moment; try again ({conflict})"
            )),
            StoreError::InvalidInput(message) => ApiError::BadInput(message),
            StoreError::EventTooLarge { limit, .. } => {
                ApiError::BadInput(format!("the input is too large (at most {limit} bytes)"))
            }
            other => ApiError::Internal(Arc::new(other.into())),
        }
    }
}

/// Declares [`ErrorCode`] from one list, so that [`ErrorCode::ALL`] and
/// [`ErrorCode::as_str`] cannot miss a variant.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident => $code:literal,)+) => {
        /// The `extensions.code` of a refusal: every code a client can get (the table in
        /// docs/api.md "Errors" lists them with when each is given).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the order of the table in docs/api.md.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code as the client reads it in `extensions.code`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }
        }
    };
}

error_codes! {
    /// The document is not GraphQL (a syntax error).
    GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
    /// The document does not fit the schema (an unknown field, a missing selection, ...).
    GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
    /// The input breaks a rule: a value or variable, or a request that never executed.
    BadUserInput => "BAD_USER_INPUT",
    /// A mutation or subscription names something that does not exist.
    NotFound => "NOT_FOUND",
    /// A bad token, or the public asking for what needs staff or an admin.
    Unauthenticated => "UNAUTHENTICATED",
    /// Signed in, but not allowed this (see [`crate::policy`]).
    Forbidden => "FORBIDDEN",
    /// Not allowed in the initiative's status.
    InvalidTransition => "INVALID_TRANSITION",
    /// More than remains on the budget line.
    BudgetExceeded => "BUDGET_EXCEEDED",
    /// Not recorded in time, or it exists already.
    Conflict => "CONFLICT",
    /// Past a limit per address or per connection.
    RateLimited => "RATE_LIMITED",
    /// Something broke on the server, or the change is not visible here in time.
    InternalServerError => "INTERNAL_SERVER_ERROR",
}

impl ApiError {
    /// The `extensions.code` the client gets for this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Domain(error) => match error {
                DomainError::InvalidTransition { .. } => ErrorCode::InvalidTransition,
                DomainError::BudgetExceeded { .. } | DomainError::AllocationBelowUse { .. } => {
                    ErrorCode::BudgetExceeded
                }
                DomainError::NotFound { .. } => ErrorCode::NotFound,
                DomainError::AlreadyExists { .. } => ErrorCode::Conflict,
                DomainError::Invalid { .. } | DomainError::InvalidReferenceData { .. } => {
                    ErrorCode::BadUserInput
                }
                DomainError::UnreadableEvent { .. } => ErrorCode::InternalServerError,
            },
            ApiError::BadInput(_) => ErrorCode::BadUserInput,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::RateLimited(_) => ErrorCode::RateLimited,
            ApiError::Unavailable(_) | ApiError::Internal(_) => ErrorCode::InternalServerError,
        }
    }

    /// What the client reads: the domain's own words, or a generic line for internal errors.
    pub fn client_message(&self) -> String {
        match self {
            ApiError::Domain(DomainError::UnreadableEvent { .. }) | ApiError::Internal(_) => {
                "something went wrong on our side; it has been logged".into()
            }
            ApiError::Domain(DomainError::Invalid { field, reason }) => {
                invalid_input_message(field, reason)
            }
            ApiError::Domain(error) => error.to_string(),
            ApiError::BadInput(m)
            | ApiError::NotFound(m)
            | ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::Conflict(m)
            | ApiError::RateLimited(m)
            | ApiError::Unavailable(m) => m.clone(),
        }
    }

    /// The whole story, for logs (may name internals; never sent to a client).
    pub fn detail(&self) -> String {
        match self {
            ApiError::Internal(inner) => format!("{inner:#}"),
            ApiError::Domain(error) => error.to_string(),
            other => other.client_message(),
        }
    }
}

/// A rule broken by one input value, in the API's words: the domain names its fields the Rust
/// way (`wijk_code`), the client knows them as the schema spells them (`wijkCode`). A reason
/// that quotes the value and says what it should look like (the codes, ids) stands alone.
fn invalid_input_message(field: &str, reason: &str) -> String {
    if reason.starts_with('"') {
        return reason.to_owned();
    }
    let field = match field {
        "tracking_code_hash" => "trackingCode".to_owned(),
        other => {
            let mut words = other.split('_');
            let first = words.next().unwrap_or_default().to_owned();
            words.fold(first, |mut name, word| {
                let mut chars = word.chars();
                if let Some(c) = chars.next() {
                    name.extend(c.to_uppercase());
                    name.push_str(chars.as_str());
                }
                name
            })
        }
    };
    format!("invalid {field}: {reason}")
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        let code = error.code();
        if code == ErrorCode::InternalServerError {
            tracing::error!(error = %error.detail(), "internal error");
        }
        use async_graphql::ErrorExtensions as _;
        async_graphql::Error::new(error.client_message())
            .extend_with(|_, ext| ext.set("code", code.as_str()))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Gives every error a code: errors raised before execution (parse, validation, variable
/// coercion — e.g. `"12.345"` as `Money`) come from async-graphql without one, and are always
/// the client's input; resolver errors already carry theirs (see [`ApiError::code`]).
pub struct ErrorCodes;

impl async_graphql::extensions::ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn async_graphql::extensions::Extension> {
        Arc::new(ErrorCodes)
    }
}

#[async_graphql::async_trait::async_trait]
impl async_graphql::extensions::Extension for ErrorCodes {
    async fn request(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        next: async_graphql::extensions::NextRequest<'_>,
    ) -> async_graphql::Response {
        with_codes(next.run(ctx).await)
    }

    /// A document that does not fit the schema is `GRAPHQL_VALIDATION_FAILED`; an argument
    /// whose value (literal or variable) is not of its type, or a query over the depth or
    /// complexity limit, is the input's fault, `BAD_USER_INPUT`.
    async fn validation(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        next: async_graphql::extensions::NextValidation<'_>,
    ) -> Result<async_graphql::ValidationResult, Vec<async_graphql::ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for error in &mut errors {
                let input = [
                    "Invalid value for argument",
                    "Query is too complex",
                    "Query is nested too deep",
                ];
                let code = if input.iter().any(|start| error.message.starts_with(start)) {
                    ErrorCode::BadUserInput
                } else {
                    ErrorCode::GraphqlValidationFailed
                };
                let extensions = error.extensions.get_or_insert_with(Default::default);
                if extensions.get("code").is_none() {
                    extensions.set("code", code.as_str());
                }
            }
            errors
        })
    }

    fn subscribe<'s>(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        stream: futures::stream::BoxStream<'s, async_graphql::Response>,
        next: async_graphql::extensions::NextSubscribe<'_>,
    ) -> futures::stream::BoxStream<'s, async_graphql::Response> {
        use futures::StreamExt as _;
        next.run(ctx, stream).map(with_codes).boxed()
    }
}

/// Codes every error of a response that has none as `BAD_USER_INPUT` (what
/// [`ErrorCodes`] does to every response).
pub(crate) fn with_codes(mut response: async_graphql::Response) -> async_graphql::Response {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", ErrorCode::BadUserInput.as_str());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes of the table in docs/api.md "Errors", in order.
    fn documented_codes() -> Vec<String> {
        let api = include_str!("../../../docs/api.md");
        let section = api
            .split("\n## Errors\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("docs/api.md has an Errors section");
        section
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split_once('`'))
            .map(|(code, _)| code.to_owned())
            .collect()
    }

    #[test]
    fn every_documented_code_is_a_variant_and_every_variant_is_documented() {
        let variants: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|code| code.as_str().to_owned())
            .collect();
        assert_eq!(documented_codes(), variants);
    }

    #[test]
    fn internal_causes_answer_with_the_internal_code_and_a_safe_message() {
        let error = ApiError::from(anyhow::anyhow!("disk /var/lib/wijkpuls is full"));
        assert_eq!(error.code(), ErrorCode::InternalServerError);
        assert!(!error.client_message().contains("/var/lib"));
        let graphql = async_graphql::Error::from(error);
        let code = graphql
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .cloned();
        assert_eq!(
            code,
            Some(async_graphql::Value::from("INTERNAL_SERVER_ERROR"))
        );
    }
}
