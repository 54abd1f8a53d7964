//! What administrators do to people: make an account (the first one on a database is
//! the administrator), give or take the administrator's role, deactivate and
//! reactivate. Deactivating ends the person's sessions and closes their sockets at
//! once, in every process: the sessions are rows every process reads, and the sockets
//! are closed by [`crate::live::Hub::end_access`], which the bus carries.
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QuerySelect,
};

use super::Role;
use crate::{
    accounts::{Password, Username, password},
    db::{self, now_ms},
    entities::user,
    error::AppError,
    live::Hub,
    web::session_store::DbSessionStore,
};

/// Stores a new account; the first account of the database becomes its administrator
/// (the one with the lowest id, so two first sign-ups racing make one administrator).
pub async fn insert_account(
    db: &DatabaseConnection,
    username: &Username,
    password_hash: String,
) -> Result<i64, DbErr> {
    let id = user::Entity::insert(user::ActiveModel {
        username: Set(username.as_str().to_owned()),
        username_key: Set(username.key()),
        password_hash: Set(password_hash),
        created_at: Set(now_ms()),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    let crowned = db
        .execute_raw(db::statement(
            db,
            "UPDATE users SET role = 'admin' WHERE id = ? AND id = (SELECT MIN(id) FROM users)",
            [id.into()],
        ))
        .await?;
    if crowned.rows_affected() > 0 {
        tracing::info!(user_id = id, "the first account is the administrator");
    }
    Ok(id)
}

/// `hearth admin create-user [--admin] NAME`: makes an account with `password`.
pub async fn create_user(
    db: &DatabaseConnection,
    name: &str,
    password_text: &str,
    admin: bool,
) -> Result<i64, AppError> {
    let username = Username::parse_new(name).map_err(AppError::Refused)?;
    let chosen = Password::choose(password_text, name).map_err(AppError::Refused)?;
    let limits = crate::limits::Limits::new(crate::limits::LimitSettings::default());
    let turn = limits
        .hashing_turn(std::net::Ipv4Addr::LOCALHOST.into())
        .map_err(|_| AppError::Internal("no hashing turn".into()))?;
    let hash = password::hash(chosen, turn).await?;
    let id = insert_account(db, &username, hash).await?;
    if admin {
        set_role_of(db, id, Role::Admin).await?;
    }
    Ok(id)
}

async fn set_role_of(db: &DatabaseConnection, id: i64, role: Role) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(user::Column::Role, role.as_str().into())
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The account called `name` (any case).
pub async fn named(db: &DatabaseConnection, name: &str) -> Result<Option<user::Model>, DbErr> {
    let Ok(name) = Username::parse(name) else {
        return Ok(None);
    };
    user::Entity::find()
        .filter(user::Column::UsernameKey.eq(name.key()))
        .one(db)
        .await
}

/// How many active administrators there are.
pub(crate) async fn admins(db: &DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::DeactivatedAt.is_null())
        .count(db)
        .await
}

/// Gives `person` `role`. The last active administrator keeps theirs: a site without
/// one could never be run again but from the command line.
pub async fn set_role(
    db: &DatabaseConnection,
    person: &user::Model,
    role: Role,
) -> Result<(), AppError> {
    if role == Role::Member && Role::of(person) == Role::Admin && admins(db).await? <= 1 {
        return Err(AppError::Refused(
            "hearth needs an administrator: make someone else one first.",
        ));
    }
    set_role_of(db, person.id, role).await?;
    tracing::info!(user_id = person.id, role = role.as_str(), "role changed");
    Ok(())
}

/// Deactivates `person`: they cannot log in, their sessions end and their sockets
/// close, here and in every other process. Nobody deactivates themselves (the last
/// administrator would lock everyone out).
pub async fn deactivate(
    db: &DatabaseConnection,
    sessions: &DbSessionStore,
    hub: &Hub,
    by: i64,
    person: &user::Model,
) -> Result<(), AppError> {
    if person.id == by {
        return Err(AppError::Refused("You cannot deactivate yourself."));
    }
    // The mark goes first: a log-in racing with this finds it and is refused.
    user::Entity::update_many()
        .col_expr(user::Column::DeactivatedAt, now_ms().into())
        .filter(user::Column::Id.eq(person.id))
        .filter(user::Column::DeactivatedAt.is_null())
        .exec(db)
        .await?;
    let ended = sessions.end_sessions_of(person.id, None).await?;
    for session in &ended {
        hub.close_session(session);
    }
    hub.end_access(person.id, None);
    tracing::info!(
        user_id = person.id,
        sessions = ended.len(),
        "account deactivated"
    );
    Ok(())
}

pub async fn reactivate(db: &DatabaseConnection, person: &user::Model) -> Result<(), AppError> {
    user::Entity::update_many()
        .col_expr(user::Column::DeactivatedAt, Option::<i64>::None.into())
        .filter(user::Column::Id.eq(person.id))
        .exec(db)
        .await?;
    tracing::info!(user_id = person.id, "account reactivated");
    Ok(())
}

/// One person as the admin page lists them.
pub struct Listed {
    pub user: user::Model,
    pub online: bool,
}

/// People whose name starts with `q` (everyone when empty), by name, at most `limit`.
pub async fn list(db: &DatabaseConnection, q: &str, limit: u64) -> Result<Vec<user::Model>, DbErr> {
    // Deleted accounts are tombstones, nobody to administer.
    let mut query = user::Entity::find()
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::IsGuest.eq(false));
    let q = q.trim().to_ascii_lowercase();
    if !q.is_empty() {
        query = query.filter(user::Column::UsernameKey.starts_with(&q));
    }
    use sea_orm::QueryOrder;
    query
        .order_by_asc(user::Column::UsernameKey)
        .limit(limit)
        .all(db)
        .await
}
