//! Identifiers: wire UUIDs and the key of one aggregate.

use std::fmt;

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::proto::{Cover, EventBook, Uuid as ProtoUuid};

impl From<Uuid> for ProtoUuid {
    fn from(id: Uuid) -> Self {
        ProtoUuid {
            value: id.as_bytes().to_vec(),
        }
    }
}

impl TryFrom<&ProtoUuid> for Uuid {
    type Error = Error;

    /// Fails unless the value holds exactly 16 bytes.
    fn try_from(id: &ProtoUuid) -> Result<Self> {
        Uuid::from_slice(&id.value).map_err(|_| {
            Error::invalid_argument(format!("a UUID must be 16 bytes, got {}", id.value.len()))
        })
    }
}

/// Names one aggregate: its domain and its root id.
///
/// Rendered as `{domain}#{root}` ([`AggregateKey::storage_key`]), the partition
/// key every store uses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AggregateKey {
    /// The aggregate's domain, e.g. `order`.
    pub domain: String,
    /// The aggregate's root id.
    pub root: Uuid,
}

impl AggregateKey {
    /// Builds a key, refusing an empty domain or one containing `#`
    /// (the separator of [`AggregateKey::storage_key`]).
    pub fn new(domain: impl Into<String>, root: Uuid) -> Result<Self> {
        let domain = domain.into();
        validate_domain(&domain)?;
        Ok(Self { domain, root })
    }

    /// The key as stores write it: `{domain}#{root}` with the root hyphenated.
    pub fn storage_key(&self) -> String {
        format!("{}#{}", self.domain, self.root)
    }

    /// Parses a key written by [`AggregateKey::storage_key`].
    pub fn parse(key: &str) -> Result<Self> {
        let (domain, root) = key.rsplit_once('#').ok_or_else(|| {
            Error::invalid_argument(format!("aggregate key `{key}` is not `domain#root`"))
        })?;
        let root = Uuid::parse_str(root).map_err(|e| {
            Error::invalid_argument(format!("aggregate key `{key}` has a bad root: {e}"))
        })?;
        Self::new(domain, root)
    }

    /// Reads the key from a cover; the cover must carry a domain and a 16-byte root,
    /// and name the main timeline ([`check_edition`]).
    pub fn from_cover(cover: &Cover) -> Result<Self> {
        let root = cover
            .root
            .as_ref()
            .ok_or_else(|| Error::invalid_argument("cover has no root"))?;
        check_edition(cover)?;
        Self::new(cover.domain.clone(), Uuid::try_from(root)?)
    }

    /// Reads the key from an event book; a book without a cover is an error.
    pub fn from_book(book: &EventBook) -> Result<Self> {
        let cover = book
            .cover
            .as_ref()
            .ok_or_else(|| Error::invalid_argument("event book has no cover"))?;
        Self::from_cover(cover)
    }

    /// A cover naming this aggregate, with the given correlation id.
    pub fn cover(&self, correlation_id: impl Into<String>) -> Cover {
        Cover {
            root: Some(self.root.into()),
            domain: self.domain.clone(),
            correlation_id: correlation_id.into(),
            edition: None,
        }
    }
}

impl fmt::Display for AggregateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.domain, self.root)
    }
}

/// The longest edition name, in bytes.
pub const MAX_EDITION_NAME: usize = 64;

/// Checks the edition a cover names. The main timeline (no edition, or an
/// empty name) is served. A name that is blank after trimming, or longer than
/// [`MAX_EDITION_NAME`] bytes, is invalid. Any other name is a named timeline,
/// which this runtime does not serve yet: it is refused as unsupported
/// (gRPC UNIMPLEMENTED, HTTP 501). Served as if it were the main timeline, its
/// writes would land in the main history.
pub fn check_edition(cover: &Cover) -> Result<()> {
    let Some(edition) = cover.edition.as_ref() else {
        return Ok(());
    };
    let name = edition.name.as_str();
    if name.is_empty() {
        return Ok(());
    }
    if name.trim().is_empty() {
        return Err(Error::invalid_argument(
            "edition name is blank; leave it empty for the main timeline",
        ));
    }
    if name.len() > MAX_EDITION_NAME {
        return Err(Error::invalid_argument(format!(
            "edition name is {} bytes; the longest is {MAX_EDITION_NAME}",
            name.len()
        )));
    }
    Err(Error::Unsupported {
        backend: "angzarr".into(),
        operation: format!(
            "edition `{name}`: named timelines are not served yet; \
             send to the main timeline (no edition, or an empty name)"
        )
        .into(),
    })
}

fn validate_domain(domain: &str) -> Result<()> {
    if domain.is_empty() {
        return Err(Error::invalid_argument("domain must not be empty"));
    }
    if domain.contains('#') {
        return Err(Error::invalid_argument(format!(
            "domain `{domain}` must not contain `#`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_round_trips_through_the_wire_type() {
        let id = Uuid::new_v4();
        let wire = ProtoUuid::from(id);
        assert_eq!(wire.value.len(), 16);
        assert_eq!(Uuid::try_from(&wire).unwrap(), id);
    }

    #[test]
    fn a_short_uuid_is_an_error() {
        let err = Uuid::try_from(&ProtoUuid { value: vec![1, 2] }).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidArgument);
    }

    fn cover_with_edition(name: &str) -> Cover {
        Cover {
            edition: Some(crate::proto::Edition {
                name: name.to_owned(),
                divergences: Vec::new(),
            }),
            ..AggregateKey::new("order", Uuid::new_v4())
                .unwrap()
                .cover("c")
        }
    }

    #[test]
    fn the_main_timeline_is_served_and_a_named_edition_is_refused() {
        assert!(AggregateKey::from_cover(&cover_with_edition("")).is_ok());
        let mut no_edition = cover_with_edition("");
        no_edition.edition = None;
        assert!(AggregateKey::from_cover(&no_edition).is_ok());

        let err = AggregateKey::from_cover(&cover_with_edition("v2")).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Unsupported, "{err}");
        assert!(err.to_string().contains("edition `v2`"), "{err}");
    }

    #[test]
    fn a_blank_or_overlong_edition_name_is_invalid() {
        for name in ["  ", "\t", &"e".repeat(MAX_EDITION_NAME + 1)] {
            let err = AggregateKey::from_cover(&cover_with_edition(name)).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::InvalidArgument, "{err}");
            assert!(err.to_string().contains("edition"), "{err}");
        }
        let longest = "e".repeat(MAX_EDITION_NAME);
        let err = AggregateKey::from_cover(&cover_with_edition(&longest)).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Unsupported, "{err}");
    }

    #[test]
    fn storage_key_round_trips() {
        let key = AggregateKey::new("order", Uuid::new_v4()).unwrap();
        assert_eq!(AggregateKey::parse(&key.storage_key()).unwrap(), key);
    }

    #[test]
    fn bad_keys_and_domains_are_refused() {
        assert!(AggregateKey::new("", Uuid::nil()).is_err());
        assert!(AggregateKey::new("a#b", Uuid::nil()).is_err());
        assert!(AggregateKey::parse("no-separator").is_err());
        assert!(AggregateKey::parse("order#not-a-uuid").is_err());
    }

    #[test]
    fn a_book_without_cover_is_an_error_not_a_panic() {
        let err = AggregateKey::from_book(&EventBook::default()).unwrap_err();
        assert!(err.to_string().contains("no cover"), "{err}");
        let no_root = EventBook {
            cover: Some(Cover {
                domain: "order".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(AggregateKey::from_book(&no_root).is_err());
    }

    #[test]
    fn cover_round_trips() {
        let key = AggregateKey::new("cart", Uuid::new_v4()).unwrap();
        let cover = key.cover("corr-1");
        assert_eq!(cover.correlation_id, "corr-1");
        assert_eq!(AggregateKey::from_cover(&cover).unwrap(), key);
    }
}
