//! The shop flow driven through the gateway's HTTP API: the host suite
//! (`angzarr_testkit::suites::host::shop_flow`) with every command and every
//! read of stored events going through the gateway, once in protobuf and
//! once in the protobuf JSON mapping. What is the gateway's own follows: the
//! answers' contents and encodings, `Accept`, rejections, conflicts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use angzarr_core::any;
use angzarr_core::error::wire::error_from_http;
use angzarr_core::proto::event_page::Payload;
use angzarr_core::proto::{CommandRequest, CommandResponse, EventBook, EventPage};
use angzarr_example_shop::Shop;
use angzarr_example_shop::proto::{AddItem, Checkout, ItemAdded};
use angzarr_gateway::{ANGZARR_FILE_DESCRIPTOR_SET, PROTOBUF};
use angzarr_testkit::suites::host::{MemoryShop, ShopHost, Summary, shop_flow};
use axum::Router;
use common::*;
use http::{StatusCode, header};
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::json;

/// The shop on the memory backends, its commands and reads of stored events
/// going through the gateway in one encoding.
struct GatewayHost {
    memory: MemoryShop,
    app: Router,
    /// The descriptors to write requests and read answers in JSON with;
    /// `None`: protobuf.
    json: Option<DescriptorPool>,
}

impl GatewayHost {
    fn protobuf() -> Self {
        let memory = MemoryShop::new();
        let app = gateway(memory.shop());
        Self {
            memory,
            app,
            json: None,
        }
    }

    fn json() -> Self {
        let mut pool = DescriptorPool::decode(ANGZARR_FILE_DESCRIPTOR_SET).unwrap();
        pool.decode_file_descriptor_set(angzarr_example_shop::proto::FILE_DESCRIPTOR_SET)
            .unwrap();
        Self {
            json: Some(pool),
            ..Self::protobuf()
        }
    }

    fn accept(&self) -> &'static str {
        if self.json.is_some() {
            "application/json"
        } else {
            PROTOBUF
        }
    }

    /// `message` in this host's encoding.
    fn encode<M: prost::Name>(&self, message: &M) -> Vec<u8> {
        match &self.json {
            None => message.encode_to_vec(),
            Some(pool) => {
                let descriptor = pool.get_message_by_name(&M::full_name()).unwrap();
                let dynamic =
                    DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).unwrap();
                serde_json::to_vec(&dynamic).unwrap()
            }
        }
    }

    /// An `M` from `body` in this host's encoding.
    fn decode<M: prost::Name + Default>(&self, body: &[u8]) -> Result<M, String> {
        match &self.json {
            None => M::decode(body).map_err(|e| e.to_string()),
            Some(pool) => {
                let descriptor = pool.get_message_by_name(&M::full_name()).unwrap();
                let mut json = serde_json::Deserializer::from_slice(body);
                DynamicMessage::deserialize(descriptor, &mut json)
                    .map_err(|e| e.to_string())?
                    .transcode_to()
                    .map_err(|e| e.to_string())
            }
        }
    }
}

#[async_trait::async_trait]
impl ShopHost for GatewayHost {
    async fn send(&self, request: CommandRequest) -> Result<CommandResponse, angzarr_core::Error> {
        let mut http_request = post_raw(self.accept(), self.encode(&request));
        http_request
            .headers_mut()
            .insert(header::ACCEPT, self.accept().parse().unwrap());
        let response = send(&self.app, http_request).await;
        let status = response.status();
        let bytes = body(response).await;
        if status != StatusCode::OK {
            return Err(error_from_http("gateway", status, &bytes));
        }
        Ok(self.decode(&bytes).unwrap())
    }

    async fn settle(&self) -> Result<(), String> {
        self.memory.settle().await
    }

    async fn events(&self, domain: &str, root: uuid::Uuid) -> Result<Vec<EventPage>, String> {
        let path = format!("/v1/events/{domain}/{root}");
        let response = send(&self.app, get(&path, self.accept())).await;
        let status = response.status();
        let bytes = body(response).await;
        if status != StatusCode::OK {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
        }
        let book: EventBook = if self.json.is_some() {
            // `{"book": ..., "next": ...}`
            let answer: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
            self.decode(answer["book"].to_string().as_bytes())?
        } else {
            self.decode(&bytes)?
        };
        Ok(book.pages)
    }

    async fn summary(&self, order: uuid::Uuid) -> Result<Option<Summary>, String> {
        self.memory.summary(order).await
    }
}

#[tokio::test]
async fn the_shop_flow_runs_through_the_gateway_in_protobuf() {
    let host = GatewayHost::protobuf();
    shop_flow(&host).await;
    assert!(host.memory.shop().dead_letters.letters().is_empty());
}

#[tokio::test]
async fn the_shop_flow_runs_through_the_gateway_in_json() {
    let host = GatewayHost::json();
    shop_flow(&host).await;
    assert!(host.memory.shop().dead_letters.letters().is_empty());
}

#[tokio::test]
async fn an_answer_carries_the_new_events_and_a_poll_the_next_sequence() {
    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = uuid::Uuid::new_v4();

    let answer = run_protobuf(
        &app,
        &request(
            "cart",
            cart,
            &AddItem {
                sku: "apple".into(),
                quantity: 3,
                unit_price_cents: 50,
            },
        ),
    )
    .await;
    let events = answer.events.expect("the answer carries the new events");
    assert_eq!(events.next_sequence, 1);
    let Some(Payload::Event(added)) = &events.pages[0].payload else {
        panic!("no event");
    };
    let added: ItemAdded = any::unpack(added).unwrap();
    assert_eq!((added.sku.as_str(), added.quantity), ("apple", 3));

    run_protobuf(
        &app,
        &request(
            "cart",
            cart,
            &Checkout {
                order_id: uuid::Uuid::new_v4().to_string(),
            },
        ),
    )
    .await;
    let (book, next) = poll_protobuf(&app, &format!("/v1/events/cart/{cart}")).await;
    assert_eq!(types(&book), ["shop.ItemAdded", "shop.CheckedOut"]);
    assert_eq!((book.next_sequence, next), (2, 2));
}

#[tokio::test]
async fn json_answers_follow_the_protobuf_json_mapping() {
    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = uuid::Uuid::new_v4();

    let answer = run_json(
        &app,
        json_command(
            "cart",
            cart,
            json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "apple", "quantity": 3, "unitPriceCents": "50"}),
        ),
    )
    .await;
    // The answer is the protobuf JSON mapping: camelCase, `@type`, 64-bit
    // integers as strings, the root as base64.
    let events = &answer["events"];
    assert_eq!(events["cover"]["domain"], "cart");
    assert_eq!(events["cover"]["root"]["value"], root_json(cart));
    assert_eq!(events["nextSequence"], 1);
    assert_eq!(events["pages"][0]["header"]["sequence"], 0);
    let event = &events["pages"][0]["event"];
    assert_eq!(event["@type"], "type.googleapis.com/shop.ItemAdded");
    assert_eq!(event["sku"], "apple");
    assert_eq!(event["quantity"], 3);
    assert_eq!(event["unitPriceCents"], "50");

    // Numbers may be written as JSON numbers, and fields by their proto names.
    run_json(
        &app,
        json_command(
            "cart",
            cart,
            json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "pear", "quantity": 2, "unit_price_cents": 75}),
        ),
    )
    .await;

    let response = send(
        &app,
        get(&format!("/v1/events/cart/{cart}"), "application/json"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = json(response).await;
    assert_eq!(
        json_types(&answer["book"]),
        [
            "type.googleapis.com/shop.ItemAdded",
            "type.googleapis.com/shop.ItemAdded"
        ]
    );
    assert_eq!(answer["book"]["pages"][1]["event"]["sku"], "pear");
    assert_eq!(answer["book"]["pages"][1]["event"]["unitPriceCents"], "75");
    assert_eq!(answer["next"], 2);
}

#[tokio::test]
async fn accept_chooses_the_answer_format() {
    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = uuid::Uuid::new_v4();

    // JSON in, protobuf out.
    let mut http_request = post_json(&json_command(
        "cart",
        cart,
        json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "fig", "quantity": 1, "unitPriceCents": "10"}),
    ));
    http_request
        .headers_mut()
        .insert(header::ACCEPT, PROTOBUF.parse().unwrap());
    let response = send(&app, http_request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], PROTOBUF);
    let answer: angzarr_core::proto::CommandResponse =
        prost::Message::decode(body(response).await).unwrap();
    assert_eq!(answer.events.unwrap().next_sequence, 1);

    // Protobuf in, JSON out.
    let mut http_request = post_protobuf(&request(
        "cart",
        cart,
        &AddItem {
            sku: "kiwi".into(),
            quantity: 1,
            unit_price_cents: 20,
        },
    ));
    http_request
        .headers_mut()
        .insert(header::ACCEPT, "application/json".parse().unwrap());
    let response = send(&app, http_request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = json(response).await;
    assert_eq!(answer["events"]["pages"][0]["event"]["sku"], "kiwi");
    assert_eq!(answer["events"]["nextSequence"], 2);
}

#[tokio::test]
async fn a_business_rejection_is_422_with_its_reason() {
    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = uuid::Uuid::new_v4();

    // An empty cart cannot be checked out.
    let response = send(
        &app,
        post_protobuf(&request(
            "cart",
            cart,
            &Checkout {
                order_id: uuid::Uuid::new_v4().to_string(),
            },
        )),
    )
    .await;
    let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "rejected").await;
    assert!(
        message.contains("an empty cart cannot be checked out"),
        "{message}"
    );

    // Same over JSON.
    let response = send(
        &app,
        post_json(&json_command(
            "cart",
            cart,
            json!({"@type": "type.googleapis.com/shop.AddItem", "sku": "", "quantity": 0}),
        )),
    )
    .await;
    let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "rejected").await;
    assert!(
        message.contains("an item needs a sku and a quantity"),
        "{message}"
    );

    // Nothing was stored.
    let (book, next) = poll_protobuf(&app, &format!("/v1/events/cart/{cart}")).await;
    assert!(book.pages.is_empty());
    assert_eq!((book.next_sequence, next), (0, 0));
}

#[tokio::test]
async fn a_strict_command_at_a_stale_sequence_is_409() {
    use angzarr_core::proto::page_header::SequenceType;
    use angzarr_core::proto::{MergeStrategy, PageHeader};

    let shop = Shop::in_memory();
    let app = gateway(&shop);
    let cart = uuid::Uuid::new_v4();
    let add = AddItem {
        sku: "plum".into(),
        quantity: 1,
        unit_price_cents: 5,
    };
    run_protobuf(&app, &request("cart", cart, &add)).await;

    let mut stale = request("cart", cart, &add);
    let page = &mut stale.command.as_mut().unwrap().pages[0];
    page.merge_strategy = MergeStrategy::MergeStrict as i32;
    page.header = Some(PageHeader {
        sequence_type: Some(SequenceType::Sequence(0)),
    });
    let response = send(&app, post_protobuf(&stale)).await;
    expect_error(response, StatusCode::CONFLICT, "sequence_conflict").await;
}
