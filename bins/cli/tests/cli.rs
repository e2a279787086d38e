//! The `angzarr` binary as a user runs it.
#![allow(clippy::expect_used)]

use std::process::Command;

fn angzarr(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_angzarr"));
    command.args(args).env_remove("ANGZARR_CONFIG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run angzarr")
}

#[test]
fn demo_runs_the_shop_flow_to_the_read_model() {
    let out = angzarr(&["demo"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every step was shown with its answer, the deliberate rejections too.
    for step in [
        "shop.CheckedOut",
        "refused (rejected): ",
        "shop.OrderPaid",
        "shop.Shipped",
    ] {
        assert!(stdout.contains(step), "`{step}` missing from:\n{stdout}");
    }
    // The flow ran to its end: the sagas placed the order and created its
    // shipment, and the read model followed it to shipped.
    let read_model = stdout
        .split("read model order-summary:")
        .nth(1)
        .expect("read model printed");
    assert!(
        read_model.contains(": SHIPPED, 5 items, total 3.00, tracking TRK-42"),
        "{read_model}"
    );
    assert!(!stdout.contains("dead letters"), "{stdout}");
}

#[test]
fn an_unknown_storage_type_fails_at_start_naming_key_and_values() {
    let out = angzarr(&["config"], &[("ANGZARR_STORAGE__TYPE", "cassandra")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "storage.type",
        "cassandra",
        "memory",
        "aws_dynamodb",
        "gcp_bigtable",
        "redis",
    ] {
        assert!(
            stderr.contains(expected),
            "`{expected}` missing from: {stderr}"
        );
    }
}

#[test]
fn an_unknown_command_prints_usage() {
    let out = angzarr(&["frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: angzarr"));
}

#[test]
fn config_prints_the_whole_tree_with_secrets_redacted() {
    let out = angzarr(
        &["config"],
        &[
            ("ANGZARR_DISCOVERY__CONSUL__TOKEN", "t0ps3cret"),
            (
                "ANGZARR_STORAGE__REDIS__URL",
                "redis://user:hunter2@cache:6379",
            ),
            ("ANGZARR_ROLE", "saga-trigger"),
            (
                "ANGZARR_BUSINESS__AGGREGATES__CART__GRPC",
                "http://127.0.0.1:50051",
            ),
            ("ANGZARR_LAMBDA__FIFO", "true"),
            ("ANGZARR_PUSH_AUTH__AUDIENCE", "https://svc.example/push"),
            ("ANGZARR_PAYLOAD__AWS_S3__BUCKET", "shop-payloads"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for section in [
        "storage",
        "messaging",
        "discovery",
        "runtime",
        "gateway",
        "business",
        "lambda",
        "push_auth",
        "payload",
    ] {
        assert!(tree.get(section).is_some(), "`{section}` missing: {stdout}");
    }
    // The typed sections, with their unset keys.
    assert_eq!(tree["push_auth"]["audience"], "https://svc.example/push");
    assert!(tree["push_auth"]["service_account"].is_null(), "{stdout}");
    assert_eq!(tree["payload"]["aws_s3"]["bucket"], "shop-payloads");
    assert_eq!(tree["payload"]["aws_s3"]["prefix"], "");
    assert_eq!(tree["role"], "saga-trigger");
    assert_eq!(
        tree["business"]["aggregates"]["cart"]["grpc"],
        "http://127.0.0.1:50051"
    );
    assert!(
        !stdout.contains("t0ps3cret") && !stdout.contains("hunter2"),
        "{stdout}"
    );
    assert_eq!(tree["discovery"]["consul"]["token"], "<redacted>");
    assert!(
        tree["storage"]["redis"]["url"]
            .as_str()
            .unwrap()
            .contains("cache:6379")
    );
}

#[test]
fn config_refuses_a_misspelt_push_auth_key() {
    let out = angzarr(&["config"], &[("ANGZARR_PUSH_AUTH__AUDIANCE", "x")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("push_auth.audiance"), "{stderr}");
}
