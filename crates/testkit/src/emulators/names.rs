//! Unique resource names, so that tests can run in parallel against one
//! shared emulator.

use std::sync::atomic::{AtomicU64, Ordering};

/// Longest name handed out: Bigtable table ids allow at most 50 characters,
/// the tightest limit of the services we name things in.
const MAX_LEN: usize = 50;

/// Returns a name that no other call in any process will return, built from
/// `prefix` to help reading emulator logs: `{prefix}-{counter}-{random}`.
///
/// The result has 3 to 50 characters, all lowercase ASCII letters, digits
/// and `-`; it starts with a letter (never `goog`) and ends with a letter or
/// digit. That makes it valid as a DynamoDB table, SQS queue, SNS topic,
/// Kinesis stream, S3 bucket, Pub/Sub topic or subscription, Bigtable table
/// and Redis key prefix. Characters of `prefix` outside that set become `-`,
/// and a long prefix is shortened.
///
/// ```
/// let name = angzarr_testkit::emulators::unique_name("Orders_Table");
/// assert!(name.starts_with("orders-table-"));
/// ```
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = uuid::Uuid::new_v4().simple().to_string();
    let suffix = format!("{count}-{}", &random[..10]);

    let mut head = String::new();
    for c in prefix.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            head.push(c);
        } else if !head.is_empty() && !head.ends_with('-') {
            head.push('-');
        }
    }
    let mut head = head
        .trim_start_matches(|c: char| !c.is_ascii_lowercase())
        .to_owned();
    if head.is_empty() {
        head.push('t');
    }
    if head.starts_with("goog") {
        head.insert(0, 'x');
    }
    head.truncate(MAX_LEN - suffix.len() - 1);
    let head = head.trim_end_matches('-');
    format!("{head}-{suffix}")
}
