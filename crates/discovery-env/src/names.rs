//! How domain and component names in variable names map to the names used
//! at lookup.
//!
//! Environment variable names cannot contain `-` and are written in upper
//! case, while domains are lower case and may contain `-` or `_`. So every
//! name is compared in its *canonical* form: ASCII lower case, with `-`
//! written as `_`. `order-fulfillment`, `Order_Fulfillment` and the variable
//! `ANGZARR_AGGREGATE_ORDER_FULFILLMENT` all name the same domain.

/// Prefix of aggregate variables: `ANGZARR_AGGREGATE_<DOMAIN>`.
pub const AGGREGATE_PREFIX: &str = "ANGZARR_AGGREGATE_";
/// Prefix of projector variables: `ANGZARR_PROJECTOR_<NAME>`.
pub const PROJECTOR_PREFIX: &str = "ANGZARR_PROJECTOR_";
/// Prefix of saga variables: `ANGZARR_SAGA_<SOURCE_DOMAIN>_<NAME>`.
pub const SAGA_PREFIX: &str = "ANGZARR_SAGA_";

/// The canonical form of a domain or component name: lower case, `-` as `_`.
pub fn canonical(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Whether a canonical name makes sense: ASCII letters, digits and single
/// `_` between them (no empty, leading, trailing or doubled separator).
pub fn is_sensible(canonical: &str) -> bool {
    !canonical.is_empty()
        && canonical
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !canonical.starts_with('_')
        && !canonical.ends_with('_')
        && !canonical.contains("__")
}

/// What one `ANGZARR_*` discovery variable declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Declaration {
    /// `ANGZARR_AGGREGATE_<DOMAIN>`.
    Aggregate {
        /// The canonical domain.
        domain: String,
    },
    /// `ANGZARR_PROJECTOR_<NAME>`.
    Projector {
        /// The canonical projector name.
        name: String,
    },
    /// `ANGZARR_SAGA_<SOURCE_DOMAIN>_<NAME>`: the last `_` segment is the
    /// saga's name, everything before it the source domain (which may itself
    /// contain `_`). A saga name with `_` can only be given in the
    /// configuration file.
    Saga {
        /// The canonical source domain.
        source_domain: String,
        /// The saga's name.
        name: String,
    },
}

/// Reads a variable name: `None` if it is not a discovery variable,
/// `Some(Err(why))` if it is one that makes no sense.
pub fn parse_variable(variable: &str) -> Option<Result<Declaration, String>> {
    let (rest, kind) = if let Some(rest) = variable.strip_prefix(AGGREGATE_PREFIX) {
        (rest, 0)
    } else if let Some(rest) = variable.strip_prefix(PROJECTOR_PREFIX) {
        (rest, 1)
    } else if let Some(rest) = variable.strip_prefix(SAGA_PREFIX) {
        (rest, 2)
    } else {
        return None;
    };
    let rest = canonical(rest);
    if !is_sensible(&rest) {
        return Some(Err(format!(
            "`{variable}`: the name after the prefix must be letters and digits separated by single `_`"
        )));
    }
    Some(Ok(match kind {
        0 => Declaration::Aggregate { domain: rest },
        1 => Declaration::Projector { name: rest },
        _ => match rest.rsplit_once('_') {
            Some((source_domain, name)) => Declaration::Saga {
                source_domain: source_domain.to_owned(),
                name: name.to_owned(),
            },
            None => {
                return Some(Err(format!(
                    "`{variable}` must be `ANGZARR_SAGA_<SOURCE_DOMAIN>_<NAME>`"
                )));
            }
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyphens_underscores_and_case_are_one_name() {
        assert_eq!(canonical("Order-Fulfillment"), "order_fulfillment");
        assert_eq!(canonical("ORDER_FULFILLMENT"), "order_fulfillment");
        assert!(is_sensible("order_fulfillment"));
        for bad in ["", "_order", "order_", "order__x", "ord.er", "ordér"] {
            assert!(!is_sensible(bad), "{bad}");
        }
    }

    #[test]
    fn variables_declare_what_their_prefix_says() {
        assert_eq!(parse_variable("ANGZARR_STORAGE__TYPE"), None);
        assert_eq!(parse_variable("PATH"), None);
        assert_eq!(
            parse_variable("ANGZARR_AGGREGATE_ORDER_FULFILLMENT"),
            Some(Ok(Declaration::Aggregate {
                domain: "order_fulfillment".into()
            }))
        );
        assert_eq!(
            parse_variable("ANGZARR_PROJECTOR_SUMMARY"),
            Some(Ok(Declaration::Projector {
                name: "summary".into()
            }))
        );
        assert_eq!(
            parse_variable("ANGZARR_SAGA_ORDER_FULFILLMENT_1"),
            Some(Ok(Declaration::Saga {
                source_domain: "order_fulfillment".into(),
                name: "1".into()
            }))
        );
        assert!(matches!(parse_variable("ANGZARR_SAGA_ORDER"), Some(Err(_))));
        assert!(matches!(parse_variable("ANGZARR_AGGREGATE_"), Some(Err(_))));
        assert!(matches!(
            parse_variable("ANGZARR_AGGREGATE__X"),
            Some(Err(_))
        ));
    }
}
