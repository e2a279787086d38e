//! Packing messages into `google.protobuf.Any`, and matching type URLs.
//!
//! Writers use `type.googleapis.com/<full.name>`. Readers match on the part
//! after the last `/` only, because some clients send other prefixes.

use prost::Name;
use prost_types::Any;

use crate::error::{Error, Result};

/// The prefix written in front of a message's full name.
pub const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// The full message name of a type URL: the part after the last `/`.
pub fn type_name(type_url: &str) -> &str {
    match type_url.rfind('/') {
        Some(slash) => &type_url[slash + 1..],
        None => type_url,
    }
}

/// Whether `any` holds a message of full name `name` (e.g. `shop.ItemAdded`).
pub fn is_type(any: &Any, name: &str) -> bool {
    type_name(&any.type_url) == name
}

/// Whether `any` holds an `M`.
pub fn is<M: Name>(any: &Any) -> bool {
    is_named::<M>(type_name(&any.type_url))
}

/// Whether `name` is `M`'s full name, `<package>.<name>` (or `<name>` without
/// a package) — compared piecewise, without building the full name: this
/// runs once per event folded.
fn is_named<M: Name>(name: &str) -> bool {
    if M::PACKAGE.is_empty() {
        return name == M::NAME;
    }
    name.strip_prefix(M::PACKAGE)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| rest == M::NAME)
}

/// Packs a message with the type URL `type.googleapis.com/<full name>`.
pub fn pack<M: Name>(message: &M) -> Any {
    let mut type_url =
        String::with_capacity(TYPE_URL_PREFIX.len() + M::PACKAGE.len() + 1 + M::NAME.len());
    type_url.push_str(TYPE_URL_PREFIX);
    if !M::PACKAGE.is_empty() {
        type_url.push_str(M::PACKAGE);
        type_url.push('.');
    }
    type_url.push_str(M::NAME);
    Any {
        type_url,
        value: message.encode_to_vec(),
    }
}

/// Unpacks an `M`, failing if the type does not match or the bytes do not decode.
pub fn unpack<M: Name + Default>(any: &Any) -> Result<M> {
    if !is::<M>(any) {
        return Err(Error::invalid_argument(format!(
            "expected a `{}`, got type URL `{}`",
            M::full_name(),
            any.type_url
        )));
    }
    M::decode(any.value.as_slice()).map_err(|e| {
        Error::invalid_argument(format!("malformed `{}` payload: {e}", M::full_name()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{AggregateRoot, Uuid as ProtoUuid};

    #[test]
    fn pack_unpack_round_trip() {
        let msg = AggregateRoot {
            domain: "order".into(),
            root: Some(ProtoUuid { value: vec![7; 16] }),
        };
        let any = pack(&msg);
        assert_eq!(any.type_url, "type.googleapis.com/angzarr.AggregateRoot");
        assert_eq!(unpack::<AggregateRoot>(&any).unwrap(), msg);
    }

    #[test]
    fn readers_match_on_the_part_after_the_last_slash() {
        let mut any = pack(&ProtoUuid { value: vec![1; 16] });
        any.type_url = "example.com/some/prefix/angzarr.UUID".into();
        assert!(is::<ProtoUuid>(&any));
        assert!(unpack::<ProtoUuid>(&any).is_ok());
        any.type_url = "angzarr.UUID".into();
        assert!(is::<ProtoUuid>(&any));
        assert_eq!(type_name("type.googleapis.com/a.B"), "a.B");
        for other in [
            "angzarr.UUIDs",
            "angzarrx.UUID",
            "angzarr",
            "UUID",
            "x/angzarr_UUID",
        ] {
            any.type_url = other.into();
            assert!(!is::<ProtoUuid>(&any), "{other}");
        }
    }

    #[test]
    fn wrong_type_or_bad_bytes_is_an_error() {
        let any = pack(&ProtoUuid { value: vec![1; 16] });
        assert!(unpack::<AggregateRoot>(&any).is_err());
        let garbage = Any {
            type_url: "type.googleapis.com/angzarr.AggregateRoot".into(),
            value: vec![0xff, 0xff, 0xff],
        };
        assert!(unpack::<AggregateRoot>(&garbage).is_err());
    }
}
