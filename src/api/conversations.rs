//! `/conversations`: what the token's owner can read (the rooms open to them and their
//! private chats), a conversation's messages page by page, and posting to one.
//! Posting goes through [`Chat::post`], the composer's own path: the same rules, the
//! same rate limit, stored and then delivered live to every open page.
use std::{collections::HashMap, sync::Arc};

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use super::{
    Tag,
    auth::Token,
    idempotency::{self, Claim},
    models::{Conversation, Message, NewMessage},
    problem::ApiError,
    tokens,
};
use crate::{
    chat::{
        BodyError, Chat, ConversationKind, MessageBody,
        queries::{self, Window},
    },
    db,
};

/// How many messages a page holds at most, and by default.
const MAX_LIMIT: u64 = 100;
const DEFAULT_LIMIT: u64 = 50;

pub struct Conversations;

/// A page of messages, oldest first, with the links to the pages beside it.
#[derive(ApiResponse)]
enum MessagesPage {
    /// The messages, oldest first. `Link` holds `rel="prev"` (older messages) and
    /// `rel="next"` (newer ones) where there are any.
    #[oai(status = 200)]
    Ok(Json<Vec<Message>>, #[oai(header = "Link")] Option<String>),
}

/// The answer to a post.
#[derive(ApiResponse)]
enum PostAnswer {
    /// The message was stored and delivered.
    #[oai(status = 201)]
    Created(Json<Message>, #[oai(header = "Location")] String),
    /// A post with this `Idempotency-Key` stored this message already; nothing new
    /// was stored.
    #[oai(status = 200)]
    Replayed(Json<Message>),
}

#[OpenApi(prefix_path = "/conversations", tag = "Tag::Conversations")]
impl Conversations {
    /// The conversations the token's owner can read
    ///
    /// Public rooms, the private rooms they are a member of, and their private chats.
    #[oai(path = "/", method = "get", operation_id = "listConversations")]
    async fn list(
        &self,
        token: Token,
        db: Data<&DatabaseConnection>,
    ) -> Result<Json<Vec<Conversation>>, ApiError> {
        Ok(Json(readable(db.0, &token.0).await?))
    }

    /// A page of a conversation's messages
    ///
    /// Without a cursor, the latest messages; with `before`, those older than that
    /// message; with `after`, those newer. Oldest first either way; the `Link` header
    /// holds the pages beside this one.
    #[oai(path = "/:id/messages", method = "get", operation_id = "listMessages")]
    async fn messages(
        &self,
        token: Token,
        chat: Data<&Arc<Chat>>,
        /// The conversation's id.
        id: Path<i64>,
        /// Only messages older than this message id.
        before: Query<Option<i64>>,
        /// Only messages newer than this message id.
        after: Query<Option<i64>>,
        /// How many messages at most (1 to 100, 50 when not given).
        limit: Query<Option<u64>>,
    ) -> Result<MessagesPage, ApiError> {
        let conversation = super::auth::open(&chat.db, &token.0, id.0).await?;
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "bad_limit",
                format!("`limit` is from 1 to {MAX_LIMIT}."),
            ));
        }
        let window = match (before.0, after.0) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "two_cursors",
                    "Give `before` or `after`, not both.",
                ));
            }
            (Some(before), None) => Window::Before(before),
            (None, Some(after)) => Window::After(after),
            (None, None) => Window::Latest,
        };
        let page = queries::page(&chat.db, conversation.id, window, limit).await?;
        let base = format!("/api/v1/conversations/{}/messages", conversation.id);
        let mut links = Vec::new();
        if let (Some(first), Some(last)) = (page.messages.first(), page.messages.last()) {
            if page.has_older {
                links.push(format!(
                    "<{base}?before={}&limit={limit}>; rel=\"prev\"",
                    first.id
                ));
            }
            if page.has_newer {
                links.push(format!(
                    "<{base}?after={}&limit={limit}>; rel=\"next\"",
                    last.id
                ));
            }
        }
        let messages = page.messages.iter().map(Message::from).collect();
        let link = (!links.is_empty()).then(|| links.join(", "));
        Ok(MessagesPage::Ok(Json(messages), link))
    }

    /// Post a message
    ///
    /// The same rules as the composer's: 1 to 4000 characters after trimming, the
    /// poster's rate limit. The message is stored, then delivered live to every open
    /// page of the conversation. With an `Idempotency-Key`, a retried post is stored
    /// once: the retry is answered the first post's message with status 200.
    #[oai(path = "/:id/messages", method = "post", operation_id = "postMessage")]
    async fn post(
        &self,
        token: Token,
        chat: Data<&Arc<Chat>>,
        /// The conversation's id.
        id: Path<i64>,
        /// Any string of 1 to 255 visible ASCII characters, unique per post the
        /// program means (a UUID, say); kept a day.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        message: Json<NewMessage>,
    ) -> Result<PostAnswer, ApiError> {
        let holder = &token.0;
        let conversation = super::auth::open(&chat.db, holder, id.0).await?;
        let body = MessageBody::parse(&message.0.body).map_err(|refusal| {
            let code = match refusal {
                BodyError::Empty => "body_empty",
                BodyError::TooLong(_) => "body_too_long",
            };
            ApiError::unprocessable(code, refusal.to_string())
        })?;
        let key = match idempotency_key.0 {
            Some(key) if !idempotency::is_valid(&key) => {
                return Err(ApiError::bad_request(
                    "bad_idempotency_key",
                    "An `Idempotency-Key` is 1 to 255 visible ASCII characters.",
                ));
            }
            key => key,
        };
        if let Some(key) = &key {
            match idempotency::claim(&chat.db, holder.token_id, key, conversation.id).await? {
                Claim::Fresh => {}
                Claim::Done(message_id) => {
                    let stored = queries::message_by_id(&chat.db, message_id)
                        .await?
                        .ok_or_else(ApiError::not_found)?;
                    return Ok(PostAnswer::Replayed(Json(Message::from(&stored))));
                }
                Claim::Running => {
                    return Err(ApiError::new(
                        poem::http::StatusCode::CONFLICT,
                        "idempotency_key_in_use",
                        "A post with this `Idempotency-Key` is still running; retry in a moment.",
                    ));
                }
                Claim::Elsewhere => {
                    return Err(ApiError::unprocessable(
                        "idempotency_key_reused",
                        "This `Idempotency-Key` was used for a post to another conversation.",
                    ));
                }
            }
        }
        let posted = chat
            .post(
                &conversation,
                holder.user_id,
                &holder.username,
                body,
                message.0.reply_to,
            )
            .await;
        let posted = match (posted, &key) {
            (Ok(posted), Some(key)) => {
                idempotency::settle(&chat.db, holder.token_id, key, posted.message.id).await?;
                posted
            }
            (Ok(posted), None) => posted,
            (Err(e), key) => {
                if let Some(key) = key {
                    idempotency::release(&chat.db, holder.token_id, key).await;
                }
                return Err(e.into());
            }
        };
        let location = format!("/api/v1/messages/{}", posted.message.id);
        Ok(PostAnswer::Created(
            Json(Message::from(&posted.message)),
            location,
        ))
    }
}

/// The conversations `holder` can read, by id: every public room (for a bot, only
/// those it is in), the private rooms and group chats they are a member of, and their
/// private chats of two (`direct_key` is `"{low}:{high}"`).
async fn readable(
    db: &DatabaseConnection,
    holder: &tokens::Holder,
) -> Result<Vec<Conversation>, DbErr> {
    let user_id = holder.user_id;
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT c.id, c.kind, c.name, c.slug, c.direct_key, c.visibility, c.topic, \
               c.archived_at FROM conversations c \
             WHERE (c.kind = 'room' AND ((c.visibility <> 'private' AND NOT ?) OR EXISTS ( \
                 SELECT 1 FROM memberships m WHERE m.conversation_id = c.id AND m.user_id = ?))) \
               OR (c.kind = 'direct' AND (c.direct_key LIKE ? OR c.direct_key LIKE ?)) \
               OR (c.kind = 'group' AND EXISTS ( \
                 SELECT 1 FROM memberships m WHERE m.conversation_id = c.id AND m.user_id = ?)) \
             ORDER BY c.id LIMIT 1000",
            [
                holder.is_bot.into(),
                user_id.into(),
                format!("{user_id}:%").into(),
                format!("%:{user_id}").into(),
                user_id.into(),
            ],
        ))
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    let mut others = Vec::new();
    for row in &rows {
        let kind: String = row.try_get("", "kind")?;
        let direct = kind == ConversationKind::Direct.as_str();
        let group = kind == ConversationKind::Group.as_str();
        let other = if direct {
            let key: Option<String> = row.try_get("", "direct_key")?;
            let Some((a, b)) = key.as_deref().and_then(|k| k.split_once(':')) else {
                continue;
            };
            let (Ok(a), Ok(b)) = (a.parse::<i64>(), b.parse::<i64>()) else {
                continue;
            };
            let other = if a == user_id { b } else { a };
            others.push(other);
            Some(other)
        } else {
            None
        };
        let slug: Option<String> = row.try_get("", "slug")?;
        found.push((
            other,
            Conversation {
                id: row.try_get("", "id")?,
                url: slug
                    .as_deref()
                    .map(crate::chat::room_path)
                    .unwrap_or_default(),
                kind,
                name: row.try_get("", "name")?,
                slug,
                visibility: (!direct && !group)
                    .then(|| row.try_get::<String>("", "visibility"))
                    .transpose()?,
                topic: row.try_get("", "topic")?,
                archived: row.try_get::<Option<i64>>("", "archived_at")?.is_some(),
            },
        ));
    }
    let names = usernames(db, &others).await?;
    let mut readable = Vec::with_capacity(found.len());
    for (other, mut conversation) in found {
        if let Some(other) = other {
            // A private chat whose other member is gone has nobody to name.
            let Some(name) = names.get(&other) else {
                continue;
            };
            conversation.name.clone_from(name);
            conversation.url = format!("/dm/{name}");
        } else if conversation.kind == ConversationKind::Group.as_str() {
            // A group is named by its other members, as its page is (at most eight).
            let members = queries::member_names(db, conversation.id).await?;
            conversation.name = crate::direct::groups::title(&members, &holder.username);
            conversation.url = crate::chat::group_path(conversation.id);
        }
        readable.push(conversation);
    }
    Ok(readable)
}

/// The usernames of `ids`.
async fn usernames(db: &DatabaseConnection, ids: &[i64]) -> Result<HashMap<i64, String>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!("SELECT id, username FROM users WHERE id IN ({marks})"),
            ids.iter().map(|id| sea_orm::Value::from(*id)),
        ))
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("", "id")?, row.try_get("", "username")?)))
        .collect()
}
