//! Who may make an account: anyone (`open`), only people with an invite link
//! (`invite`, see [`super::invites`]), or nobody (`closed`: administrators make
//! accounts with `hearth admin create-user`). The policy is a row of `settings`, so every
//! process reads the same one and an administrator's change holds at once; `--signup`
//! writes it when the server starts.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::db;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SignupPolicy {
    #[default]
    Open,
    Invite,
    Closed,
}

const SETTING: &str = "signup";

impl SignupPolicy {
    pub const ALL: [SignupPolicy; 3] = [
        SignupPolicy::Open,
        SignupPolicy::Invite,
        SignupPolicy::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignupPolicy::Open => "open",
            SignupPolicy::Invite => "invite",
            SignupPolicy::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw.trim())
    }

    /// What the admin page says of it.
    pub fn describe(self) -> &'static str {
        match self {
            SignupPolicy::Open => "Anyone can sign up",
            SignupPolicy::Invite => "Only people with the invite link can sign up",
            SignupPolicy::Closed => "Nobody can sign up; administrators make accounts",
        }
    }

    /// Whether someone may sign up, with an invite link (`invited`) or without.
    pub fn admits(self, invited: bool) -> bool {
        match self {
            SignupPolicy::Open => true,
            SignupPolicy::Invite => invited,
            SignupPolicy::Closed => false,
        }
    }
}

impl std::str::FromStr for SignupPolicy {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw).ok_or_else(|| format!("{raw:?} is not one of open, invite, closed"))
    }
}

/// The policy in force (open when none was ever chosen).
pub async fn current(db: &DatabaseConnection) -> Result<SignupPolicy, DbErr> {
    Ok(setting(db, SETTING)
        .await?
        .and_then(|value| SignupPolicy::parse(&value))
        .unwrap_or_default())
}

pub async fn choose(db: &DatabaseConnection, policy: SignupPolicy) -> Result<(), DbErr> {
    choose_setting(db, SETTING, policy.as_str()).await
}

/// The site setting `name` (a row of `settings`), if one was chosen.
pub async fn setting(db: &DatabaseConnection, name: &str) -> Result<Option<String>, DbErr> {
    let row = db
        .query_one_raw(db::statement(
            db,
            "SELECT value FROM settings WHERE name = ?",
            [name.into()],
        ))
        .await?;
    row.map(|row| row.try_get::<String>("", "value"))
        .transpose()
}

/// Stores the site setting `name`.
pub async fn choose_setting(db: &DatabaseConnection, name: &str, value: &str) -> Result<(), DbErr> {
    db.execute_raw(db::statement(
        db,
        "INSERT INTO settings (name, value) VALUES (?, ?) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [name.into(), value.into()],
    ))
    .await?;
    Ok(())
}
