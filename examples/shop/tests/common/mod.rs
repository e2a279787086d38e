//! Helpers shared by the shop's tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use angzarr_core::proto::page_header::SequenceType;
use angzarr_core::proto::{CommandRequest, EventPage, MergeStrategy, PageHeader, SyncMode};
use angzarr_core::{AggregateKey, any};
use angzarr_runtime::authoring::command;
use prost::Name;

/// A request of one command, commutative.
pub fn request<M: Name>(domain: &str, root: uuid::Uuid, message: &M) -> CommandRequest {
    CommandRequest {
        command: Some(command(domain, root, "corr-test", message)),
        sync_mode: SyncMode::Async as i32,
        cascade_error_mode: 0,
        ..Default::default()
    }
}

/// A request of one command, strict, expecting `expected` as the next sequence.
pub fn strict<M: Name>(
    domain: &str,
    root: uuid::Uuid,
    expected: u32,
    message: &M,
) -> CommandRequest {
    let mut request = request(domain, root, message);
    let page = &mut request.command.as_mut().unwrap().pages[0];
    page.merge_strategy = MergeStrategy::MergeStrict as i32;
    page.header = Some(PageHeader {
        sequence_type: Some(SequenceType::Sequence(expected)),
    });
    request
}

/// The type names of `pages`' events.
pub fn types(pages: &[EventPage]) -> Vec<String> {
    pages
        .iter()
        .map(|p| match &p.payload {
            Some(angzarr_core::proto::event_page::Payload::Event(e)) => {
                any::type_name(&e.type_url).to_owned()
            }
            other => panic!("unexpected payload {other:?}"),
        })
        .collect()
}

/// Decodes the `M` in a page.
pub fn decode<M: Name + Default>(page: &EventPage) -> M {
    match &page.payload {
        Some(angzarr_core::proto::event_page::Payload::Event(e)) => any::unpack(e).unwrap(),
        other => panic!("unexpected payload {other:?}"),
    }
}

/// An aggregate key.
pub fn key(domain: &str, root: uuid::Uuid) -> AggregateKey {
    AggregateKey::new(domain, root).unwrap()
}
