//! `GET /v1/events/{domain}/{root}?from=&to=&limit=`: polling the events of
//! one aggregate, in place of a stream.
//!
//! The range is half-open, `from` inclusive and `to` exclusive — the same
//! as [`angzarr_core::LoadRange`] (the gateway asks
//! [`angzarr_runtime::EventQueries`] for the inclusive range `from..=to-1`).
//! `from` defaults to 0, `to` to the end, `limit` (events per answer) to the
//! configured page limit and is capped by it. The answer carries `next`: the
//! `from` of the next poll — one past the last event returned, or `from`
//! itself when nothing was returned.

use std::sync::Arc;

use angzarr_core::AggregateKey;
use angzarr_core::proto::query::Selection;
use angzarr_core::proto::{EventBook, Query as EventQuery, SequenceRange, SequenceSet};
use angzarr_core::store::page_sequence;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue};
use prost::Name;
use serde::Deserialize;

use crate::codec::{self, Format};
use crate::error::ApiError;
use crate::state::Shared;

/// The header carrying `next` in every answer (the only place protobuf
/// answers carry it).
pub const NEXT_HEADER: &str = "x-angzarr-next";

/// The query string of an events poll.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Window {
    from: Option<u32>,
    to: Option<u32>,
    limit: Option<u32>,
}

/// Answers the events of one aggregate in a window.
pub(crate) async fn handle(
    State(state): State<Arc<Shared>>,
    Path((domain, root)): Path<(String, String)>,
    window: Result<Query<Window>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = codec::accept_format(&headers, Format::Json)?;
    let Query(window) =
        window.map_err(|e| ApiError::invalid(format!("bad query string: {}", e.body_text())))?;
    let root = uuid::Uuid::parse_str(&root)
        .map_err(|e| ApiError::invalid(format!("the root `{root}` is not a UUID: {e}")))?;
    if !state.serves(&domain) {
        return Err(ApiError::invalid(format!("unknown domain `{domain}`")));
    }
    let key = AggregateKey::new(domain, root)?;

    let from = window.from.unwrap_or(0);
    let limit = match window.limit {
        Some(0) => return Err(ApiError::invalid("`limit` must be at least 1")),
        Some(limit) => limit.min(state.events_page_limit),
        None => state.events_page_limit,
    };
    let end = from.saturating_add(limit);
    let end = window.to.map_or(end, |to| to.min(end));
    let selection = if end > from {
        Selection::Range(SequenceRange {
            lower: from,
            upper: Some(end - 1),
        })
    } else {
        // An empty window: no events, but still the aggregate's next sequence.
        Selection::Sequences(SequenceSet::default())
    };
    let book = state
        .queries
        .get_event_book(EventQuery {
            cover: Some(key.cover("")),
            selection: Some(selection),
        })
        .await?;
    let next = book
        .pages
        .iter()
        .filter_map(page_sequence)
        .max()
        .map_or(from, |last| last.saturating_add(1));

    let mut response = match format {
        Format::Protobuf => codec::answer(&state.registry, &EventBook::full_name(), format, &book)?,
        Format::Json => {
            let book = codec::to_json(&state.registry, &EventBook::full_name(), &book)?;
            let body = serde_json::json!({ "book": book, "next": next });
            codec::with_type(body.to_string().into_bytes(), format)
        }
    };
    response.headers_mut().insert(
        HeaderName::from_static(NEXT_HEADER),
        HeaderValue::from(next),
    );
    Ok(response)
}
