//! The operators' side: `GET /inbox[?view=open|mine|unassigned|closed]`, the
//! conversations of the sites one answers for, live ([`super::live`]); `GET
//! /inbox/{id}`, one conversation (the chat's own page, with who the visitor is and
//! the conversation's actions above it); `POST /inbox/{id}/assign` (`username`, empty
//! for nobody), `…/close`, `…/reopen`, each 303 back; `GET /inbox/{id}/transcript`,
//! the conversation as text; `POST /inbox/{id}/transcript/email`, the same mailed to
//! the address the visitor left (when hearth sends mail). Anyone but the site's
//! operators gets 404.
use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response, handler,
    http::header,
    web::{Data, Form, Path, Query, Redirect},
};
use serde::Deserialize;

use super::{
    queries::{self, InboxView, SupportChat},
    views,
};
use crate::{
    accounts::Username,
    chat::{Chat, sidebar},
    error::AppError,
    i18n::Lang,
    web::Viewer,
};

#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    view: String,
}

/// The language the viewer's browser asks for, of those hearth speaks.
pub(super) fn viewer_lang(req: &Request) -> Lang {
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::choose("auto", accept)
}

#[handler]
pub async fn show(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Query(query): Query<InboxQuery>,
) -> Result<Response, AppError> {
    let view = InboxView::parse(&query.view);
    let sites = queries::sites_of_operator(&chat.db, viewer.id).await?;
    let chats = match sites.is_empty() {
        true => Vec::new(),
        false => queries::inbox(&chat.db, viewer.id, view).await?,
    };
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    Ok(views::inbox_page(
        &viewer,
        viewer_lang(req),
        view,
        &sites,
        &chats,
        sidebar,
        chat.hub.site_online().await,
    )
    .into_response())
}

/// Conversation `id`, when `viewer` answers for its site; 404 otherwise.
async fn operated(chat: &Chat, viewer: &Viewer, id: &str) -> Result<SupportChat, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    if !super::may_operate(&chat.db, id, viewer.id).await? {
        return Err(AppError::NotFound);
    }
    queries::chat(&chat.db, id).await?.ok_or(AppError::NotFound)
}

/// What the conversation's page says about the action just done.
#[derive(Debug, Default, Deserialize)]
pub struct AfterAction {
    #[serde(default)]
    mailed: Option<String>,
}

#[handler]
pub async fn conversation(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<String>,
    Data(resets): Data<&Arc<crate::accounts::reset::Resets>>,
    Query(query): Query<crate::chat::page::PageQuery>,
    Query(after): Query<AfterAction>,
) -> Result<Response, AppError> {
    let support_chat = operated(chat, &viewer, &id).await?;
    let conversation =
        crate::chat::queries::conversation_by_id(&chat.db, support_chat.conversation_id)
            .await?
            .ok_or(AppError::NotFound)?;
    let operators = queries::operators(&chat.db, support_chat.site_id).await?;
    let replies = super::canned::of_site(&chat.db, support_chat.site_id).await?;
    let panel = maud::html! {
        (views::operator_panel(&support_chat, &operators, &viewer.csrf_token, views::Mail {
            possible: resets.mailer_if_set().is_some(),
            sent: after.mailed.is_some(),
        }, viewer_lang(req)))
        (super::canned::picker(&replies, viewer_lang(req)))
    };
    Ok(
        crate::chat::page::render_with(chat, &viewer, &conversation, &query, None, Some(panel))
            .await?
            .into_response(),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    username: String,
}

#[handler]
pub async fn assign(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<String>,
    Form(form): Form<AssignForm>,
) -> Result<Response, AppError> {
    let support_chat = operated(chat, &viewer, &id).await?;
    let to = match form.username.trim() {
        "" => None,
        name => {
            let operators = queries::operators(&chat.db, support_chat.site_id).await?;
            let key = Username::parse(name).map(|n| n.key()).ok();
            let found = operators
                .iter()
                .find(|(_, n)| Some(n.to_ascii_lowercase()) == key)
                .map(|(id, _)| *id);
            Some(found.ok_or(AppError::Refused(
                "Conversations are assigned to the site's operators only.",
            ))?)
        }
    };
    queries::assign(&chat.db, support_chat.conversation_id, to).await?;
    chat.support
        .changed(&chat.hub, support_chat.conversation_id);
    Ok(Redirect::see_other(super::inbox_path(support_chat.conversation_id)).into_response())
}

async fn set_open(
    chat: &Chat,
    viewer: &Viewer,
    id: &str,
    open: bool,
) -> Result<Response, AppError> {
    let support_chat = operated(chat, viewer, id).await?;
    queries::set_open(&chat.db, support_chat.conversation_id, open).await?;
    chat.support
        .changed(&chat.hub, support_chat.conversation_id);
    Ok(Redirect::see_other(super::inbox_path(support_chat.conversation_id)).into_response())
}

#[handler]
pub async fn close(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    set_open(chat, &viewer, &id, false).await
}

#[handler]
pub async fn reopen(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    set_open(chat, &viewer, &id, true).await
}

/// The conversation as plain text, one message a paragraph.
async fn transcript_text(chat: &Chat, support_chat: &SupportChat) -> Result<String, AppError> {
    let lines = queries::transcript(&chat.db, support_chat.conversation_id).await?;
    let mut text = format!(
        "Conversation with {} ({})\n\n",
        support_chat.guest_name, support_chat.page_url
    );
    for line in &lines {
        text.push_str(&format!(
            "[{}] {}:\n{}\n\n",
            crate::chat::views::iso_time(line.created_at),
            line.author,
            line.body
        ));
    }
    Ok(text)
}

/// The transcript to download.
#[handler]
pub async fn transcript(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let support_chat = operated(chat, &viewer, &id).await?;
    let text = transcript_text(chat, &support_chat).await?;
    Ok(super::download(
        text,
        "text/plain; charset=utf-8",
        &format!("conversation-{}.txt", support_chat.conversation_id),
    ))
}

/// Mails the transcript to the address the visitor left, when hearth sends mail;
/// 303 back to the conversation, which says it went.
#[handler]
pub async fn email_transcript(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(resets): Data<&Arc<crate::accounts::reset::Resets>>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let support_chat = operated(chat, &viewer, &id).await?;
    let mailer = resets.mailer_if_set().ok_or(AppError::Refused(
        "hearth sends no email here: it has no mail server (--smtp-url).",
    ))?;
    let to = support_chat.email.clone().ok_or(AppError::Refused(
        "The visitor left no email address to send the transcript to.",
    ))?;
    let site = queries::sites_of_operator(&chat.db, viewer.id)
        .await?
        .into_iter()
        .find(|s| s.id == support_chat.site_id)
        .ok_or(AppError::NotFound)?;
    let text = transcript_text(chat, &support_chat).await?;
    let subject = format!("Your conversation with {}", site.name);
    if let Err(e) = mailer.send(&to, &subject, text).await {
        if matches!(e, crate::accounts::mail::MailError::Message(_)) {
            return Err(AppError::Refused(
                "The visitor's address cannot be mailed: it is not a valid address.",
            ));
        }
        tracing::warn!(error = %e, conversation_id = support_chat.conversation_id, "could not mail a transcript");
        return Err(AppError::Unavailable(
            "The mail server did not take the transcript, so it was not sent. Try again in a moment.",
        ));
    }
    Ok(Redirect::see_other(format!(
        "{}?mailed=1",
        super::inbox_path(support_chat.conversation_id)
    ))
    .into_response())
}
