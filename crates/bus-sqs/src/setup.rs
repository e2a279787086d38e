//! Creating the topics, queues and subscriptions the bus uses, for tests and
//! `xtask` (production resources come from the deploy modules, which create
//! the same shapes).

use std::time::Duration;

use angzarr_core::Result;
use aws_sdk_sqs::types::QueueAttributeName;

use angzarr_aws::from_sdk;

/// A queue's URL (for the SQS API) and ARN (for SNS and policies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue {
    /// The queue URL.
    pub url: String,
    /// The queue ARN.
    pub arn: String,
}

/// `name` with the `.fifo` suffix FIFO topics and queues need.
pub fn resource_name(name: &str, fifo: bool) -> String {
    if fifo && !name.ends_with(".fifo") {
        format!("{name}.fifo")
    } else {
        name.to_owned()
    }
}

/// Creates (or finds) the topic `name` (`.fifo` appended when `fifo`) and
/// returns its ARN. FIFO topics deduplicate by the id the bus sends, not
/// by content.
pub async fn create_topic(sns: &aws_sdk_sns::Client, name: &str, fifo: bool) -> Result<String> {
    let mut request = sns.create_topic().name(resource_name(name, fifo));
    if fifo {
        request = request
            .attributes("FifoTopic", "true")
            .attributes("ContentBasedDeduplication", "false");
    }
    let output = request.send().await.map_err(|e| from_sdk("sns", e))?;
    Ok(output.topic_arn.unwrap_or_default())
}

/// Creates (or finds) the queue `name` (`.fifo` appended when `fifo`) with
/// the given visibility timeout.
pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    fifo: bool,
    visibility_timeout: Duration,
) -> Result<Queue> {
    let mut request = sqs
        .create_queue()
        .queue_name(resource_name(name, fifo))
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout.as_secs().to_string(),
        );
    if fifo {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    let output = request.send().await.map_err(|e| from_sdk("sqs", e))?;
    let url = output.queue_url.unwrap_or_default();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| from_sdk("sqs", e))?;
    let arn = attributes
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    Ok(Queue { url, arn })
}

/// Subscribes `queue` to `topic_arn` and allows the topic to send to it
/// (the queue policy SNS needs). With `raw`, the queue receives the bare
/// body and the attributes as SQS message attributes; without it, SNS's
/// JSON envelope. Returns the subscription ARN.
pub async fn subscribe_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    topic_arn: &str,
    queue: &Queue,
    raw: bool,
) -> Result<String> {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "angzarr-sns-to-sqs",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue.arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}
        }]
    });
    sqs.set_queue_attributes()
        .queue_url(&queue.url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .map_err(|e| from_sdk("sqs", e))?;
    let output = sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(&queue.arn)
        .attributes("RawMessageDelivery", if raw { "true" } else { "false" })
        .return_subscription_arn(true)
        .send()
        .await
        .map_err(|e| from_sdk("sns", e))?;
    Ok(output.subscription_arn.unwrap_or_default())
}
