//! The pages and fragments of message actions: the edit box (in place, or as a page
//! without script), the confirmation of a deletion, and the emoji to react with.
use maud::{Markup, html};

use crate::{
    chat::{MessageBody, MessageView, reactions::COMMON, views},
    web::{
        Viewer,
        layout::{self, Page},
    },
};

/// The edit box that takes the place of a message's text (htmx): Save posts it, and
/// the message comes back replaced; Escape or Cancel put the text back (the page's
/// script).
pub fn edit_in_place(message: &MessageView, draft: &str, error: Option<&str>) -> Markup {
    let action = format!("/messages/{}/edit", message.id);
    html! {
        form.edit-form method="post" action=(action) hx-post=(action) hx-swap="none" {
            label.visually-hidden for={ "edit-" (message.id) } { "Edit your message" }
            textarea id={ "edit-" (message.id) } name="body" rows="2" maxlength=(MessageBody::MAX_CHARS) dir="auto" required autofocus { (draft) }
            @if let Some(error) = error { p.form-error role="alert" { (error) } }
            div.edit-actions {
                button.primary type="submit" { "Save" }
                button.link-button.edit-cancel type="button" { "Cancel" }
                span.muted { "Escape cancels" }
            }
        }
    }
}

/// A page of its own around one message, for the actions that need a form.
fn action_page(
    viewer: &Viewer,
    title: &str,
    message: &MessageView,
    back: &str,
    form: Markup,
) -> Markup {
    let page = Page {
        title,
        viewer: Some(viewer),
        live_url: None,
        main_class: "message-action",
        conversation: None,
        sidebar: None,
        site_online: None,
        first_unread: None,
    };
    layout::render(
        page,
        html! {
            section.card {
                h1 { (title) }
                div.quoted-message { (views::message(message)) }
                (form)
                p { a href=(back) { "Back to the conversation" } }
            }
        },
    )
}

/// Editing without script.
pub fn edit_page(
    viewer: &Viewer,
    message: &MessageView,
    back: &str,
    draft: &str,
    error: Option<&str>,
) -> Markup {
    let action = format!("/messages/{}/edit", message.id);
    let form = html! {
        form.stacked-form method="post" action=(action) {
            @if let Some(error) = error { p.form-error role="alert" { (error) } }
            label for="edit-body" { "Your message" }
            textarea #edit-body name="body" rows="4" maxlength=(MessageBody::MAX_CHARS) dir="auto" required { (draft) }
            input type="hidden" name="csrf_token" value=(viewer.csrf_token);
            button.primary type="submit" { "Save" }
        }
    };
    action_page(viewer, "Edit your message", message, back, form)
}

/// The confirmation of a deletion, without script.
pub fn delete_page(viewer: &Viewer, message: &MessageView, back: &str) -> Markup {
    let action = format!("/messages/{}/delete", message.id);
    let form = html! {
        form.stacked-form method="post" action=(action) {
            p { "Everyone will see that a message was deleted here, but not what it said." }
            input type="hidden" name="csrf_token" value=(viewer.csrf_token);
            button.danger type="submit" { "Delete the message" }
        }
    };
    action_page(viewer, "Delete this message?", message, back, form)
}

/// The emoji to react with, without script: the common ones, and any one typed in.
pub fn react_page(
    viewer: &Viewer,
    message: &MessageView,
    back: &str,
    error: Option<&str>,
) -> Markup {
    let action = format!("/messages/{}/reactions", message.id);
    let form = html! {
        form.emoji-picker method="post" action=(action) {
            input type="hidden" name="csrf_token" value=(viewer.csrf_token);
            div.emoji-choices {
                @for emoji in COMMON {
                    button.emoji-choice type="submit" name="emoji" value=(emoji) title={ "React with " (emoji) } { (emoji) }
                }
            }
        }
        form.stacked-form method="post" action=(action) {
            @if let Some(error) = error { p.form-error role="alert" { (error) } }
            label for="any-emoji" { "Or any emoji" }
            input #any-emoji name="emoji" maxlength="16" required placeholder="🦀";
            input type="hidden" name="csrf_token" value=(viewer.csrf_token);
            button.primary type="submit" { "React" }
        }
    };
    action_page(viewer, "React to this message", message, back, form)
}
