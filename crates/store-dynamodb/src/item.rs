//! Reading and writing item attributes.

use std::collections::HashMap;

use angzarr_core::{Error, Result};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

/// The partition key of every table.
pub(crate) const PK: &str = "pk";
/// The TTL attribute (epoch seconds) of the guard and rate-limit tables.
pub(crate) const TTL: &str = "ttl";

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn b(value: Vec<u8>) -> AttributeValue {
    AttributeValue::B(Blob::new(value))
}

fn missing(name: &str, what: &str) -> Error {
    Error::Corrupt(format!("item attribute `{name}` is missing or not {what}"))
}

/// A string attribute.
pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(missing(name, "a string")),
    }
}

/// A number attribute parsed as `T`.
pub(crate) fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| missing(name, "a number")),
        _ => Err(missing(name, "a number")),
    }
}

/// A binary attribute.
pub(crate) fn get_b<'a>(item: &'a Item, name: &str) -> Result<&'a [u8]> {
    match item.get(name) {
        Some(AttributeValue::B(value)) => Ok(value.as_ref()),
        _ => Err(missing(name, "binary")),
    }
}

/// A boolean attribute; absent is `false`.
pub(crate) fn get_flag(item: &Item, name: &str) -> bool {
    matches!(item.get(name), Some(AttributeValue::Bool(true)))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
