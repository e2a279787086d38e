//! Identifiers: wire UUIDs and the key of one aggregate.

use std::fmt;

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::proto::{Cover, Edition, EventBook, Uuid as ProtoUuid};

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

/// Names one aggregate on one timeline: its domain, its root id and its
/// edition (the empty name is the main timeline).
///
/// Rendered as `{domain}#{root}` on the main timeline and
/// `{domain}#{root}~{edition}` on an edition ([`AggregateKey::storage_key`]):
/// the partition key every store, snapshot, cache and guard uses, so an
/// edition's records never share a key with the main history's. Neither form
/// is a prefix of the other's `{key}#...` rows, since edition names hold no `#`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AggregateKey {
    /// The aggregate's domain, e.g. `order`.
    pub domain: String,
    /// The aggregate's root id.
    pub root: Uuid,
    /// The edition (a named timeline); empty for the main timeline.
    /// Only [`AggregateKey::in_edition`] sets it, so it is always valid.
    edition: String,
}

impl AggregateKey {
    /// Builds a key on the main timeline, refusing an empty domain or one
    /// containing `#` (the separator of [`AggregateKey::storage_key`]).
    pub fn new(domain: impl Into<String>, root: Uuid) -> Result<Self> {
        let domain = domain.into();
        validate_domain(&domain)?;
        Ok(Self {
            domain,
            root,
            edition: String::new(),
        })
    }

    /// The same aggregate on the edition `name` ([`check_edition_name`]);
    /// the empty name and [`MAIN_EDITION`] are the main timeline.
    pub fn in_edition(mut self, name: &str) -> Result<Self> {
        check_edition_name(name)?;
        self.edition = if name == MAIN_EDITION {
            String::new()
        } else {
            name.to_owned()
        };
        Ok(self)
    }

    /// The edition's name; empty on the main timeline.
    pub fn edition(&self) -> &str {
        &self.edition
    }

    /// Whether this key is on the main timeline.
    pub fn is_main(&self) -> bool {
        self.edition.is_empty()
    }

    /// The same aggregate on the main timeline.
    pub fn main(&self) -> Self {
        Self {
            edition: String::new(),
            ..self.clone()
        }
    }

    /// The key as stores write it: `{domain}#{root}` with the root
    /// hyphenated, followed by `~{edition}` on an edition.
    pub fn storage_key(&self) -> String {
        self.to_string()
    }

    /// Parses a key written by [`AggregateKey::storage_key`].
    pub fn parse(key: &str) -> Result<Self> {
        let (domain, rest) = key.split_once('#').ok_or_else(|| {
            Error::invalid_argument(format!("aggregate key `{key}` is not `domain#root`"))
        })?;
        let (root, edition) = match rest.split_once('~') {
            Some((root, edition)) => (root, Some(edition)),
            None => (rest, None),
        };
        let root = Uuid::parse_str(root).map_err(|e| {
            Error::invalid_argument(format!("aggregate key `{key}` has a bad root: {e}"))
        })?;
        let parsed = Self::new(domain, root)?;
        match edition {
            Some("") => Err(Error::invalid_argument(format!(
                "aggregate key `{key}` names an empty edition"
            ))),
            Some(edition) => parsed.in_edition(edition),
            None => Ok(parsed),
        }
    }

    /// Reads the key from a cover; the cover must carry a domain and a
    /// 16-byte root, and any edition it names must be valid
    /// ([`check_edition_name`]).
    pub fn from_cover(cover: &Cover) -> Result<Self> {
        let root = cover
            .root
            .as_ref()
            .ok_or_else(|| Error::invalid_argument("cover has no root"))?;
        let key = Self::new(cover.domain.clone(), Uuid::try_from(root)?)?;
        match &cover.edition {
            Some(edition) => key.in_edition(&edition.name),
            None => Ok(key),
        }
    }

    /// Reads the key from an event book; a book without a cover is an error.
    pub fn from_book(book: &EventBook) -> Result<Self> {
        let cover = book
            .cover
            .as_ref()
            .ok_or_else(|| Error::invalid_argument("event book has no cover"))?;
        Self::from_cover(cover)
    }

    /// A cover naming this aggregate (and its edition, when not the main
    /// timeline), with the given correlation id.
    pub fn cover(&self, correlation_id: impl Into<String>) -> Cover {
        Cover {
            root: Some(self.root.into()),
            domain: self.domain.clone(),
            correlation_id: correlation_id.into(),
            edition: (!self.is_main()).then(|| Edition {
                name: self.edition.clone(),
                divergences: Vec::new(),
            }),
        }
    }
}

impl fmt::Display for AggregateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.domain, self.root)?;
        if !self.is_main() {
            write!(f, "~{}", self.edition)?;
        }
        Ok(())
    }
}

/// The longest edition name, in bytes.
pub const MAX_EDITION_NAME: usize = 64;

/// The domain of the runtime's own commands (the published client
/// libraries' `META_ANGZARR_DOMAIN`), such as `DeleteEditionEvents`.
pub const META_DOMAIN: &str = "_angzarr";

/// The name the published client libraries give the main timeline
/// (`DEFAULT_EDITION`): a cover naming it is on the main timeline, like one
/// with no edition or an empty name.
pub const MAIN_EDITION: &str = "angzarr";

/// Checks an edition name. Empty is the main timeline. A name that is blank
/// after trimming, longer than [`MAX_EDITION_NAME`] bytes, or holding `#`
/// (the key separator) or a control character is invalid.
pub fn check_edition_name(name: &str) -> Result<()> {
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
    if name.chars().any(|c| c == '#' || c.is_control()) {
        return Err(Error::invalid_argument(format!(
            "edition name `{}` holds `#` or a control character",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// The divergence point `cover`'s edition names for its own domain, if any.
/// A divergence for another domain is invalid: it cannot apply to this cover.
pub fn divergence_for(cover: &Cover) -> Result<Option<u32>> {
    let Some(edition) = &cover.edition else {
        return Ok(None);
    };
    let mut found = None;
    for divergence in &edition.divergences {
        if divergence.domain != cover.domain {
            return Err(Error::invalid_argument(format!(
                "edition `{}` names a divergence for domain `{}`, which this {} cover does not touch",
                edition.name, divergence.domain, cover.domain
            )));
        }
        if edition.name.is_empty() || edition.name == MAIN_EDITION {
            return Err(Error::invalid_argument(
                "the main timeline cannot diverge; name an edition",
            ));
        }
        match found {
            Some(other) if other != divergence.sequence => {
                return Err(Error::invalid_argument(format!(
                    "edition `{}` names two divergences for domain `{}`: {other} and {}",
                    edition.name, cover.domain, divergence.sequence
                )));
            }
            _ => found = Some(divergence.sequence),
        }
    }
    Ok(found)
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
            edition: Some(Edition {
                name: name.to_owned(),
                divergences: Vec::new(),
            }),
            ..AggregateKey::new("order", Uuid::new_v4())
                .unwrap()
                .cover("c")
        }
    }

    #[test]
    fn an_edition_is_part_of_the_key_and_the_library_default_is_main() {
        let main = AggregateKey::from_cover(&cover_with_edition("")).unwrap();
        assert!(main.is_main());
        let mut library_main = cover_with_edition(MAIN_EDITION);
        library_main.root = Some(main.root.into());
        assert_eq!(AggregateKey::from_cover(&library_main).unwrap(), main);
        let mut cover = cover_with_edition("v2");
        cover.root = Some(main.root.into());
        let edition = AggregateKey::from_cover(&cover).unwrap();
        assert_eq!(edition.edition(), "v2");
        assert_ne!(edition, main);
        assert_ne!(edition.storage_key(), main.storage_key());
        assert_eq!(edition.main(), main);
        assert!(edition.storage_key().ends_with("~v2"), "{edition}");
        assert!(!edition.storage_key().starts_with(&format!("{main}#")));
        assert_eq!(
            AggregateKey::from_cover(&edition.cover("c")).unwrap(),
            edition
        );
        assert_eq!(
            AggregateKey::parse(&edition.storage_key()).unwrap(),
            edition
        );
    }

    #[test]
    fn a_bad_edition_name_is_invalid() {
        for name in ["  ", "\t", "a#b", "a\nb", &"e".repeat(MAX_EDITION_NAME + 1)] {
            let err = AggregateKey::from_cover(&cover_with_edition(name)).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::InvalidArgument, "{err}");
            assert!(err.to_string().contains("edition"), "{err}");
        }
        let longest = "e".repeat(MAX_EDITION_NAME);
        assert!(AggregateKey::from_cover(&cover_with_edition(&longest)).is_ok());
        assert!(AggregateKey::parse("order#00000000-0000-0000-0000-000000000000~").is_err());
    }

    #[test]
    fn a_divergence_must_be_for_the_covers_domain() {
        let mut cover = cover_with_edition("v2");
        let divergence = |domain: &str, sequence| crate::proto::DomainDivergence {
            domain: domain.to_owned(),
            sequence,
        };
        assert_eq!(divergence_for(&cover).unwrap(), None);
        if let Some(edition) = cover.edition.as_mut() {
            edition.divergences = vec![divergence("order", 3)];
        }
        assert_eq!(divergence_for(&cover).unwrap(), Some(3));
        for bad in [
            vec![divergence("cart", 3)],
            vec![divergence("order", 3), divergence("order", 4)],
        ] {
            if let Some(edition) = cover.edition.as_mut() {
                edition.divergences = bad;
            }
            let err = divergence_for(&cover).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::InvalidArgument, "{err}");
        }
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
