//! `GET /admin`, `GET /admin/figures`, and the administrators' actions, each a POST
//! answered 303 back to `/admin`: `users/{name}/deactivate`, `…/reactivate`, `…/role`
//! (`role=admin|member`), `invite` (a new invite link: `single_use`, `expires_hours`),
//! `signup` (`policy=open|invite|closed`) and `rooms` (`creators=everyone|admins`);
//! `users/{name}/login-link` answers a page with a one-time log-in link. Each takes [`Admin`], so anyone else
//! gets 404.
use std::sync::Arc;

use poem::{
    IntoResponse, Response, handler,
    web::{Data, Form, Path, Query, Redirect},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Deserialize;

use super::{Admin, Role, people, views};
use crate::{
    accounts::{invites, policy},
    chat::{Chat, ConversationKind, sidebar},
    db::{self, now_ms},
    entities::{conversation, user},
    error::AppError,
    rooms::Creators,
    web::session::Sessions,
};

/// People and rooms the page lists at most.
const LISTED: u64 = 200;

#[derive(Debug, Default, Deserialize)]
pub struct AdminQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    done: String,
}

#[handler]
pub async fn show(
    Admin(viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
    Query(query): Query<AdminQuery>,
) -> Result<Response, AppError> {
    let db = &chat.db;
    let q: String = query.q.trim().chars().take(32).collect();
    let found = people::list(db, &q, LISTED).await?;
    let ids: Vec<i64> = found.iter().map(|u| u.id).collect();
    let online = chat.hub.online_among(&ids).await;
    let seen = last_seen(db).await?;
    let people: Vec<views::Person> = found
        .into_iter()
        .map(|user| views::Person {
            online: online.contains(&user.id),
            last_seen: seen
                .iter()
                .find(|(id, _)| *id == user.id)
                .map(|(_, at)| *at),
            user,
        })
        .collect();
    let rooms = conversation::Entity::find()
        .filter(conversation::Column::Kind.eq(ConversationKind::Room.as_str()))
        .order_by_desc(conversation::Column::LastActivityAt)
        .limit(LISTED)
        .all(db)
        .await?;
    let invite = invites::current(db).await?;
    let figures = figures_now(chat).await?;
    let notice = match query.done.as_str() {
        "deactivated" => Some("Deactivated: their sessions have ended."),
        "reactivated" => Some("Reactivated: they can log in again."),
        "role" => Some("Role changed."),
        "invite" => Some("A new invite link is ready; the old one no longer works."),
        "signup" => Some("Sign-up policy saved."),
        "rooms" => Some("Saved who may create rooms."),
        _ => None,
    };
    let sidebar = sidebar::for_user(db, viewer.id, None).await?;
    Ok(views::page(
        views::AdminPage {
            viewer: &viewer,
            q: &q,
            people: &people,
            rooms: &rooms,
            invite: invite.as_ref(),
            policy: policy::current(db).await?,
            creators: Creators::current(db).await?,
            figures: &figures,
            notice,
        },
        sidebar,
    )
    .into_response())
}

/// `GET /admin/figures`: the live figures alone, for the page to refresh.
#[handler]
pub async fn live_figures(
    Admin(_viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
) -> Result<Response, AppError> {
    Ok(views::figures(&figures_now(chat).await?).into_response())
}

/// When each person last used a session: sessions roll their expiry forward when used
/// (at most once a day), so the latest expiry less the session's life is that day.
async fn last_seen(db: &DatabaseConnection) -> Result<Vec<(i64, i64)>, DbErr> {
    const SESSION_LIFE_MS: i64 = 30 * 86_400_000;
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT user_id, MAX(expires_at) AS latest FROM sessions \
             WHERE user_id IS NOT NULL GROUP BY user_id",
            [],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<i64>("", "user_id")?,
                row.try_get::<i64>("", "latest")? - SESSION_LIFE_MS,
            ))
        })
        .collect()
}

async fn figures_now(chat: &Chat) -> Result<views::Figures, AppError> {
    let db = &chat.db;
    const HOUR: i64 = 3_600_000;
    let now = now_ms();
    let this_hour = now / HOUR;
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!(
                "SELECT created_at / {HOUR} AS hour, COUNT(*) AS n FROM messages \
                 WHERE created_at >= ? GROUP BY created_at / {HOUR}"
            ),
            [((this_hour - 23) * HOUR).into()],
        ))
        .await?;
    let mut hourly = vec![0_i64; 24];
    for row in &rows {
        let hour: i64 = row.try_get("", "hour")?;
        let n: i64 = row.try_get("", "n")?;
        if let Some(slot) = usize::try_from(hour - (this_hour - 23))
            .ok()
            .and_then(|i| hourly.get_mut(i))
        {
            *slot += n;
        }
    }
    Ok(views::Figures {
        sockets: chat.hub.socket_count(),
        online: chat.hub.site_online().await,
        hourly,
        database_bytes: database_size(db).await.ok(),
    })
}

async fn database_size(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let sql = if db::is_sqlite(db) {
        "SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()"
    } else {
        "SELECT pg_database_size(current_database())::bigint AS bytes"
    };
    let row = db
        .query_one_raw(db::statement(db, sql, []))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("database size".into()))?;
    row.try_get("", "bytes")
}

async fn person(db: &DatabaseConnection, name: &str) -> Result<user::Model, AppError> {
    people::named(db, name).await?.ok_or(AppError::NotFound)
}

fn back(done: &str) -> Response {
    Redirect::see_other(format!("/admin?done={done}")).into_response()
}

#[handler]
pub async fn deactivate(
    Admin(viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
    Data(sessions): Data<&Arc<Sessions>>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let person = person(&chat.db, &name).await?;
    people::deactivate(&chat.db, &sessions.store, &chat.hub, viewer.id, &person).await?;
    Ok(back("deactivated"))
}

#[handler]
pub async fn reactivate(
    Admin(_viewer): Admin,
    Data(db): Data<&DatabaseConnection>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let person = person(db, &name).await?;
    people::reactivate(db, &person).await?;
    Ok(back("reactivated"))
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

#[handler]
pub async fn role(
    Admin(_viewer): Admin,
    Data(db): Data<&DatabaseConnection>,
    Path(name): Path<String>,
    Form(form): Form<RoleForm>,
) -> Result<Response, AppError> {
    let person = person(db, &name).await?;
    let role = Role::parse(&form.role).ok_or(AppError::Refused("A role is admin or member."))?;
    people::set_role(db, &person, role).await?;
    Ok(back("role"))
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    single_use: String,
    #[serde(default)]
    expires_hours: String,
}

#[handler]
pub async fn reset_invite(
    Admin(viewer): Admin,
    Data(db): Data<&DatabaseConnection>,
    Form(form): Form<InviteForm>,
) -> Result<Response, AppError> {
    let hours = match form.expires_hours.trim() {
        "" => None,
        raw => Some(raw.parse::<i64>().map_err(|_| {
            AppError::Refused("Give the hours as a whole number, or leave them empty.")
        })?),
    };
    let single_use = !form.single_use.is_empty();
    invites::reset(db, viewer.id, single_use, hours).await?;
    tracing::info!(by = viewer.id, single_use, "invite link reset");
    Ok(back("invite"))
}

#[derive(Debug, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    policy: String,
}

#[handler]
pub async fn signup_policy(
    Admin(viewer): Admin,
    Data(db): Data<&DatabaseConnection>,
    Form(form): Form<PolicyForm>,
) -> Result<Response, AppError> {
    let chosen = policy::SignupPolicy::parse(&form.policy).ok_or(AppError::Refused(
        "Sign-ups are open, by invite, or closed.",
    ))?;
    policy::choose(db, chosen).await?;
    tracing::info!(
        by = viewer.id,
        policy = chosen.as_str(),
        "sign-up policy changed"
    );
    Ok(back("signup"))
}

#[derive(Debug, Deserialize)]
pub struct CreatorsForm {
    #[serde(default)]
    creators: String,
}

/// `POST /admin/rooms` (`creators=everyone|admins`): who may create rooms.
#[handler]
pub async fn room_creators(
    Admin(viewer): Admin,
    Data(db): Data<&DatabaseConnection>,
    Form(form): Form<CreatorsForm>,
) -> Result<Response, AppError> {
    let chosen = Creators::parse(&form.creators).ok_or(AppError::Refused(
        "Rooms are created by everyone, or by administrators only.",
    ))?;
    chosen.choose(db).await?;
    tracing::info!(
        by = viewer.id,
        creators = chosen.as_str(),
        "room creation changed"
    );
    Ok(back("rooms"))
}

/// `POST /admin/users/{name}/login-link`: a one-time log-in link for someone who lost
/// their password, shown once on the page that answers.
#[handler]
pub async fn login_link(
    Admin(viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let person = person(&chat.db, &name).await?;
    if person.deactivated_at.is_some() {
        return Err(AppError::Refused("Reactivate them first."));
    }
    if person.is_bot {
        return Err(AppError::Refused(
            "A bot does not log in: give it a new API token on the bots page.",
        ));
    }
    let path = crate::accounts::login_links::make(&chat.db, person.id, viewer.id).await?;
    tracing::info!(
        by = viewer.id,
        user_id = person.id,
        "one-time log-in link made"
    );
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    Ok(views::login_link(
        &viewer,
        &person.username,
        &path,
        sidebar,
        chat.hub.site_online().await,
    )
    .into_response())
}
