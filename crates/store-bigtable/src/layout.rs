//! Row keys, column names and the request pieces every store builds.
//!
//! Events table, family `event`: one row per append batch, keyed
//! `{domain}#{root}#{first_sequence:010}`, with the cells `count` (events in
//! the batch, decimal), `created_at` (when the batch was written, RFC 3339)
//! and one `data:{sequence:010}` cell per event (the encoded `EventPage`).
//! Zero-padded sequences make rows and `data:` columns sort by sequence.
//! The hint row `{domain}#{root}` (same family) holds `next`, a batch
//! boundary at or before the end, so finding the end scans only the few
//! batch rows after it.

use angzarr_core::AggregateKey;
use bigtable_rs::google::bigtable::v2::{
    ColumnRange, Mutation, RowFilter, RowRange, RowSet, column_range, mutation, row_filter,
    row_range,
};

/// Column family of the events table.
pub(crate) const EVENT_FAMILY: &str = "event";
/// Column family of the snapshots table.
pub(crate) const SNAPSHOT_FAMILY: &str = "snapshot";
/// Column family of the firing-guard table.
pub(crate) const GUARD_FAMILY: &str = "guard";
/// Column family of the rate-limit table.
pub(crate) const RATE_FAMILY: &str = "rate";

/// Batch row: number of events in the batch.
pub(crate) const COUNT: &str = "count";
/// Batch row: when the batch was written.
pub(crate) const CREATED_AT: &str = "created_at";
/// Hint row: a batch boundary at or before the aggregate's end.
pub(crate) const NEXT: &str = "next";
/// Batch row: prefix of the per-event columns.
pub(crate) const DATA_PREFIX: &str = "data:";

/// The prefix shared by every batch row of `key`: `{domain}#{root}#`.
pub(crate) fn aggregate_prefix(key: &AggregateKey) -> String {
    format!("{key}#")
}

/// The aggregate's hint row, `{domain}#{root}`: it sorts before the batch
/// rows and outside their prefix.
pub(crate) fn hint_row_key(key: &AggregateKey) -> Vec<u8> {
    key.storage_key().into_bytes()
}

/// The row of the batch whose first event has `first`.
pub(crate) fn batch_row_key(key: &AggregateKey, first: u32) -> Vec<u8> {
    format!("{key}#{first:010}").into_bytes()
}

/// The column of the event with `sequence` in its batch row.
pub(crate) fn data_qualifier(sequence: u32) -> Vec<u8> {
    format!("{DATA_PREFIX}{sequence:010}").into_bytes()
}

/// Splits a batch row key into the aggregate and the batch's first sequence.
pub(crate) fn parse_batch_row_key(row_key: &[u8]) -> Option<(AggregateKey, u32)> {
    let text = std::str::from_utf8(row_key).ok()?;
    let (aggregate, first) = text.rsplit_once('#')?;
    let first = first.parse().ok()?;
    Some((AggregateKey::parse(aggregate).ok()?, first))
}

/// Rows whose key starts with `prefix`.
pub(crate) fn prefix_range(prefix: &str) -> RowRange {
    let start = prefix.as_bytes().to_vec();
    RowRange {
        start_key: Some(row_range::StartKey::StartKeyClosed(start)),
        end_key: prefix_end(prefix.as_bytes()).map(row_range::EndKey::EndKeyOpen),
    }
}

/// The first key after every key starting with `prefix` (`None`: no end).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Rows with keys in `start..end`.
pub(crate) fn key_range(start: Vec<u8>, end: Vec<u8>) -> RowRange {
    RowRange {
        start_key: Some(row_range::StartKey::StartKeyClosed(start)),
        end_key: Some(row_range::EndKey::EndKeyOpen(end)),
    }
}

/// A row set of ranges.
pub(crate) fn ranges(ranges: Vec<RowRange>) -> Option<RowSet> {
    Some(RowSet {
        row_keys: Vec::new(),
        row_ranges: ranges,
    })
}

/// A row set of one row.
pub(crate) fn one_row(row_key: Vec<u8>) -> Option<RowSet> {
    Some(RowSet {
        row_keys: vec![row_key],
        row_ranges: Vec::new(),
    })
}

fn filter(filter: row_filter::Filter) -> RowFilter {
    RowFilter {
        filter: Some(filter),
    }
}

/// Cells passing every filter in turn.
pub(crate) fn chain(filters: Vec<RowFilter>) -> RowFilter {
    filter(row_filter::Filter::Chain(row_filter::Chain { filters }))
}

/// Only the newest version of each column.
pub(crate) fn latest() -> RowFilter {
    filter(row_filter::Filter::CellsPerColumnLimitFilter(1))
}

/// Only the column named exactly `qualifier`.
pub(crate) fn column(qualifier: &str) -> RowFilter {
    filter(row_filter::Filter::ColumnQualifierRegexFilter(exact_regex(
        qualifier.as_bytes(),
    )))
}

/// Only cells whose value is exactly `value`.
pub(crate) fn value_is(value: &[u8]) -> RowFilter {
    filter(row_filter::Filter::ValueRegexFilter(exact_regex(value)))
}

/// Only the first cell of each row, without its value (to list row keys cheaply).
pub(crate) fn keys_only() -> RowFilter {
    chain(vec![
        filter(row_filter::Filter::CellsPerRowLimitFilter(1)),
        filter(row_filter::Filter::StripValueTransformer(true)),
    ])
}

/// Only the columns of `family` in `start..end` (qualifiers, byte order).
pub(crate) fn columns_between(family: &str, start: Vec<u8>, end: Vec<u8>) -> RowFilter {
    filter(row_filter::Filter::ColumnRangeFilter(ColumnRange {
        family_name: family.to_owned(),
        start_qualifier: Some(column_range::StartQualifier::StartQualifierClosed(start)),
        end_qualifier: Some(column_range::EndQualifier::EndQualifierOpen(end)),
    }))
}

/// An RE2 pattern matching exactly `literal` (every byte escaped).
fn exact_regex(literal: &[u8]) -> Vec<u8> {
    let mut pattern = Vec::with_capacity(literal.len() * 2 + 2);
    pattern.push(b'^');
    for byte in literal {
        if !byte.is_ascii_alphanumeric() {
            pattern.push(b'\\');
        }
        pattern.push(*byte);
    }
    pattern.push(b'$');
    pattern
}

/// Sets cell `family:qualifier` to `value`, with `timestamp_micros` (`-1`:
/// the server's time).
pub(crate) fn set_cell(
    family: &str,
    qualifier: impl Into<Vec<u8>>,
    value: impl Into<Vec<u8>>,
    timestamp_micros: i64,
) -> Mutation {
    Mutation {
        mutation: Some(mutation::Mutation::SetCell(mutation::SetCell {
            family_name: family.to_owned(),
            column_qualifier: qualifier.into(),
            timestamp_micros,
            value: value.into(),
        })),
    }
}

/// Deletes every cell of `family` in the row.
pub(crate) fn delete_family(family: &str) -> Mutation {
    Mutation {
        mutation: Some(mutation::Mutation::DeleteFromFamily(
            mutation::DeleteFromFamily {
                family_name: family.to_owned(),
            },
        )),
    }
}

/// Deletes the whole row.
pub(crate) fn delete_row() -> Mutation {
    Mutation {
        mutation: Some(mutation::Mutation::DeleteFromRow(
            mutation::DeleteFromRow {},
        )),
    }
}

/// The value of the newest cell named `qualifier` among `cells`.
pub(crate) fn cell_value<'a>(
    cells: &'a [bigtable_rs::bigtable::RowCell],
    qualifier: &str,
) -> Option<&'a [u8]> {
    cells
        .iter()
        .filter(|c| c.qualifier == qualifier.as_bytes())
        .max_by_key(|c| c.timestamp_micros)
        .map(|c| c.value.as_slice())
}

/// A decimal number stored as text.
pub(crate) fn parse_decimal<T: std::str::FromStr>(value: &[u8]) -> Option<T> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_keys_sort_by_sequence_and_parse_back() {
        let key = AggregateKey::new("order", uuid::Uuid::new_v4()).unwrap();
        let (a, b) = (batch_row_key(&key, 9), batch_row_key(&key, 10));
        assert!(a < b);
        assert_eq!(parse_batch_row_key(&b), Some((key.clone(), 10)));
        assert!(data_qualifier(99) < data_qualifier(100));
        assert!(b.starts_with(aggregate_prefix(&key).as_bytes()));
    }

    #[test]
    fn prefix_ranges_end_after_the_prefix() {
        assert_eq!(prefix_end(b"ab#"), Some(b"ab$".to_vec()));
        assert_eq!(prefix_end(&[b'a', 0xff]), Some(b"b".to_vec()));
        assert_eq!(prefix_end(&[0xff]), None);
    }

    #[test]
    fn exact_regexes_escape_everything_but_alphanumerics() {
        assert_eq!(exact_regex(b"a-1.b"), b"^a\\-1\\.b$".to_vec());
    }
}
