//! The shop example, written with the Rust authoring API of `angzarr-runtime`.
//!
//! * `cart` (AddItem, RemoveItem, Checkout), `order` (PlaceOrder,
//!   ConfirmPayment, Cancel), `fulfillment` (CreateShipment, Ship);
//! * sagas: `checkout` (cart CheckedOut ⇒ order PlaceOrder) and
//!   `fulfillment` (order OrderPaid ⇒ fulfillment CreateShipment);
//! * the `order-summary` projector: each order with its status.
//!
//! [`Shop::in_memory`] wires all of it on the memory backends.
//!
//! ```text
//! cargo run -p angzarr-cli -- demo
//! ```

pub mod cart;
pub mod fulfillment;
pub mod order;
pub mod sagas;
pub mod summary;
mod wiring;

pub use wiring::Shop;

/// The shop's messages, generated from `proto/shop/shop.proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/shop.rs"));

    /// The encoded `FileDescriptorSet` of `shop.proto`, for the protobuf
    /// JSON mapping (e.g. the gateway's type registry).
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/shop.fds.bin"));
}

use proto::LineItem;

/// The total of `items`, in cents.
pub fn total_cents(items: &[LineItem]) -> u64 {
    items
        .iter()
        .map(|i| u64::from(i.quantity).saturating_mul(i.unit_price_cents))
        .sum()
}
