//! One outgoing webhook call: the JSON of the message and its conversation, signed,
//! POSTed to the bot's target within the timeout; a JSON answer with `text` is posted
//! as the bot's reply to the message.
//!
//! The signature is `X-Hearth-Signature: sha256={hex}`, the HMAC-SHA256 under the
//! bot's signing secret of `{X-Hearth-Timestamp}.{body}`, so a receiver can check both
//! who sent it and that it is not an old call played again.
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{WebhookSettings, queries, queries::Delivery};
use crate::{
    api::models::Message,
    chat::{Chat, MessageBody, queries as chat_queries},
    push::endpoint,
};

/// The most of an answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The client every call goes through: its resolver refuses private addresses (unless
/// allowed), and it follows no redirect.
pub fn client(settings: &WebhookSettings) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(endpoint::PublicResolver::shared(
            settings.allow_private_targets,
        ))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(settings.timeout)
        .timeout(settings.timeout)
        .user_agent("hearth-webhooks")
        // A proxy would resolve the name itself, past the resolver's check.
        .no_proxy()
        .build()
}

/// The signature of `body` sent at `timestamp`, as the header carries it.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Makes `delivery`'s call and records how it went.
pub async fn make(
    chat: &Chat,
    client: &reqwest::Client,
    settings: &WebhookSettings,
    delivery: Delivery,
) {
    let outcome = attempt(chat, client, settings, &delivery).await;
    let recorded = match outcome {
        Ok(()) => queries::succeeded(&chat.db, &delivery).await,
        Err(error) => {
            let retry = settings
                .retry_after
                .get(delivery.attempts as usize)
                .copied();
            tracing::info!(delivery = delivery.id, bot = delivery.bot_id, %error, retried = retry.is_some(), "an outgoing webhook call failed");
            queries::failed(&chat.db, &delivery, &error, retry).await
        }
    };
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "could not record an outgoing webhook call");
    }
}

async fn attempt(
    chat: &Chat,
    client: &reqwest::Client,
    settings: &WebhookSettings,
    delivery: &Delivery,
) -> Result<(), String> {
    let url =
        endpoint::parse(&delivery.url, settings.allow_private_targets).map_err(str::to_owned)?;
    let Some(message) = chat_queries::message_by_id(&chat.db, delivery.message_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    // A bot taken out of the conversation since is owed nothing more of it.
    let Ok(conversation) =
        crate::api::auth::open_as(&chat.db, delivery.bot_id, true, message.conversation_id).await
    else {
        return Ok(());
    };

    let body = json!({
        "bot": delivery.bot,
        "reason": delivery.reason,
        "delivery": delivery.id,
        "message": poem_openapi::types::ToJSON::to_json(&Message::from(&message)),
        "conversation": {
            "id": conversation.id,
            "kind": crate::chat::ConversationKind::of(&conversation).as_str(),
            "name": conversation.name,
            "slug": conversation.slug,
        },
    })
    .to_string();
    let timestamp = crate::db::now_ms() / 1000;
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hearth-timestamp", timestamp.to_string())
        .header(
            "x-hearth-signature",
            signature(&delivery.secret, timestamp, &body),
        )
        .header("x-hearth-delivery", delivery.id.to_string())
        .body(body)
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("answered {status}"));
    }
    let answer = read_bounded(resp).await?;
    let reply = serde_json::from_slice::<serde_json::Value>(&answer)
        .ok()
        .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_owned));
    if let Some(reply) = reply
        && let Ok(body) = MessageBody::parse(&reply)
    {
        if let Err(e) = chat
            .post(
                &conversation,
                delivery.bot_id,
                &delivery.bot,
                body,
                Some(message.id),
            )
            .await
        {
            // The call itself went through; the reply is the bot's to get right.
            tracing::info!(error = %e, bot = delivery.bot_id, "a webhook's reply was not posted");
        }
    }
    Ok(())
}

async fn read_bounded(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut answer = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err("answered more than 64 KiB".into());
        }
        answer.extend_from_slice(&chunk);
    }
    Ok(answer)
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_timestamp_and_body() {
        // `printf '1700000000.{}' | openssl dgst -sha256 -hmac key`
        assert_eq!(
            signature("key", 1_700_000_000, "{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
