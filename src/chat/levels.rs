//! How much of a conversation each member hears of: everything, mentions only, or
//! nothing (muted). Rooms default to mentions, private chats to everything. The level
//! decides what notifies (a desktop notification, a push) and what the sidebar counts;
//! a muted conversation shows a dot, never a number.
//!
//! It owns the level's storage (`memberships.notify`), its control in the
//! conversation's header and `POST /conversations/{id}/notifications`. It must not
//! send notifications itself.
use std::{collections::HashMap, sync::Arc};

use maud::{Markup, html};
use poem::{
    IntoResponse, Request, Response, handler,
    web::{Data, Form, Path, Redirect},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use serde::Deserialize;

use super::{Chat, ConversationKind, access, queries};
use crate::{
    db,
    error::AppError,
    live::Outgoing,
    web::{Viewer, is_htmx},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Everything,
    Mentions,
    Nothing,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Everything, Level::Mentions, Level::Nothing];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Everything => "everything",
            Level::Mentions => "mentions",
            Level::Nothing => "nothing",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == raw)
    }

    /// What a member hears of who has not chosen.
    pub fn default_for(kind: ConversationKind) -> Self {
        match kind {
            ConversationKind::Room => Level::Mentions,
            ConversationKind::Direct | ConversationKind::Group | ConversationKind::Support => {
                Level::Everything
            }
        }
    }

    /// The level stored as `notify` (none chosen: the kind's default).
    pub fn stored(notify: Option<&str>, kind: ConversationKind) -> Self {
        notify
            .and_then(Self::parse)
            .unwrap_or_else(|| Self::default_for(kind))
    }

    fn label(self) -> &'static str {
        match self {
            Level::Everything => "Every message",
            Level::Mentions => "Mentions only",
            Level::Nothing => "Nothing (muted)",
        }
    }

    /// Whether a message notifies at this level.
    pub fn notifies(self, mentioned: bool) -> bool {
        match self {
            Level::Everything => true,
            Level::Mentions => mentioned,
            Level::Nothing => false,
        }
    }
}

/// The levels of the members of a conversation who chose one (the rest have the
/// kind's default).
pub async fn chosen(
    db: &DatabaseConnection,
    conversation_id: i64,
) -> Result<HashMap<i64, Level>, DbErr> {
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT user_id, notify FROM memberships WHERE conversation_id = ? AND notify IS NOT NULL",
            [conversation_id.into()],
        ))
        .await?;
    let mut levels = HashMap::with_capacity(rows.len());
    for row in rows {
        let notify: Option<String> = row.try_get("", "notify")?;
        if let Some(level) = notify.as_deref().and_then(Level::parse) {
            levels.insert(row.try_get("", "user_id")?, level);
        }
    }
    Ok(levels)
}

/// The sidebar's hidden mark of a conversation's level: the stylesheet and the page's
/// script read it (badges, the title's count, notifications).
pub fn mark(conversation_id: i64, level: Level, oob: bool) -> Markup {
    html! {
        span.level id={ "level-" (conversation_id) } data-level=(level.as_str()) hidden
            hx-swap-oob=[oob.then_some("true")] {}
    }
}

/// The control in a conversation's header.
pub fn control(conversation_id: i64, level: Level, csrf_token: &str, oob: bool) -> Markup {
    let action = format!("/conversations/{conversation_id}/notifications");
    html! {
        details.notify-control id={ "notify-" (conversation_id) } hx-swap-oob=[oob.then_some("true")] {
            summary title="What notifies you here" {
                span.notify-icon aria-hidden="true" { @if level == Level::Nothing { "🔕" } @else { "🔔" } }
                span.notify-now { (level.label()) }
            }
            form.notify-form method="post" action=(action) hx-post=(action) hx-swap="none" {
                input type="hidden" name="csrf_token" value=(csrf_token);
                fieldset {
                    legend { "Notify me of" }
                    @for choice in Level::ALL {
                        label {
                            input type="radio" name="level" value=(choice.as_str()) checked[choice == level];
                            " " (choice.label())
                        }
                    }
                }
                button.primary type="submit" { "Save" }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LevelForm {
    #[serde(default)]
    level: String,
}

/// `POST /conversations/{id}/notifications` (`level`): the viewer's level there. The
/// viewer's pages all show it at once; a plain form goes back to the conversation.
#[handler]
pub async fn choose(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(conversation_id): Path<i64>,
    Form(form): Form<LevelForm>,
) -> Result<Response, AppError> {
    let conversation = access::open(&chat.db, &viewer, conversation_id).await?;
    let level = Level::parse(form.level.trim()).ok_or(AppError::Refused(
        "Choose every message, mentions only or nothing.",
    ))?;
    if queries::join(&chat.db, conversation.id, viewer.id).await? {
        chat.membership_changed(conversation.id);
    }
    chat.db
        .execute_raw(db::statement(
            &chat.db,
            "UPDATE memberships SET notify = ? WHERE conversation_id = ? AND user_id = ?",
            [
                level.as_str().into(),
                conversation.id.into(),
                viewer.id.into(),
            ],
        ))
        .await?;
    let shown = html! {
        (mark(conversation.id, level, true))
        (control(conversation.id, level, &viewer.csrf_token, true))
    };
    chat.hub
        .send_to_user(viewer.id, Outgoing::html(shown.clone()));
    if is_htmx(req) {
        return Ok(shown.into_response());
    }
    let back = access::url_for(&chat.db, &conversation, &viewer).await?;
    Ok(Redirect::see_other(back).into_response())
}
