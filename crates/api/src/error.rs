//! Every refusal the API can give, and — in one place — the `extensions.code` and message a
//! client sees for it. Internal causes go to the log; the client gets a short, safe message.

use std::sync::Arc;

use wijkpuls_domain::DomainError;
use wijkpuls_event_store::StoreError;

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

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Domain(error) => match error {
                DomainError::InvalidTransition { .. } => "INVALID_TRANSITION",
                DomainError::BudgetExceeded { .. } | DomainError::AllocationBelowUse { .. } => {
                    "BUDGET_EXCEEDED"
                }
                DomainError::NotFound { .. } => "NOT_FOUND",
                DomainError::AlreadyExists { .. } => "CONFLICT",
                DomainError::Invalid { .. } | DomainError::InvalidReferenceData { .. } => {
                    "BAD_USER_INPUT"
                }
                DomainError::UnreadableEvent { .. } => "INTERNAL_SERVER_ERROR",
            },
            ApiError::BadInput(_) => "BAD_USER_INPUT",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::RateLimited(_) => "RATE_LIMITED",
            ApiError::Unavailable(_) | ApiError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// What the client reads: the domain's own words, or a generic line for internal errors.
    pub fn client_message(&self) -> String {
        match self {
            ApiError::Domain(DomainError::UnreadableEvent { .. }) | ApiError::Internal(_) => {
                "something went wrong on our side; it has been logged".into()
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

    pub fn forbidden() -> ApiError {
        ApiError::Forbidden("you may not do this here".into())
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        let code = error.code();
        if code == "INTERNAL_SERVER_ERROR" {
            tracing::error!(error = %error.detail(), "internal error");
        }
        use async_graphql::ErrorExtensions as _;
        async_graphql::Error::new(error.client_message())
            .extend_with(|_, ext| ext.set("code", code))
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

fn with_codes(mut response: async_graphql::Response) -> async_graphql::Response {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
    }
    response
}
