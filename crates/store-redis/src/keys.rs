//! The key layout. Every key of one aggregate carries the same hash tag,
//! `{<domain>#<root>}`, so they all live in one slot of a Redis Cluster and
//! one script may touch them together.

use angzarr_core::AggregateKey;

/// Builds the keys of one deployment, all under one prefix.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// `{prefix}:{<domain>#<root>}:events`: a list of encoded `EventPage`s;
    /// the element at index `n` is the event with sequence `n`, so `LLEN` is
    /// the next sequence.
    pub(crate) fn events(&self, key: &AggregateKey) -> String {
        format!("{}:{{{}}}:events", self.prefix, key.storage_key())
    }

    /// `{prefix}:{<domain>#<root>}:appends`: the aggregate's latest 64
    /// appends as `<append id>:<next sequence>`, newest first, so that a
    /// retried append whose reply was lost is recognised.
    pub(crate) fn appends(&self, key: &AggregateKey) -> String {
        format!("{}:{{{}}}:appends", self.prefix, key.storage_key())
    }

    /// `{prefix}:{<domain>#<root>}:snapshot`: the encoded `Snapshot`.
    pub(crate) fn snapshot(&self, key: &AggregateKey) -> String {
        format!("{}:{{{}}}:snapshot", self.prefix, key.storage_key())
    }

    /// `{prefix}:domains`: the set of domains that have aggregates.
    pub(crate) fn domains(&self) -> String {
        format!("{}:domains", self.prefix)
    }

    /// `{prefix}:roots:{<domain>}`: the aggregates of a domain, each as its
    /// storage key after `{domain}#`: the root id (hyphenated), followed by
    /// `~{edition}` on an edition.
    pub(crate) fn roots(&self, domain: &str) -> String {
        format!("{}:roots:{{{domain}}}", self.prefix)
    }

    /// `{prefix}:guard:{<key>}`: a firing-guard entry.
    pub(crate) fn guard(&self, key: &str) -> String {
        format!("{}:guard:{{{key}}}", self.prefix)
    }

    /// `{prefix}:rate:{<key>}:<window ms>`: a rate-limit counter.
    pub(crate) fn rate(&self, key: &str, window_ms: u64) -> String {
        format!("{}:rate:{{{key}}}:{window_ms}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_keys_share_one_hash_tag() {
        let keys = Keys::new("app");
        let key = AggregateKey::new("order", uuid::Uuid::nil()).unwrap();
        let tag = "{order#00000000-0000-0000-0000-000000000000}";
        assert_eq!(keys.events(&key), format!("app:{tag}:events"));
        assert_eq!(keys.snapshot(&key), format!("app:{tag}:snapshot"));
        assert_eq!(keys.appends(&key), format!("app:{tag}:appends"));
        assert_eq!(keys.roots("order"), "app:roots:{order}");
        assert_eq!(keys.guard("h/x"), "app:guard:{h/x}");
        assert_eq!(keys.rate("ip", 1000), "app:rate:{ip}:1000");
    }
}
