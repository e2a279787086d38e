//! `POST /v1/commands`: a `CommandRequest`, in protobuf or JSON, routed to
//! its domain's aggregate.

use std::sync::Arc;

use angzarr_core::proto::{CommandRequest, CommandResponse};
use angzarr_core::{AggregateKey, Error};
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use prost::Name;

use crate::codec;
use crate::error::ApiError;
use crate::state::Shared;

/// Runs one command.
pub(crate) async fn handle(
    State(state): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let format = codec::content_format(&headers)?;
    let answer_format = codec::accept_format(&headers, format)?;
    let bytes = codec::read_body(body, state.max_body_bytes).await?;
    let request: CommandRequest = codec::decode(
        &state.registry,
        &CommandRequest::full_name(),
        format,
        &bytes,
    )?;
    let domain = check(&request, &state)?;
    tracing::debug!(%domain, "command");
    let response = state
        .router
        .send(request)
        .await
        .map_err(|error| match error {
            // Discovery knows no aggregate for the domain: the client named a
            // domain that does not exist here.
            Error::NotFound(message) => {
                ApiError::invalid(format!("unknown domain `{domain}`: {message}"))
            }
            other => other.into(),
        })?;
    codec::answer(
        &state.registry,
        &CommandResponse::full_name(),
        answer_format,
        &response,
    )
}

/// Checks what the gateway can check before routing: a command with a
/// cover naming a domain and a valid root, at least one page, and a domain
/// this gateway serves. Returns the domain.
fn check(request: &CommandRequest, state: &Shared) -> Result<String, ApiError> {
    let command = request
        .command
        .as_ref()
        .ok_or_else(|| ApiError::invalid("the request has no command"))?;
    let cover = command
        .cover
        .as_ref()
        .ok_or_else(|| ApiError::invalid("the command has no cover"))?;
    if cover.domain.is_empty() {
        return Err(ApiError::invalid("the command's cover has no domain"));
    }
    if cover.root.is_none() {
        return Err(ApiError::invalid("the command's cover has no root"));
    }
    // A bad root or domain (not 16 bytes, a `#` in the domain) is refused here.
    AggregateKey::from_cover(cover)?;
    if command.pages.is_empty() {
        return Err(ApiError::invalid("the command has no pages"));
    }
    if !state.serves(&cover.domain) {
        return Err(ApiError::invalid(format!(
            "unknown domain `{}`",
            cover.domain
        )));
    }
    Ok(cover.domain.clone())
}
