//! Sending pushes. News of each committed message comes from the process that stored it
//! (so each push goes once, however many processes run); the members its level says
//! should hear of it and who have no page open here get one push per browser. After a
//! push for a conversation, more messages there within the coalescing window wait and go
//! as one push that counts them, and the `Topic` header lets the push service replace a
//! push not yet delivered: a busy room never buzzes a phone more than once a window.
use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{StatusCode, header::HeaderValue};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use tokio::{
    sync::{Semaphore, mpsc},
    time::Instant,
};
use web_push_native::{
    Auth, WebPushBuilder,
    jwt_simple::{algorithms::ECDSAP256KeyPairLike, claims::Claims},
    p256::PublicKey,
};

use super::{PushSettings, endpoint, keys::VapidKey, queries};
use crate::{
    chat::{
        ConversationKind, Posted, format, levels::Level, levels::chosen, members::Members,
        queries::conversation_by_id,
    },
    live::Hub,
};

/// News of messages waiting to be pushed; past it, pushes are dropped (never messages).
const QUEUE: usize = 4096;
/// Requests to push services in flight at once.
const IN_FLIGHT: usize = 32;
/// How long the set of people with subscriptions is trusted before it is read again
/// (another process may have stored one).
const SUBSCRIBERS_FOR: Duration = Duration::from_secs(5);
/// How long a push service keeps a push for a browser that is offline.
const TIME_TO_LIVE: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest text a push carries (payloads are at most 4 KiB once encrypted).
const PREVIEW_CHARS: usize = 180;

/// The handle the message path tells of new messages.
#[derive(Clone)]
pub struct Pusher {
    queue: mpsc::Sender<Posted>,
    key: Arc<VapidKey>,
    /// Set when a browser subscribes here, so the next message reads who has.
    subscribers_changed: Arc<AtomicBool>,
}

impl Pusher {
    /// Starts the pushing task; it ends when the last handle is dropped.
    pub fn start(
        db: DatabaseConnection,
        hub: Hub,
        members: Arc<Members>,
        key: VapidKey,
        settings: PushSettings,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .dns_resolver(endpoint::PublicResolver::shared(
                settings.allow_private_endpoints,
            ))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()?;
        let key = Arc::new(key);
        let (queue, news) = mpsc::channel(QUEUE);
        let subscribers_changed = Arc::new(AtomicBool::new(true));
        let task = Task {
            subscribers_changed: subscribers_changed.clone(),
            db,
            hub,
            members,
            key: key.clone(),
            settings,
            client,
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
            windows: HashMap::new(),
            subscribers: None,
        };
        tokio::spawn(task.run(news));
        Ok(Self {
            queue,
            key,
            subscribers_changed,
        })
    }

    /// A browser subscribed: the next message reads who has.
    pub fn subscribed(&self) {
        self.subscribers_changed.store(true, Ordering::Release);
    }

    /// A message was stored (called off the committing thread; it never waits).
    pub fn posted(&self, posted: &Posted) {
        if self.queue.try_send(posted.clone()).is_err() {
            tracing::warn!(
                message_id = posted.message.id,
                "the push queue is full; a push was dropped"
            );
        }
    }

    /// The public key browsers subscribe with (`applicationServerKey`).
    pub fn public_key(&self) -> &str {
        &self.key.public
    }
}

/// What one push says: decrypted by the service worker, which shows it.
#[derive(Clone, Debug, Serialize)]
struct Note {
    title: String,
    body: String,
    url: String,
    tag: String,
    /// How many messages it stands for.
    count: u32,
    #[serde(skip)]
    urgent: bool,
}

/// The coalescing window of one person in one conversation.
struct Window {
    opened: Instant,
    held: Option<Note>,
}

struct Task {
    db: DatabaseConnection,
    hub: Hub,
    members: Arc<Members>,
    key: Arc<VapidKey>,
    settings: PushSettings,
    client: reqwest::Client,
    in_flight: Arc<Semaphore>,
    windows: HashMap<(i64, i64), Window>,
    subscribers: Option<(Instant, HashSet<i64>)>,
    subscribers_changed: Arc<AtomicBool>,
}

impl Task {
    async fn run(mut self, mut news: mpsc::Receiver<Posted>) {
        loop {
            let due = self
                .windows
                .values()
                .filter(|w| w.held.is_some())
                .map(|w| w.opened + self.settings.coalesce)
                .min();
            tokio::select! {
                posted = news.recv() => match posted {
                    Some(posted) => self.heard(posted).await,
                    None => break,
                },
                _ = sleep_until(due), if due.is_some() => self.flush_due().await,
            }
        }
    }

    async fn heard(&mut self, posted: Posted) {
        let recipients = match self.recipients(&posted).await {
            Ok(recipients) => recipients,
            Err(e) => {
                tracing::warn!(error = %e, "could not work out whom to push to");
                return;
            }
        };
        let Some((recipients, note)) = recipients else {
            return;
        };
        let now = Instant::now();
        let conversation_id = posted.message.conversation_id;
        let mut now_due = Vec::new();
        for user_id in recipients {
            let note = note.clone();
            match self.windows.get_mut(&(user_id, conversation_id)) {
                Some(window) if now < window.opened + self.settings.coalesce => {
                    let count = window.held.as_ref().map_or(0, |held| held.count);
                    window.held = Some(Note {
                        count: count + 1,
                        urgent: note.urgent || window.held.as_ref().is_some_and(|h| h.urgent),
                        ..note
                    });
                }
                _ => {
                    self.windows.insert(
                        (user_id, conversation_id),
                        Window {
                            opened: now,
                            held: None,
                        },
                    );
                    now_due.push((user_id, note));
                }
            }
        }
        self.send(now_due).await;
        if self.windows.len() > 10_000 {
            let coalesce = self.settings.coalesce;
            self.windows
                .retain(|_, w| w.held.is_some() || now < w.opened + coalesce);
        }
    }

    /// The members to push to and what to say, if anyone.
    async fn recipients(
        &mut self,
        posted: &Posted,
    ) -> Result<Option<(Vec<i64>, Note)>, sea_orm::DbErr> {
        let message = &posted.message;
        let members = self.members.of(message.conversation_id).await?;
        let hub = self.hub.clone();
        let subscribers = self.subscribers().await?;
        let mut candidates: Vec<i64> = members
            .iter()
            .copied()
            .filter(|&id| id != message.author_id && subscribers.contains(&id))
            .filter(|&id| !hub.is_online(id))
            .collect();
        if candidates.is_empty() {
            return Ok(None);
        }
        let Some(conversation) = conversation_by_id(&self.db, message.conversation_id).await?
        else {
            return Ok(None);
        };
        let kind = ConversationKind::of(&conversation);
        let levels = chosen(&self.db, conversation.id).await?;
        candidates.retain(|id| {
            levels
                .get(id)
                .copied()
                .unwrap_or_else(|| Level::default_for(kind))
                .notifies(posted.mentioned.names(*id))
        });
        if candidates.is_empty() {
            return Ok(None);
        }
        let title = match kind {
            ConversationKind::Room => format!("{} in #{}", message.author, conversation.name),
            ConversationKind::Direct => message.author.clone(),
            ConversationKind::Group => format!("{} in {}", message.author, conversation.name),
            ConversationKind::Support => format!("{} (support)", message.author),
        };
        let note = Note {
            title,
            body: format::excerpt(&message.body, PREVIEW_CHARS),
            url: format!("/messages/{}", message.id),
            tag: format!("conversation-{}", conversation.id),
            count: 1,
            urgent: kind.is_private_chat() || !posted.mentioned.is_empty(),
        };
        Ok(Some((candidates, note)))
    }

    async fn subscribers(&mut self) -> Result<&HashSet<i64>, sea_orm::DbErr> {
        let changed = self.subscribers_changed.swap(false, Ordering::AcqRel);
        let kept = match self.subscribers.take() {
            Some((read, people)) if !changed && read.elapsed() <= SUBSCRIBERS_FOR => (read, people),
            _ => (Instant::now(), queries::subscribers(&self.db).await?),
        };
        Ok(&self.subscribers.insert(kept).1)
    }

    /// Sends what waited out its window; the window opens again from now.
    async fn flush_due(&mut self) {
        let now = Instant::now();
        let coalesce = self.settings.coalesce;
        let mut due = Vec::new();
        self.windows.retain(|(user_id, _), window| {
            if now < window.opened + coalesce {
                return true;
            }
            match window.held.take() {
                Some(note) => {
                    due.push((*user_id, note));
                    window.opened = now;
                    true
                }
                None => false,
            }
        });
        // A person who opened a page meanwhile is told there.
        due.retain(|(user_id, _)| !self.hub.is_online(*user_id));
        self.send(due).await;
    }

    async fn send(&mut self, notes: Vec<(i64, Note)>) {
        if notes.is_empty() {
            return;
        }
        let people: Vec<i64> = notes.iter().map(|(id, _)| *id).collect();
        let subscriptions = match queries::of_people(&self.db, &people).await {
            Ok(subscriptions) => subscriptions,
            Err(e) => {
                tracing::warn!(error = %e, "could not read push subscriptions");
                return;
            }
        };
        let notes: HashMap<i64, Note> = notes.into_iter().collect();
        for subscription in subscriptions {
            let Some(note) = notes.get(&subscription.user_id) else {
                continue;
            };
            let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
                return;
            };
            let delivery = Delivery {
                db: self.db.clone(),
                client: self.client.clone(),
                key: self.key.clone(),
                contact: self.settings.contact.clone(),
                allow_private: self.settings.allow_private_endpoints,
            };
            let note = note.clone();
            tokio::spawn(async move {
                delivery.deliver(&subscription, &note).await;
                drop(permit);
            });
        }
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

/// One push to one browser.
struct Delivery {
    db: DatabaseConnection,
    client: reqwest::Client,
    key: Arc<VapidKey>,
    contact: String,
    allow_private: bool,
}

impl Delivery {
    async fn deliver(&self, subscription: &queries::Subscription, note: &Note) {
        match self.request(subscription, note) {
            Ok(request) => match self.client.execute(request).await {
                Ok(answer) => match answer.status() {
                    StatusCode::NOT_FOUND | StatusCode::GONE => {
                        // The browser unsubscribed or the subscription expired.
                        if let Err(e) = queries::expired(&self.db, subscription.id).await {
                            tracing::warn!(error = %e, "could not drop an expired subscription");
                        }
                    }
                    status if status.is_success() => {}
                    status => tracing::info!(%status, "a push service refused a push"),
                },
                Err(e) => tracing::info!(error = %e, "a push could not be sent"),
            },
            Err(e) => {
                // Keys or an endpoint that can never work: the subscription goes.
                tracing::info!(error = %e, "an unusable push subscription was dropped");
                let _ = queries::expired(&self.db, subscription.id).await;
            }
        }
    }

    fn request(
        &self,
        subscription: &queries::Subscription,
        note: &Note,
    ) -> anyhow::Result<reqwest::Request> {
        endpoint::parse(&subscription.endpoint, self.allow_private)
            .map_err(|reason| anyhow::anyhow!(reason))?;
        let ua_public = PublicKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(&subscription.p256dh)?)?;
        let auth_bytes = URL_SAFE_NO_PAD.decode(&subscription.auth)?;
        if auth_bytes.len() != 16 {
            anyhow::bail!("the subscription's auth secret is not 16 bytes");
        }
        let auth = Auth::clone_from_slice(&auth_bytes);
        let body = serde_json::to_vec(note)?;
        let built = WebPushBuilder::new(subscription.endpoint.parse()?, ua_public, auth)
            .with_valid_duration(TIME_TO_LIVE)
            .build(body)
            .map_err(|e| anyhow::anyhow!("could not encrypt a push: {e}"))?;
        let mut request = reqwest::Request::try_from(built)?;
        let vapid = self.vapid(request.url())?;
        let headers = request.headers_mut();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            HeaderValue::from_str(&vapid)?,
        );
        headers.insert("Topic", HeaderValue::from_str(&note.tag)?);
        headers.insert(
            "Urgency",
            HeaderValue::from_static(if note.urgent { "high" } else { "normal" }),
        );
        Ok(request)
    }

    /// The VAPID authorization (RFC 8292): a JWT for the push service's origin, port
    /// included, signed with the server's key, and that key.
    fn vapid(&self, endpoint: &reqwest::Url) -> anyhow::Result<String> {
        let claims = Claims::create(TIME_TO_LIVE.into())
            .with_audience(endpoint.origin().ascii_serialization())
            .with_subject(&self.contact);
        let token = self
            .key
            .pair
            .sign(claims)
            .map_err(|e| anyhow::anyhow!("could not sign a push: {e}"))?;
        Ok(format!("vapid t={token}, k={}", self.key.public))
    }
}
