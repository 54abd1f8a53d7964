//! The reads of search: the messages a query finds among those a person may read,
//! newest first, on SQLite's FTS5 index or PostgreSQL's `tsvector` column (see the
//! migration `m20261201_000007_search`).
//!
//! Who may read what is decided here in SQL, by the rule of [`crate::chat::access`]:
//! every public room, the private rooms and group chats the viewer is a member of, and
//! the private chats of two whose key holds the viewer's id. Every query
//! carries that rule whatever its filters say, so a filter can only narrow it.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Value};

use super::query::{SearchQuery, Term};
use crate::{
    chat::{ConversationKind, access},
    db,
};

/// A message a search found, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub id: i64,
    pub conversation_id: i64,
    pub author: String,
    /// The text as written (Markdown).
    pub body: String,
    pub created_at: i64,
    pub kind: ConversationKind,
    /// A room's name and slug; for a private chat, the other person's name; for a
    /// group chat, its members' names.
    pub place_name: String,
    pub room_slug: Option<String>,
}

/// The filters that name people, resolved to them.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    /// `from:@name`: the author's id.
    pub author_id: Option<i64>,
    /// `in:@name`: the key of the viewer's private chat with that person.
    pub direct_key: Option<String>,
    /// `in:`: the conversation it names, when there is one (the index is asked for
    /// its tag; the conditions on the conversation stay what decides).
    pub conversation_id: Option<i64>,
}

/// How hits are ordered, and where a page of them starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Newest first, from before message `before` when given.
    Newest { before: Option<i64> },
    /// Best matches first (FTS5's `bm25`, PostgreSQL's `ts_rank`), past the first `skip`;
    /// newest first when no word is indexed (filters alone, scripts without spaces).
    Relevant { skip: u64 },
}

/// The id of the person called `name` (in lower case), if there is one.
pub async fn person_id(db: &DatabaseConnection, name: &str) -> Result<Option<i64>, DbErr> {
    let found =
        crate::chat::mentions::queries::people_named(db, std::slice::from_ref(&name.to_owned()))
            .await?;
    Ok(found.first().map(|(id, _)| *id))
}

/// The conversation `in:` names: a room by its slug, or the private chat of `direct_key`.
pub async fn place_id(
    db: &DatabaseConnection,
    room_slug: Option<&str>,
    direct_key: Option<&str>,
) -> Result<Option<i64>, DbErr> {
    let (condition, value) = match (room_slug, direct_key) {
        (Some(slug), _) => ("kind = 'room' AND slug = ?", slug),
        (None, Some(key)) => ("kind = 'direct' AND direct_key = ?", key),
        (None, None) => return Ok(None),
    };
    let row = db
        .query_one_raw(db::statement(
            db,
            &format!("SELECT id FROM conversations WHERE {condition}"),
            [Value::from(value)],
        ))
        .await?;
    row.map(|row| row.try_get("", "id")).transpose()
}

/// The key of the private chat of `viewer_id` and `other_id`.
pub fn direct_key(viewer_id: i64, other_id: i64) -> String {
    access::direct_key(viewer_id, other_id)
}

/// The messages `query` finds that `viewer_id` may read, in `order`, `limit` at most.
pub async fn search(
    db: &DatabaseConnection,
    viewer_id: i64,
    query: &SearchQuery,
    resolved: &Resolved,
    order: Order,
    limit: u64,
) -> Result<Vec<Hit>, DbErr> {
    let sqlite = db::is_sqlite(db);
    let Some(bounds) = IdBounds::of(db, query).await? else {
        return Ok(Vec::new());
    };
    let (spaceless, indexed): (Vec<&Term>, Vec<&Term>) =
        query.terms.iter().partition(|t| t.is_spaceless());
    let tags = Tags {
        conversation_id: resolved.conversation_id,
        author_id: resolved.author_id,
    };
    let mut values: Vec<Value> = Vec::new();
    let mut sql = String::from(
        "SELECT m.id, m.conversation_id, u.username AS author, m.body, m.created_at, \
           c.kind AS kind, c.name AS room_name, c.slug AS room_slug, c.direct_key AS direct_key ",
    );
    // On SQLite the index is a table of its own, and ids are its rowids.
    let id = if sqlite && !indexed.is_empty() {
        sql.push_str("FROM message_search JOIN messages m ON m.id = message_search.rowid ");
        "message_search.rowid"
    } else {
        sql.push_str("FROM messages m ");
        "m.id"
    };
    sql.push_str(
        "JOIN conversations c ON c.id = m.conversation_id JOIN users u ON u.id = m.author_id \
         WHERE m.deleted_at IS NULL ",
    );
    if !indexed.is_empty() {
        if sqlite {
            sql.push_str("AND message_search MATCH ? ");
            values.push(format!("{}{}", fts5_expression(&indexed), tags.fts5()).into());
        } else {
            sql.push_str(&format!(
                "AND m.search @@ ({}{}) ",
                tsquery(indexed.len()),
                tags.tsquery()
            ));
            values.extend(indexed.iter().map(|t| Value::from(t.typed.as_str())));
            values.extend(tags.lexemes().map(Value::from));
        }
    } else if let Some(conversation_id) = resolved.conversation_id {
        // No word for the index: the conversation's own index walks it newest first.
        sql.push_str("AND m.conversation_id = ? ");
        values.push(conversation_id.into());
    }
    // Known limit: text in scripts without spaces is looked for by reading every
    // message the other conditions leave (a trigram index would find it faster, at
    // several times the text's size on disk).
    for term in &spaceless {
        sql.push_str("AND m.body LIKE ? ESCAPE '\\' ");
        values.push(format!("%{}%", like_escaped(term.literal())).into());
    }
    // The viewer's reach, as `access::may_read` decides it.
    sql.push_str(
        "AND ((c.kind = 'room' AND c.visibility <> 'private') \
         OR (c.kind = 'direct' AND (c.direct_key LIKE ? OR c.direct_key LIKE ?)) \
         OR (c.kind <> 'direct' AND EXISTS (SELECT 1 FROM memberships r \
             WHERE r.conversation_id = c.id AND r.user_id = ?))) ",
    );
    values.push(format!("{viewer_id}:%").into());
    values.push(format!("%:{viewer_id}").into());
    values.push(viewer_id.into());

    if let Order::Newest {
        before: Some(before),
    } = order
    {
        sql.push_str(&format!("AND {id} < ? "));
        values.push(before.into());
    }
    if let Some(upper) = bounds.upper {
        sql.push_str(&format!("AND {id} <= ? "));
        values.push(upper.into());
    }
    if let Some(lower) = bounds.lower {
        sql.push_str(&format!("AND {id} >= ? "));
        values.push(lower.into());
    }
    if let Some(author) = resolved.author_id {
        sql.push_str("AND m.author_id = ? ");
        values.push(author.into());
    }
    if let Some(key) = &resolved.direct_key {
        sql.push_str("AND c.kind = 'direct' AND c.direct_key = ? ");
        values.push(key.as_str().into());
    }
    if let Some(super::query::Place::Room(slug)) = &query.place {
        sql.push_str("AND c.kind = 'room' AND c.slug = ? ");
        values.push(slug.as_str().into());
    }
    if let Some(before) = query.before {
        // `+` keeps the exact check off the time's index, which the bounds used.
        sql.push_str("AND +m.created_at < ? ");
        values.push(before.into());
    }
    if let Some(after) = query.after {
        sql.push_str("AND +m.created_at >= ? ");
        values.push(after.into());
    }
    if query.has_link {
        // A web link in the text renders as an anchor with an `href` first (mentions
        // start with their class); text stored before rendering was kept is read raw.
        sql.push_str(
            "AND (m.body_html LIKE '%<a href=%' OR (m.body_html IS NULL AND m.body LIKE '%://%')) ",
        );
    }
    if query.has_file {
        sql.push_str("AND EXISTS (SELECT 1 FROM attachments a WHERE a.message_id = m.id) ");
    }
    // A tag narrows the index's answer to one conversation's or person's messages:
    // few enough to order, where the latest messages of all may hold none of them.
    let newest_on_postgres =
        !sqlite && !indexed.is_empty() && tags.is_empty() && matches!(order, Order::Newest { .. });
    let skip = match order {
        Order::Relevant { skip } if !indexed.is_empty() => {
            if sqlite {
                sql.push_str(&format!("ORDER BY bm25(message_search), {id} DESC "));
            } else {
                sql.push_str(&format!(
                    "ORDER BY ts_rank(m.search, ({})) DESC, m.id DESC ",
                    tsquery(indexed.len())
                ));
                values.extend(indexed.iter().map(|t| Value::from(t.typed.as_str())));
            }
            skip
        }
        Order::Relevant { skip } => {
            sql.push_str(&format!("ORDER BY {id} DESC "));
            skip
        }
        Order::Newest { .. } if newest_on_postgres => 0,
        // `+ 0` keeps PostgreSQL off the primary key, as in [`newest_on_postgres_first`].
        Order::Newest { .. } if !sqlite && !indexed.is_empty() => {
            sql.push_str("ORDER BY m.id + 0 DESC ");
            0
        }
        Order::Newest { .. } => {
            sql.push_str(&format!("ORDER BY {id} DESC "));
            0
        }
    };
    let rows = if newest_on_postgres {
        newest_on_postgres_first(db, sql, values, order, bounds.upper, limit).await?
    } else {
        sql.push_str("LIMIT ? OFFSET ?");
        values.push((limit as i64).into());
        values.push((skip.min(i64::MAX as u64) as i64).into());
        db.query_all_raw(db::statement(db, &sql, values)).await?
    };
    let mut hits = Vec::with_capacity(rows.len());
    let mut others: Vec<(usize, i64)> = Vec::new();
    for row in &rows {
        let kind = ConversationKind::named(&row.try_get::<String>("", "kind")?);
        if kind == ConversationKind::Direct {
            let key: Option<String> = row.try_get("", "direct_key")?;
            if let Some((a, b)) = key.as_deref().and_then(parse_key) {
                others.push((hits.len(), if a == viewer_id { b } else { a }));
            }
        }
        hits.push(Hit {
            id: row.try_get("", "id")?,
            conversation_id: row.try_get("", "conversation_id")?,
            author: row.try_get("", "author")?,
            body: row.try_get("", "body")?,
            created_at: row.try_get("", "created_at")?,
            kind,
            place_name: row.try_get("", "room_name")?,
            room_slug: row.try_get("", "room_slug")?,
        });
    }
    name_private_chats(db, &mut hits, &others).await?;
    Ok(hits)
}

/// The two ids of a private chat's key `"{low}:{high}"`.
fn parse_key(key: &str) -> Option<(i64, i64)> {
    let (a, b) = key.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Names each private chat among `hits` after its other person (`others`: the hit's
/// index and that person's id).
async fn name_private_chats(
    db: &DatabaseConnection,
    hits: &mut [Hit],
    others: &[(usize, i64)],
) -> Result<(), DbErr> {
    if others.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<i64> = others.iter().map(|(_, id)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let marks = vec!["?"; ids.len()].join(", ");
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!("SELECT id, username FROM users WHERE id IN ({marks})"),
            ids.iter().map(|id| Value::from(*id)),
        ))
        .await?;
    let mut names = std::collections::HashMap::with_capacity(rows.len());
    for row in &rows {
        names.insert(
            row.try_get::<i64>("", "id")?,
            row.try_get::<String>("", "username")?,
        );
    }
    for (index, other) in others {
        if let (Some(hit), Some(name)) = (hits.get_mut(*index), names.get(other)) {
            hit.place_name = name.clone();
        }
    }
    Ok(())
}

/// Messages read newest first before the index is asked instead ([`newest_on_postgres_first`]).
const RECENT_WINDOW: i64 = 20_000;

/// PostgreSQL, newest first: the query `sql` (with `values`, all but its order) run
/// first over the latest [`RECENT_WINDOW`] messages, walking them newest first, and
/// through the GIN index only when that leaves the page short. A common word is found
/// at once among the latest messages, where the index would gather every message that
/// holds it before ordering them; a rare one is found through the index. The planner
/// cannot tell the two apart (its statistics know the common words only).
///
/// `upper`: the highest id the query's dates leave, where the walk starts.
async fn newest_on_postgres_first(
    db: &DatabaseConnection,
    sql: String,
    values: Vec<Value>,
    order: Order,
    upper: Option<i64>,
    limit: u64,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    let cursor = match order {
        Order::Newest { before } => before,
        Order::Relevant { .. } => None,
    };
    let from = match (cursor, upper.map(|id| id.saturating_add(1))) {
        (Some(a), Some(b)) => a.min(b),
        (Some(from), None) | (None, Some(from)) => from,
        (None, None) => {
            let row = db
                .query_one_raw(db::statement(
                    db,
                    "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM messages",
                    Vec::<Value>::new(),
                ))
                .await?;
            match row {
                Some(row) => row.try_get("", "next")?,
                None => 0,
            }
        }
    };
    let limit = limit.min(i64::MAX as u64) as i64;
    let mut recent_values = values.clone();
    recent_values.extend([Value::from(from - RECENT_WINDOW), Value::from(limit)]);
    let recent = db
        .query_all_raw(db::statement(
            db,
            &format!("{sql}AND m.id > ? ORDER BY m.id DESC LIMIT ?"),
            recent_values,
        ))
        .await?;
    if recent.len() as i64 >= limit {
        return Ok(recent);
    }
    let mut all_values = values;
    all_values.push(Value::from(limit));
    // `+ 0` keeps PostgreSQL off the primary key: walking it newest first would read
    // the whole history to find a rare word, where the GIN index finds its few messages
    // at once.
    db.query_all_raw(db::statement(
        db,
        &format!("{sql}ORDER BY m.id + 0 DESC LIMIT ?"),
        all_values,
    ))
    .await
}

/// The range of ids the query's dates leave: a date is an id bound the indexes can
/// seek to, where a condition on the time is checked match by match. The conditions on
/// the time stay, so the bounds only ever narrow.
#[derive(Clone, Copy, Debug, Default)]
struct IdBounds {
    /// `before:`: the last message written before it.
    upper: Option<i64>,
    /// `after:`: the first message written from it.
    lower: Option<i64>,
}

impl IdBounds {
    /// The bounds of `query`, or `None` when its dates leave no message at all.
    async fn of(db: &DatabaseConnection, query: &SearchQuery) -> Result<Option<Self>, DbErr> {
        let mut bounds = Self::default();
        if let Some(before) = query.before {
            match first_id(db, "created_at < ? ORDER BY created_at DESC", before).await? {
                Some(id) => bounds.upper = Some(id),
                None => return Ok(None),
            }
        }
        if let Some(after) = query.after {
            match first_id(db, "created_at >= ? ORDER BY created_at", after).await? {
                Some(id) => bounds.lower = Some(id),
                None => return Ok(None),
            }
        }
        Ok(Some(bounds))
    }
}

/// The id of the first message `condition` (with `time`) finds, one seek into
/// `idx_messages_created_at`. Ids follow the time a message was stamped with, as one
/// writer commits them in order; across processes on PostgreSQL their clocks may
/// differ by a few milliseconds, which could leave out a message written that close
/// to the date's midnight (a known limit: the price of a seek instead of a scan).
async fn first_id(
    db: &DatabaseConnection,
    condition: &str,
    time: i64,
) -> Result<Option<i64>, DbErr> {
    let row = db
        .query_one_raw(db::statement(
            db,
            &format!("SELECT id FROM messages WHERE {condition} LIMIT 1"),
            [Value::from(time)],
        ))
        .await?;
    row.map(|row| row.try_get("", "id")).transpose()
}

/// The filters the index holds as words of each message's entry (see the migration
/// `m20261201_000013_search_filters`): its conversation and its author.
#[derive(Clone, Copy, Debug)]
struct Tags {
    conversation_id: Option<i64>,
    author_id: Option<i64>,
}

impl Tags {
    fn is_empty(&self) -> bool {
        self.conversation_id.is_none() && self.author_id.is_none()
    }

    /// The tags' words: `c{id}` and `u{id}`.
    fn words(&self) -> impl Iterator<Item = String> {
        let conversation = self.conversation_id.map(|id| format!("c{id}"));
        let author = self.author_id.map(|id| format!("u{id}"));
        conversation.into_iter().chain(author)
    }

    /// SQLite: the tags as phrases of the `tags` column, to follow the query's own.
    fn fts5(&self) -> String {
        self.words().map(|w| format!(" tags : \"{w}\"")).collect()
    }

    /// PostgreSQL: one more required lexeme per tag, each given as a value.
    fn tsquery(&self) -> String {
        self.words().map(|_| " && CAST(? AS tsquery)").collect()
    }

    /// PostgreSQL: the values for [`Self::tsquery`], quoted lexemes `'#c{id}'`.
    fn lexemes(&self) -> impl Iterator<Item = String> {
        self.words().map(|w| format!("'#{w}'"))
    }
}

/// PostgreSQL: a query of `terms` phrases, all required, each given as a value.
fn tsquery(terms: usize) -> String {
    vec!["phraseto_tsquery('simple', hearth_search_fold(?))"; terms].join(" && ")
}

/// `text` matched literally by LIKE.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The terms as an FTS5 expression: each term a quoted phrase of its words, all of them
/// required. The words hold letters and digits only, so nothing in them is syntax; they
/// go as typed, for the index's tokenizer to fold as it folded the text.
fn fts5_expression(terms: &[&Term]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.typed_words().join(" ")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_term_is_one_quoted_phrase() {
        let query = SearchQuery::parse(r#"NEAR( "café noir" x*"#).expect("a query");
        let terms: Vec<&Term> = query.terms.iter().collect();
        assert_eq!(fts5_expression(&terms), r#""NEAR" "café noir" "x""#);
    }
}
