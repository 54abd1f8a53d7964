//! The people and rooms of a run, and the credentials their sockets present.
//!
//! Two ways to get them:
//! - [`seed_database`], the documented admin path: it opens hearth's database with
//!   hearth's own [`hearth::db::connect`], inserts the users sharing one password hash
//!   made by [`hearth::accounts::password::hash`] (one argon2 hash instead of one per
//!   user), inserts the rooms, and writes one session per user, logged in, through
//!   hearth's [`DbSessionStore`] with tower-sessions' own [`Record`] and [`Id`], so a
//!   session written here is read exactly as one written at log-in. The cookie is the
//!   session id as tower-sessions displays it. The server may be running meanwhile
//!   (SQLite in WAL mode takes a second writer).
//! - [`sign_up_over_http`], the real way: every user signs up through `/signup` (one
//!   argon2 hash each on the server, tens of milliseconds), the first creates the rooms
//!   through `/rooms`. Slow, for small runs and for checking the admin path.
//!
//! The users and rooms of a run share a tag (`bk1a2b3c`), so runs never collide in a
//! database that outlives them.
use std::{collections::HashMap, time::Duration};

use anyhow::{Context, anyhow, bail};
use futures_util::{StreamExt, stream};
use hearth::{accounts::Password, web::session_store::DbSessionStore};
use reqwest::{StatusCode, cookie::CookieStore, redirect::Policy};
use sea_orm::{
    ConnectionTrait, DatabaseConnection,
    sea_query::{Alias, Expr, ExprTrait, Order, Query},
};
use serde_json::json;
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
};

/// The password of every seeded user (and of users signed up over HTTP).
pub const BENCH_PASSWORD: &str = "bench-password-1";
/// The name of hearth's session cookie (`hearth::web::session::COOKIE_NAME`).
pub const SESSION_COOKIE: &str = hearth::web::session::COOKIE_NAME;
/// How long seeded sessions last.
const SESSION_DAYS: i64 = 30;
/// Rows per INSERT statement: 4 values a row stays far below SQLite's variable limit.
const INSERT_BATCH: usize = 500;
/// Sessions written at once (the pool has 8 SQLite connections; writes serialise anyway).
const SESSION_WRITERS: usize = 8;
/// Sign-ups at once over HTTP (each one is an argon2 hash on a 2-core server).
const SIGNUPS_AT_ONCE: usize = 4;

/// One signed-in user, as a socket or a post presents them.
#[derive(Clone, Debug)]
pub struct Seat {
    pub username: String,
    /// The whole `Cookie` header value: `hearth_session=…`.
    pub cookie: String,
    /// The session's CSRF token, for `X-CSRF-Token`.
    pub csrf: String,
}

/// Everyone and every room of a run.
#[derive(Clone, Debug, Default)]
pub struct Population {
    pub seats: Vec<Seat>,
    /// Conversation ids of the rooms, in order.
    pub rooms: Vec<i64>,
}

/// A tag unique to this run (derived from the clock), for usernames and room slugs.
pub fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("bk{:06x}", (nanos / 1_000) % 0xff_ffff)
}

fn username(tag: &str, index: usize) -> String {
    format!("{tag}-u{index}")
}

/// A room's name and slug, by hearth's own rules.
fn room_name(tag: &str, index: usize) -> anyhow::Result<hearth::rooms::RoomName> {
    hearth::rooms::RoomName::parse(&format!("{tag} room {index}")).map_err(|e| anyhow!(e))
}

/// The page of room `index` of the run tagged `tag`: `/rooms/{slug}`.
pub fn room_path(tag: &str, index: usize) -> anyhow::Result<String> {
    Ok(format!("/rooms/{}", room_name(tag, index)?.slug()))
}

/// The admin path: writes `users` users, `rooms` rooms and one session per user into
/// the database at `database_url` (migrating it first, as the server would).
pub async fn seed_database(
    database_url: &str,
    users: usize,
    rooms: usize,
    tag: &str,
) -> anyhow::Result<Population> {
    let db = hearth::db::connect(database_url)
        .await
        .with_context(|| format!("cannot open the database at {database_url}"))?;
    hearth::db::migrate(&db)
        .await
        .context("cannot migrate the database")?;
    let password = Password::parse(BENCH_PASSWORD).map_err(|e| anyhow!(e))?;
    let limits = hearth::limits::Limits::new(hearth::limits::LimitSettings::default());
    let turn = limits
        .hashing_turn(std::net::Ipv4Addr::LOCALHOST.into())
        .map_err(|_| anyhow!("no turn at hashing"))?;
    let password_hash = hearth::accounts::password::hash(password, turn)
        .await
        .map_err(|e| anyhow!("hashing the bench password: {e}"))?;

    let user_ids = insert_users(&db, users, tag, &password_hash).await?;
    let first_user = user_ids.first().map(|(id, _)| *id);
    let room_ids = insert_rooms(&db, rooms, tag, first_user).await?;

    let store = DbSessionStore::new(db.clone(), hearth::db::WriteGate::for_database(&db));
    let seats: Vec<anyhow::Result<Seat>> = stream::iter(user_ids)
        .map(|(id, name)| {
            let store = store.clone();
            async move { write_session(&store, id, name).await }
        })
        .buffered(SESSION_WRITERS)
        .collect()
        .await;
    let seats = seats.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    db.close().await.context("closing the seeding connection")?;
    Ok(Population {
        seats,
        rooms: room_ids,
    })
}

/// Inserts the users; answers (id, username) in index order.
async fn insert_users(
    db: &DatabaseConnection,
    count: usize,
    tag: &str,
    password_hash: &str,
) -> anyhow::Result<Vec<(i64, String)>> {
    let now = hearth::db::now_ms();
    for start in (0..count).step_by(INSERT_BATCH) {
        let mut insert = Query::insert();
        insert.into_table(Alias::new("users")).columns([
            Alias::new("username"),
            Alias::new("username_key"),
            Alias::new("password_hash"),
            Alias::new("created_at"),
        ]);
        for index in start..(start + INSERT_BATCH).min(count) {
            let name = username(tag, index);
            insert.values([
                name.clone().into(),
                name.to_ascii_lowercase().into(),
                password_hash.into(),
                now.into(),
            ])?;
        }
        db.execute(&insert).await.context("inserting users")?;
    }
    let select = Query::select()
        .columns([Alias::new("id"), Alias::new("username")])
        .from(Alias::new("users"))
        .and_where(Expr::col(Alias::new("username_key")).like(format!("{tag}-u%")))
        .order_by(Alias::new("id"), Order::Asc)
        .to_owned();
    let mut by_name = HashMap::new();
    for row in db.query_all(&select).await.context("reading users back")? {
        let id: i64 = row.try_get("", "id")?;
        let name: String = row.try_get("", "username")?;
        by_name.insert(name, id);
    }
    (0..count)
        .map(|index| {
            let name = username(tag, index);
            let id = by_name
                .get(&name)
                .copied()
                .ok_or_else(|| anyhow!("user {name} was not stored"))?;
            Ok((id, name))
        })
        .collect()
}

/// Inserts public rooms; answers their conversation ids in index order.
async fn insert_rooms(
    db: &DatabaseConnection,
    count: usize,
    tag: &str,
    created_by: Option<i64>,
) -> anyhow::Result<Vec<i64>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let now = hearth::db::now_ms();
    for start in (0..count).step_by(INSERT_BATCH) {
        let mut insert = Query::insert();
        insert.into_table(Alias::new("conversations")).columns([
            Alias::new("kind"),
            Alias::new("name"),
            Alias::new("slug"),
            Alias::new("created_by"),
            Alias::new("created_at"),
            Alias::new("last_activity_at"),
        ]);
        for index in start..(start + INSERT_BATCH).min(count) {
            let room = room_name(tag, index)?;
            insert.values([
                hearth::chat::ConversationKind::Room.as_str().into(),
                room.name().into(),
                room.slug().into(),
                created_by.into(),
                now.into(),
                now.into(),
            ])?;
        }
        db.execute(&insert).await.context("inserting rooms")?;
    }
    let select = Query::select()
        .columns([Alias::new("id"), Alias::new("slug")])
        .from(Alias::new("conversations"))
        .and_where(Expr::col(Alias::new("slug")).like(format!("{tag}-room-%")))
        .to_owned();
    let mut by_slug = HashMap::new();
    for row in db.query_all(&select).await.context("reading rooms back")? {
        let id: i64 = row.try_get("", "id")?;
        let slug: String = row.try_get("", "slug")?;
        by_slug.insert(slug, id);
    }
    (0..count)
        .map(|index| {
            let room = room_name(tag, index)?;
            by_slug
                .get(room.slug())
                .copied()
                .ok_or_else(|| anyhow!("room {} was not stored", room.slug()))
        })
        .collect()
}

/// Writes the user's session as log-in would leave it: `user`, `csrf`,
/// and `day` (today, so the server has no reason to save the session again).
async fn write_session(store: &DbSessionStore, user_id: i64, name: String) -> anyhow::Result<Seat> {
    let now = time::OffsetDateTime::now_utc();
    // Any unguessable string serves as a CSRF token; a fresh session id is one.
    let csrf = Id::default().to_string();
    let data = HashMap::from([
        (
            "user".to_owned(),
            json!({ "id": user_id, "username": name }),
        ),
        ("csrf".to_owned(), json!(csrf)),
        ("day".to_owned(), json!(now.unix_timestamp() / 86_400)),
    ]);
    let mut record = Record {
        id: Id::default(),
        data,
        expiry_date: now + time::Duration::days(SESSION_DAYS),
    };
    store
        .create(&mut record)
        .await
        .map_err(|e| anyhow!("writing the session of {name}: {e}"))?;
    Ok(Seat {
        username: name,
        cookie: format!("{SESSION_COOKIE}={}", record.id),
        csrf,
    })
}

/// The real way: every user signs up over HTTP at `base_url` (`http://host:port`);
/// the first one creates the rooms.
pub async fn sign_up_over_http(
    base_url: &str,
    users: usize,
    rooms: usize,
    tag: &str,
) -> anyhow::Result<Population> {
    let results: Vec<anyhow::Result<(Seat, Browser)>> = stream::iter(0..users)
        .map(|index| async move {
            let browser = Browser::new(base_url)?;
            let seat = browser.sign_up(&username(tag, index)).await?;
            Ok((seat, browser))
        })
        .buffered(SIGNUPS_AT_ONCE)
        .collect()
        .await;
    let mut seats = Vec::with_capacity(users);
    let mut first_browser = None;
    for result in results {
        let (seat, browser) = result?;
        seats.push(seat);
        first_browser.get_or_insert(browser);
    }
    let mut room_ids = Vec::with_capacity(rooms);
    if rooms > 0 {
        let browser =
            first_browser.ok_or_else(|| anyhow!("rooms need at least one user to create them"))?;
        for index in 0..rooms {
            room_ids.push(browser.create_room(room_name(tag, index)?.name()).await?);
        }
    }
    Ok(Population {
        seats,
        rooms: room_ids,
    })
}

/// Logs `username` in over HTTP as a browser would (the form, its CSRF token, the
/// post): one argon2 verification on the server.
pub async fn log_in_over_http(base: &str, username: &str) -> anyhow::Result<()> {
    Browser::new(base)?.enter("/login", username).await
}

/// One person's HTTP client with its own cookie jar.
struct Browser {
    http: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    base: String,
}

impl Browser {
    fn new(base: &str) -> anyhow::Result<Self> {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        // No TLS roots: hearth is spoken to over plain HTTP here, and loading the
        // built-in roots cost 3 ms of CPU per client, 150 ms for a storm of 50 log-ins,
        // on the cores the server under test uses.
        let http = reqwest::Client::builder()
            .tls_certs_only([])
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            jar,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    async fn page(&self, path: &str) -> anyhow::Result<String> {
        let resp = self.http.get(format!("{}{path}", self.base)).send().await?;
        Ok(resp.text().await?)
    }

    async fn post_form(
        &self,
        path: &str,
        csrf: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<reqwest::Response> {
        let mut form = fields.to_vec();
        form.push(("csrf_token", csrf));
        Ok(self
            .http
            .post(format!("{}{path}", self.base))
            .form(&form)
            .send()
            .await?)
    }

    /// Fills in the form at `path` (`/signup` or `/login`) as `name` with the bench
    /// password and its CSRF token, and expects to be let in (303).
    async fn enter(&self, path: &str, name: &str) -> anyhow::Result<()> {
        let form = self.page(path).await?;
        let csrf =
            csrf_token_in(&form).ok_or_else(|| anyhow!("the form at {path} has no CSRF token"))?;
        let resp = self
            .post_form(
                path,
                &csrf,
                &[("username", name), ("password", BENCH_PASSWORD)],
            )
            .await?;
        if resp.status() != StatusCode::SEE_OTHER {
            bail!("{path} for {name} answered {}", resp.status());
        }
        Ok(())
    }

    async fn sign_up(&self, name: &str) -> anyhow::Result<Seat> {
        self.enter("/signup", name).await?;
        // Signing in cycles the session and its token: read the new one off the lobby.
        let lobby = self.page("/").await?;
        let csrf = csrf_token_in(&lobby)
            .ok_or_else(|| anyhow!("the lobby of {name} has no CSRF token"))?;
        let url = self.base.parse()?;
        let cookie = self
            .jar
            .cookies(&url)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
            .ok_or_else(|| anyhow!("{name} got no session cookie"))?;
        Ok(Seat {
            username: name.to_owned(),
            cookie,
            csrf,
        })
    }

    /// Creates a room; answers its conversation id.
    async fn create_room(&self, name: &str) -> anyhow::Result<i64> {
        let lobby = self.page("/").await?;
        let csrf = csrf_token_in(&lobby).ok_or_else(|| anyhow!("the lobby has no CSRF token"))?;
        let resp = self.post_form("/rooms", &csrf, &[("name", name)]).await?;
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .filter(|_| resp.status() == StatusCode::SEE_OTHER)
            .ok_or_else(|| anyhow!("creating room {name} answered {}", resp.status()))?
            .to_owned();
        let page = self.page(&location).await?;
        attribute_value(&page, "data-conversation-id=\"")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("the page of room {name} names no conversation id"))
    }
}

/// The value of the first `name="csrf_token"` input of a page.
/// The id of the first message in an htmx answer (`id="message-N"`).
pub fn message_id_in(html: &str) -> Option<i64> {
    let rest = &html[html.find("id=\"message-")? + "id=\"message-".len()..];
    rest[..rest.find('"')?].parse().ok()
}

pub fn csrf_token_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\"")?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    attribute_value(&html[tag_start..tag_end], "value=\"").map(str::to_owned)
}

/// The text after the first `prefix` (which ends with a quote) up to the next quote.
fn attribute_value<'a>(html: &'a str, prefix: &str) -> Option<&'a str> {
    let start = html.find(prefix)? + prefix.len();
    let len = html[start..].find('"')?;
    Some(&html[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_read_whatever_the_attribute_order() {
        let page = r#"<form><input type="hidden" name="csrf_token" value="abc-123"><input name="x" value="no"></form>"#;
        assert_eq!(csrf_token_in(page).as_deref(), Some("abc-123"));
        let reordered = r#"<input value="xyz" type="hidden" name="csrf_token">"#;
        assert_eq!(csrf_token_in(reordered).as_deref(), Some("xyz"));
        assert_eq!(csrf_token_in("<p>none</p>"), None);
    }

    #[test]
    fn tags_make_valid_usernames_and_slugs() {
        let tag = run_tag();
        let name = username(&tag, 99_999);
        assert!(hearth::accounts::Username::parse(&name).is_ok(), "{name}");
        assert!(room_name(&tag, 99).is_ok());
    }
}
