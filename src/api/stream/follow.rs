//! An event stream's task: reads what changed after its cursor, sends it in order,
//! and waits for the hub's next notice. It stops when its client goes away, when its
//! holder is signed out or loses access to hearth, or on a database error (the client
//! reconnects with its `Last-Event-ID` and loses nothing).
use std::{collections::BTreeSet, sync::Arc, time::Duration};

use sea_orm::DbErr;
use tokio::sync::{broadcast::error::RecvError, mpsc};

use super::{
    AccessEnded, Holder, StreamData, StreamEvent,
    cursor::{Cursor, MAX_CONVERSATIONS},
    queries,
};
use crate::{
    api::{events::PublishedEvent, models::Message},
    app_events,
    chat::{Chat, catchup},
    live::{Notice, slots::Slot},
};

/// Messages read from one conversation at a time.
const PAGE: u64 = 200;
/// How often a stream checks that its holder may still read what it follows (notices
/// of ended access between processes are best effort).
const RECHECK_EVERY: Duration = Duration::from_secs(30);
/// The most app events one read takes (as many as `app_events::missed` answers).
const EVENTS_PAGE: usize = 100;

pub(super) struct Follower {
    pub chat: Arc<Chat>,
    pub notices: tokio::sync::broadcast::Receiver<Notice>,
    pub holder: Holder,
    pub cursor: Cursor,
    pub out: mpsc::Sender<StreamEvent>,
    /// It follows what its holder belongs to (no conversations were named), and so
    /// also what they come to belong to while it is open.
    pub follows_belonging: bool,
    /// When it opened (milliseconds): a conversation it comes to follow is read from
    /// here, or from when its holder joined it if that was later.
    pub opened_at: i64,
    /// The stream's place among its holder's sockets, given back when it ends.
    pub _slot: Slot,
}

/// Why a stream stops.
enum Stop {
    /// The client went away, or may no longer read.
    Done,
    Failed(DbErr),
}

impl From<DbErr> for Stop {
    fn from(e: DbErr) -> Self {
        Stop::Failed(e)
    }
}

/// What is waiting to be read.
struct Pending {
    conversations: BTreeSet<i64>,
    events: bool,
}

impl Follower {
    pub async fn run(mut self) {
        let mut pending = Pending {
            conversations: self.cursor.conversations.keys().copied().collect(),
            events: true,
        };
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        recheck.tick().await;
        loop {
            match self.send_pending(&mut pending).await {
                Ok(()) => {}
                Err(Stop::Done) => return,
                Err(Stop::Failed(e)) => {
                    tracing::warn!(error = %e, "an event stream stopped: the database failed");
                    return;
                }
            }
            let heard = tokio::select! {
                () = self.out.closed() => return,
                _ = recheck.tick() => match self.still_allowed().await {
                    Ok(true) => continue,
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "an event stream could not check its access");
                        return;
                    }
                },
                heard = self.notices.recv() => heard,
            };
            let mut next = Some(heard);
            // Take every notice already waiting, so one read serves them all.
            while let Some(heard) = next {
                if !self.take(heard, &mut pending).await {
                    return;
                }
                next = match self.notices.try_recv() {
                    Ok(notice) => Some(Ok(notice)),
                    Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                        Some(Err(RecvError::Lagged(n)))
                    }
                    Err(_) => None,
                };
            }
        }
    }

    /// Notes what `heard` leaves to read; `false` when the stream must stop.
    async fn take(&mut self, heard: Result<Notice, RecvError>, pending: &mut Pending) -> bool {
        let user_id = self.holder.user_id();
        match heard {
            Ok(Notice::Changed(id)) => {
                if self.cursor.conversations.contains_key(&id) {
                    pending.conversations.insert(id);
                }
            }
            Ok(Notice::Published(_)) => pending.events = true,
            Ok(Notice::MembershipChanged(id)) => {
                if self.cursor.conversations.contains_key(&id) {
                    return self.unless_readable(id, pending).await;
                }
                if self.follows_belonging && self.cursor.conversations.len() < MAX_CONVERSATIONS {
                    return self.follow_if_belonging(id, pending).await;
                }
            }
            Ok(Notice::AccessEnded {
                user_id: whom,
                conversation_id,
            }) if whom == user_id => match conversation_id {
                None => return false,
                Some(id) => return self.unless_readable(id, pending).await,
            },
            Ok(Notice::SessionEnded(ended)) => {
                if let Holder::Session { session, .. } = &self.holder
                    && **session == *ended
                {
                    return false;
                }
            }
            Ok(Notice::AccessEnded { .. }) => {}
            // Behind or told to: read everything again from the cursor.
            Ok(Notice::Resync) | Err(RecvError::Lagged(_)) => {
                pending
                    .conversations
                    .extend(self.cursor.conversations.keys().copied());
                pending.events = true;
            }
            Err(RecvError::Closed) => return false,
        }
        true
    }

    /// Sends everything pending, in order, conversation by conversation.
    async fn send_pending(&mut self, pending: &mut Pending) -> Result<(), Stop> {
        while let Some(id) = pending.conversations.pop_first() {
            let Some(&after) = self.cursor.conversations.get(&id) else {
                continue;
            };
            let changes = catchup::since(&self.chat.db, id, after, PAGE).await?;
            let more = changes.messages.len() as u64 >= PAGE;
            for message in &changes.messages {
                let new = message.seq > after;
                let place = if new {
                    message.seq
                } else {
                    message.updated_seq
                };
                self.cursor.conversations.insert(id, place.max(after));
                let event = if new { "message" } else { "message.changed" };
                self.send(event, StreamData::Message(Message::from(message)))
                    .await?;
            }
            self.cursor
                .conversations
                .insert(id, changes.upto.max(after));
            if more {
                pending.conversations.insert(id);
            }
        }
        while pending.events {
            let missed =
                app_events::missed(&self.chat.db, self.holder.user_id(), self.cursor.event).await?;
            pending.events = missed.len() >= EVENTS_PAGE;
            for event in &missed {
                self.cursor.event = event.id;
                self.send("event", StreamData::Event(PublishedEvent::from(event)))
                    .await?;
            }
        }
        Ok(())
    }

    async fn send(&self, event: &str, data: StreamData) -> Result<(), Stop> {
        let event = StreamEvent {
            id: self.cursor.to_string(),
            event: event.to_owned(),
            data,
        };
        self.out.send(event).await.map_err(|_| Stop::Done)
    }

    /// Stops following conversation `id` if its holder may no longer read it, and says
    /// so on the stream; `false` when the client is gone.
    async fn unless_readable(&mut self, id: i64, pending: &mut Pending) -> bool {
        if !self.cursor.conversations.contains_key(&id) {
            return true;
        }
        let (user_id, is_bot) = (self.holder.user_id(), self.holder.is_bot());
        match crate::api::auth::open_as(&self.chat.db, user_id, is_bot, id).await {
            Ok(_) => true,
            Err(_) => {
                self.cursor.conversations.remove(&id);
                pending.conversations.remove(&id);
                let ended = StreamData::AccessEnded(AccessEnded {
                    conversation_id: id,
                });
                self.send("access.ended", ended).await.is_ok()
            }
        }
    }

    /// Starts following conversation `id` if the holder now belongs to it, from when
    /// they joined (or the stream opened); `false` when the stream must stop.
    async fn follow_if_belonging(&mut self, id: i64, pending: &mut Pending) -> bool {
        let (user_id, is_bot) = (self.holder.user_id(), self.holder.is_bot());
        let since = match queries::belongs_since(&self.chat.db, user_id, id).await {
            Ok(Some(since)) => since,
            Ok(None) => return true,
            Err(e) => {
                tracing::warn!(error = %e, "an event stream could not check a new membership");
                return false;
            }
        };
        // Belonging is not all: the chat's access rules have the last word.
        if crate::api::auth::open_as(&self.chat.db, user_id, is_bot, id)
            .await
            .is_err()
        {
            return true;
        }
        match queries::place_before(&self.chat.db, id, since.max(self.opened_at)).await {
            Ok(place) => {
                self.cursor.conversations.insert(id, place);
                pending.conversations.insert(id);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "an event stream could not start on a conversation");
                false
            }
        }
    }

    /// Whether the holder is still signed in, and may still read what it follows.
    async fn still_allowed(&mut self) -> Result<bool, DbErr> {
        let signed_in = match &self.holder {
            Holder::Token { token_id, .. } => {
                crate::api::tokens::still_works(&self.chat.db, *token_id).await?
            }
            Holder::Session {
                session, sessions, ..
            } => crate::web::session::is_signed_in(sessions, session)
                .await
                .unwrap_or(false),
        };
        if !signed_in {
            return Ok(false);
        }
        let followed: Vec<i64> = self.cursor.conversations.keys().copied().collect();
        let mut pending = Pending {
            conversations: BTreeSet::new(),
            events: false,
        };
        for id in followed {
            if !self.unless_readable(id, &mut pending).await {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
