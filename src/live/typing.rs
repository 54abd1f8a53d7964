//! Who is typing in each conversation. A signal lasts [`super::LiveSettings::typing_lasts`]
//! unless renewed, and ends early when the typist's message arrives or their socket
//! leaves. Changes only mark the conversation dirty; the ticker sends each dirty
//! conversation's line once per tick ([`super::ticker`]), so a room full of typists
//! costs one frame per socket per tick.
use std::{collections::HashMap, time::Instant};

use maud::{Markup, html};

use super::{Event, Hub, hub::State, outgoing::Outgoing};

/// The typists of one conversation: name and until when.
#[derive(Debug, Default)]
pub(super) struct Typists(HashMap<i64, (String, Instant)>);

impl Typists {
    pub(super) fn start(&mut self, user_id: i64, username: String, until: Instant) {
        self.0.insert(user_id, (username, until));
    }

    /// Answers whether `user_id` was typing.
    pub(super) fn stop(&mut self, user_id: i64) -> bool {
        self.0.remove(&user_id).is_some()
    }

    /// Forgets signals that ran out; answers whether any did.
    pub(super) fn expire(&mut self, now: Instant) -> bool {
        let before = self.0.len();
        self.0.retain(|_, (_, until)| *until > now);
        self.0.len() != before
    }

    /// The typists, by name.
    fn sorted(&self) -> Vec<(i64, &str)> {
        let mut typists: Vec<(i64, &str)> = self
            .0
            .iter()
            .map(|(id, (name, _))| (*id, name.as_str()))
            .collect();
        typists.sort_by(|a, b| a.1.cmp(b.1));
        typists
    }

    /// The conversation's typing line, for every viewer at once.
    pub(super) fn fragment(&self) -> Markup {
        fragment(&self.sorted())
    }
}

/// "alice is typing…", "alice and bob are typing…", "several people are typing…".
fn phrase(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [one, two] => format!("{one} and {two} are typing…"),
        _ => "several people are typing…".to_owned(),
    }
}

/// Who is typing, for every viewer at once. Those who are not typing see the phrase
/// naming everyone; each typist sees a phrase that leaves them out. The page's CSS
/// (see `web::layout`) shows each viewer the one span meant for them.
fn fragment(typists: &[(i64, &str)]) -> Markup {
    let all: Vec<&str> = typists.iter().map(|(_, name)| *name).collect();
    let ids = typists
        .iter()
        .map(|(id, _)| id.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    html! {
        div #typing.typing aria-live="polite" hx-swap-oob="true" {
            @if typists.len() > 3 {
                // Every typist also has at least three others typing: one phrase fits all.
                span { (phrase(&all)) }
            } @else if !typists.is_empty() {
                span data-except=(ids) { (phrase(&all)) }
                @for (id, _) in typists {
                    @let others: Vec<&str> = typists.iter().filter(|(other, _)| other != id).map(|(_, n)| *n).collect();
                    @if !others.is_empty() {
                        span data-viewer=(id) { (phrase(&others)) }
                    }
                }
            }
        }
    }
}

impl Hub {
    /// `user_id` is typing in `conversation_id`, here and everywhere.
    pub fn typing(&self, conversation_id: i64, user_id: i64, username: &str) {
        self.start_typing(conversation_id, user_id, username.to_owned());
        self.publish(Event::Typing {
            conversation_id,
            user_id,
            username: username.to_owned(),
        });
    }

    pub(super) fn start_typing(&self, conversation_id: i64, user_id: i64, username: String) {
        let until = Instant::now() + self.inner.settings.typing_lasts;
        let mut state = self.state();
        if let Some(channel) = state.registry.channels.get_mut(&conversation_id) {
            channel.typing.start(user_id, username, until);
            state.typing_dirty.insert(conversation_id);
        }
    }

    /// Sends the typing line of every conversation where it changed, and ends signals
    /// that ran out.
    pub(super) fn flush_typing(&self) {
        let now = Instant::now();
        let mut state = self.state();
        let State {
            registry,
            typing_dirty,
            ..
        } = &mut *state;
        for (id, channel) in registry.channels.iter_mut() {
            if channel.typing.expire(now) {
                typing_dirty.insert(*id);
            }
        }
        for conversation_id in typing_dirty.drain() {
            if let Some(channel) = registry.channels.get(&conversation_id) {
                channel.broadcast(
                    &Outgoing::html(channel.typing.fragment()),
                    &self.inner.metrics,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_names_people_and_leaves_each_typist_out_of_their_own_line() {
        let html = fragment(&[(1, "alice"), (2, "bob")]).into_string();
        assert!(html.contains(r#"<span data-except="1 2">alice and bob are typing…</span>"#));
        assert!(html.contains(r#"<span data-viewer="1">bob is typing…</span>"#));
        assert!(html.contains(r#"<span data-viewer="2">alice is typing…</span>"#));
        let names: Vec<String> = (1..=4).map(|i| format!("u{i}")).collect();
        let crowd: Vec<(i64, &str)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as i64, n.as_str()))
            .collect();
        assert!(
            fragment(&crowd)
                .into_string()
                .contains("<span>several people are typing…</span>")
        );
    }
}
