//! Command throughput and latency on the memory backends (filled in below).
fn main() {}
