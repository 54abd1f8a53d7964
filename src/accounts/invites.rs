//! Invite links (`/join/{code}`): with the `invite` sign-up policy, the only way in. An
//! administrator makes the link, and resetting it makes a new one and revokes every
//! other, so a link that leaked stops working at once. A link may be single-use (the
//! first account made with it uses it up) and may expire.
//!
//! A code is 128 random bits: it cannot be guessed, and it is compared by the
//! database's index, not in a loop.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::db::{self, now_ms};

/// An invite link as the admin page shows it.
#[derive(Clone, Debug)]
pub struct Invite {
    pub code: String,
    pub single_use: bool,
    pub expires_at: Option<i64>,
}

impl Invite {
    pub fn path(&self) -> String {
        format!("/join/{}", self.code)
    }
}

/// Why a code lets nobody in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such link, or it was reset.
    Unknown,
    /// A single-use link someone already used.
    Used,
    Expired,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Unknown => {
                "This invite link does not work: it may have been mistyped or replaced by a new one. Ask whoever sent it for the current link."
            }
            Refusal::Used => {
                "This invite link has already been used. Ask whoever sent it for a new one."
            }
            Refusal::Expired => "This invite link has expired. Ask whoever sent it for a new one.",
        }
    }
}

fn new_code() -> String {
    crate::secret_token::random(16)
}

/// Revokes every link and makes a new one.
pub async fn reset(
    db: &DatabaseConnection,
    by: i64,
    single_use: bool,
    lasts_hours: Option<i64>,
) -> Result<Invite, DbErr> {
    let now = now_ms();
    let invite = Invite {
        code: new_code(),
        single_use,
        expires_at: lasts_hours.map(|h| now + h.clamp(1, 24 * 365) * 3_600_000),
    };
    db.execute_raw(db::statement(
        db,
        "UPDATE invites SET revoked_at = ? WHERE revoked_at IS NULL",
        [now.into()],
    ))
    .await?;
    db.execute_raw(db::statement(
        db,
        "INSERT INTO invites (code, created_by, created_at, expires_at, single_use) \
         VALUES (?, ?, ?, ?, ?)",
        [
            invite.code.as_str().into(),
            by.into(),
            now.into(),
            invite.expires_at.into(),
            single_use.into(),
        ],
    ))
    .await?;
    Ok(invite)
}

/// The link in force, if an administrator made one.
pub async fn current(db: &DatabaseConnection) -> Result<Option<Invite>, DbErr> {
    let row = db
        .query_one_raw(db::statement(
            db,
            "SELECT code, single_use, expires_at FROM invites WHERE revoked_at IS NULL \
             ORDER BY created_at DESC LIMIT 1",
            [],
        ))
        .await?;
    row.map(|row| {
        Ok(Invite {
            code: row.try_get("", "code")?,
            single_use: row.try_get("", "single_use")?,
            expires_at: row.try_get("", "expires_at")?,
        })
    })
    .transpose()
}

/// Whether `code` lets someone in now.
pub async fn check(db: &DatabaseConnection, code: &str) -> Result<Result<(), Refusal>, DbErr> {
    if code.len() > 64 {
        return Ok(Err(Refusal::Unknown));
    }
    let row = db
        .query_one_raw(db::statement(
            db,
            "SELECT single_use, expires_at, used_at, revoked_at FROM invites WHERE code = ?",
            [code.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(Err(Refusal::Unknown));
    };
    if row.try_get::<Option<i64>>("", "revoked_at")?.is_some() {
        return Ok(Err(Refusal::Unknown));
    }
    if row.try_get::<bool>("", "single_use")?
        && row.try_get::<Option<i64>>("", "used_at")?.is_some()
    {
        return Ok(Err(Refusal::Used));
    }
    if row
        .try_get::<Option<i64>>("", "expires_at")?
        .is_some_and(|at| at <= now_ms())
    {
        return Ok(Err(Refusal::Expired));
    }
    Ok(Ok(()))
}

/// Takes `code` for one account: a single-use link only once, whoever races for it.
pub async fn take(db: &DatabaseConnection, code: &str) -> Result<Result<(), Refusal>, DbErr> {
    if let Err(refusal) = check(db, code).await? {
        return Ok(Err(refusal));
    }
    let done = db
        .execute_raw(db::statement(
            db,
            "UPDATE invites SET used_at = ? WHERE code = ? AND revoked_at IS NULL \
             AND (single_use = ? OR used_at IS NULL)",
            [now_ms().into(), code.into(), false.into()],
        ))
        .await?;
    Ok(if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(Refusal::Used)
    })
}

/// Gives back a link taken for an account that was not made after all.
pub async fn give_back(db: &DatabaseConnection, code: &str) -> Result<(), DbErr> {
    db.execute_raw(db::statement(
        db,
        "UPDATE invites SET used_at = NULL WHERE code = ? AND single_use = ?",
        [code.into(), true.into()],
    ))
    .await?;
    Ok(())
}
