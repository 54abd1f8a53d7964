//! Who is a member of each conversation, kept in memory: every new message asks it
//! (whom to tell), and so does every view of a room (whether the viewer joins now).
//! A change of membership forgets the conversation's entry here and, over the bus,
//! in every other process ([`Members::changed`]).
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use sea_orm::{DatabaseConnection, DbErr};

use crate::live::{Event, Hub, Notice};

/// Conversations whose members are kept, at most; past it the cache starts over.
const KEPT: usize = 10_000;

pub struct Members {
    db: DatabaseConnection,
    kept: Mutex<HashMap<i64, Arc<HashSet<i64>>>>,
}

impl Members {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            kept: Mutex::default(),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<HashSet<i64>>>> {
        // The map holds plain sets, whole after any panic.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The members of a conversation.
    pub async fn of(&self, conversation_id: i64) -> Result<Arc<HashSet<i64>>, DbErr> {
        if let Some(members) = self.kept().get(&conversation_id) {
            return Ok(members.clone());
        }
        let members: Arc<HashSet<i64>> = Arc::new(
            super::queries::member_ids(&self.db, conversation_id)
                .await?
                .into_iter()
                .collect(),
        );
        let mut kept = self.kept();
        if kept.len() >= KEPT {
            kept.clear();
        }
        kept.insert(conversation_id, members.clone());
        Ok(members)
    }

    /// Whether `user_id` is a member of the conversation.
    pub async fn contains(&self, conversation_id: i64, user_id: i64) -> Result<bool, DbErr> {
        Ok(self.of(conversation_id).await?.contains(&user_id))
    }

    /// Someone joined or left the conversation here: forget it, here and elsewhere.
    pub fn changed(&self, hub: &Hub, conversation_id: i64) {
        self.forget(conversation_id);
        hub.notify(Notice::MembershipChanged(conversation_id));
        hub.publish(Event::MembershipChanged { conversation_id });
    }

    /// `user_id` joined the conversation here by posting to it: added to the kept
    /// members (not forgotten, so a busy room's first posts do not each reload them),
    /// and forgotten in every other process.
    pub fn joined(&self, hub: &Hub, conversation_id: i64, user_id: i64) {
        if let Some(members) = self.kept().get_mut(&conversation_id) {
            Arc::make_mut(members).insert(user_id);
        }
        hub.notify(Notice::MembershipChanged(conversation_id));
        hub.publish(Event::MembershipChanged { conversation_id });
    }

    /// Someone joined or left the conversation in another process.
    pub fn forget(&self, conversation_id: i64) {
        self.kept().remove(&conversation_id);
    }
}
