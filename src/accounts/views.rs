//! The sign-up and log-in pages.
use maud::{Markup, html};

use crate::web::layout::{self, Page};

pub(super) fn auth_page(title: &str, site_online: usize, content: Markup) -> Markup {
    let page = Page {
        title,
        viewer: None,
        live_url: None,
        main_class: "auth",
        conversation: None,
        sidebar: None,
        site_online: Some(site_online),
        first_unread: None,
    };
    layout::render(page, content)
}

/// The page to land on once in, when it is not the lobby.
fn next_field(next: &str) -> Markup {
    html! { @if next != "/" { input type="hidden" name="next" value=(next); } }
}

/// `page`, carrying where to land once in.
fn with_next(page: &str, next: &str) -> String {
    if next == "/" {
        return page.to_owned();
    }
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("{page}?next={next}")
}

/// The sign-up form, posting to `action` (`/signup`, or `/join/{code}`).
pub fn signup(
    action: &str,
    csrf: &str,
    username: &str,
    errors: &[&str],
    next: &str,
    site_online: usize,
) -> Markup {
    auth_page(
        "Sign up",
        site_online,
        html! {
            section.card {
                h1 { "Create your account" }
                form #signup.stack method="post" action=(action) {
                    @for error in errors { p.form-error role="alert" { (error) } }
                    label for="username" { "Username" }
                    input #username name="username" value=(username) autocomplete="username"
                        required minlength="3" maxlength="32" pattern="[A-Za-z0-9_\\-]+"
                        aria-describedby="username-hint" autofocus;
                    p.hint #username-hint { "3–32 letters, digits, _ or -" }
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="new-password"
                        required minlength="8" maxlength="256" aria-describedby="password-hint";
                    p.hint #password-hint { "At least 8 characters" }
                    input type="hidden" name="csrf_token" value=(csrf);
                    (next_field(next))
                    button.primary type="submit" { "Sign up" }
                }
                p.muted { "Already have an account? " a href=(with_next("/login", next)) { "Log in" } }
            }
        },
    )
}

/// The log-in form; `forgot` offers the "forgot password" link (only where hearth
/// can send email).
pub fn login(
    csrf: &str,
    username: &str,
    error: Option<&str>,
    next: &str,
    site_online: usize,
    forgot: bool,
) -> Markup {
    auth_page(
        "Log in",
        site_online,
        html! {
            section.card {
                h1 { "Log in to hearth" }
                form.stack method="post" action="/login" {
                    @if let Some(error) = error { p.form-error role="alert" { (error) } }
                    label for="username" { "Username" }
                    input #username name="username" value=(username) autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    input type="hidden" name="csrf_token" value=(csrf);
                    (next_field(next))
                    button.primary type="submit" { "Log in" }
                }
                @if forgot { p.muted { a #forgot-password href="/password/forgot" { "Forgot password?" } } }
                p.muted { "No account? " a href=(with_next("/signup", next)) { "Sign up" } }
            }
        },
    )
}

/// Why nobody can sign up here: sign-ups are closed, need an invite, or the invite
/// link does not work.
pub fn no_signup(reason: &str, site_online: usize) -> Markup {
    auth_page(
        "Sign up",
        site_online,
        html! {
            section.card {
                h1 { "You can't sign up here" }
                p #signup-refused role="alert" { (reason) }
                p.muted { "Already have an account? " a href="/login" { "Log in" } }
            }
        },
    )
}
