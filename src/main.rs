//! The `hearth` binary: parses flags (with environment fallbacks) and starts the
//! server, runs the migrations, makes accounts or copies the database. Everything
//! else is in the library.
use std::{process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand};
use hearth::telemetry::LogFormat;

#[derive(Parser)]
#[command(name = "hearth", version, about = "A real-time chat web app")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
    /// How log lines are written to stderr: text, or one JSON object per line.
    #[arg(
        long,
        env = "HEARTH_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    log_format: LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Serve hearth (the default).
    Serve(Box<ServeArgs>),
    /// Bring the database schema up to date and exit.
    Migrate(DatabaseArgs),
    /// Administer hearth from the command line.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Write a consistent copy of the SQLite database to FILE, also while a server is
    /// serving it. FILE must not exist. (For PostgreSQL, use pg_dump.)
    Backup {
        /// Where the copy goes.
        file: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Make an account, reading its password from the first line of standard input.
    CreateUser {
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// The username.
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args, Clone)]
struct DatabaseArgs {
    /// `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://hearth.db?mode=rwc"
    )]
    database_url: String,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HEARTH_ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Mark the session cookie Secure (when served over HTTPS).
    #[arg(long, env = "HEARTH_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Another origin allowed to open WebSockets (e.g. https://chat.example.com behind
    /// a proxy that rewrites Host); may be repeated.
    #[arg(
        long = "allowed-origin",
        env = "HEARTH_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    push: PushArgs,
    /// Let bots' outgoing webhooks call plain HTTP and private or loopback addresses
    /// (tests and closed networks only).
    #[arg(long, env = "HEARTH_WEBHOOKS_ALLOW_PRIVATE_TARGETS")]
    webhooks_allow_private_targets: bool,
    #[command(flatten)]
    http: HttpArgs,
    /// Who may make an account: open, invite (only with an invite link) or closed.
    /// Stored on start; without it, the policy last chosen holds (open at first).
    #[arg(long, env = "HEARTH_SIGNUP")]
    signup: Option<hearth::accounts::policy::SignupPolicy>,
    #[command(flatten)]
    files: FileArgs,
    /// Serve `GET /metrics` (Prometheus text) on this address, e.g. 127.0.0.1:9090: a
    /// second listener, never the public one. Without it no figures are kept.
    #[arg(long, env = "HEARTH_METRICS_ADDR")]
    metrics_addr: Option<String>,
    #[command(flatten)]
    mail: MailArgs,
}

/// Email, for password reset links.
#[derive(Args, Clone)]
struct MailArgs {
    /// The SMTP server to send through: `smtp://host:port` (plain),
    /// `smtp://host?tls=required` (STARTTLS), `smtps://user:pass@host` (TLS). Without
    /// it hearth sends no email and offers no "forgot password" link.
    #[arg(long, env = "HEARTH_SMTP_URL")]
    smtp_url: Option<String>,
    /// Who hearth's email comes from.
    #[arg(
        long,
        env = "HEARTH_MAIL_FROM",
        default_value = "hearth <hearth@localhost>"
    )]
    mail_from: String,
    /// The site's address as people reach it (e.g. https://chat.example.com): links in
    /// email start with it. Set it whenever --smtp-url is set: without it, a link names
    /// the host the request for it came to, which whoever asks can choose.
    #[arg(long, env = "HEARTH_PUBLIC_URL")]
    public_url: Option<String>,
}

/// Files people attach to messages.
#[derive(Args, Clone)]
struct FileArgs {
    /// Where files are kept: a folder (default `hearth-files/` beside a SQLite
    /// database, else in the working directory), or `s3://BUCKET` for an S3-compatible
    /// store configured by the usual `AWS_*` variables (`AWS_ENDPOINT` for one that is
    /// not AWS).
    #[arg(long, env = "HEARTH_FILES_URL")]
    files_url: Option<String>,
    /// The largest file, in MiB (413 past it).
    #[arg(long, env = "HEARTH_MAX_UPLOAD_MB", default_value_t = 25)]
    max_upload_mb: u64,
    /// All files of one message together, in MiB (413 past it).
    #[arg(long, env = "HEARTH_MAX_MESSAGE_UPLOAD_MB", default_value_t = 100)]
    max_message_upload_mb: u64,
}

impl From<FileArgs> for hearth::files::FileSettings {
    fn from(args: FileArgs) -> Self {
        const MIB: u64 = 1024 * 1024;
        hearth::files::FileSettings {
            url: args.files_url,
            max_file_bytes: args.max_upload_mb.saturating_mul(MIB),
            max_message_bytes: args
                .max_message_upload_mb
                .max(args.max_upload_mb)
                .saturating_mul(MIB),
            ..Default::default()
        }
    }
}

/// Web Push to people with no page open.
#[derive(Args, Clone)]
struct PushArgs {
    /// Who runs this server, as push services are told (mailto: or https: URL).
    #[arg(
        long,
        env = "HEARTH_PUSH_CONTACT",
        default_value = "mailto:hearth@localhost"
    )]
    push_contact: String,
    /// Accept push endpoints over plain HTTP or on private addresses (tests only).
    #[arg(long, env = "HEARTH_PUSH_ALLOW_PRIVATE_ENDPOINTS")]
    push_allow_private_endpoints: bool,
    /// Seconds after a push during which more messages of that conversation go as one.
    #[arg(long, env = "HEARTH_PUSH_COALESCE_SECONDS", default_value_t = 15)]
    push_coalesce_seconds: u64,
}

impl From<PushArgs> for hearth::push::PushSettings {
    fn from(args: PushArgs) -> Self {
        hearth::push::PushSettings {
            contact: args.push_contact,
            allow_private_endpoints: args.push_allow_private_endpoints,
            coalesce: Duration::from_secs(args.push_coalesce_seconds),
        }
    }
}

/// How long connections may wait, and how many one address may hold.
#[derive(Args, Clone)]
struct HttpArgs {
    /// Seconds from a request's first byte to the end of its head.
    #[arg(long, env = "HEARTH_HEADER_READ_TIMEOUT", default_value_t = 10)]
    header_read_timeout: u64,
    /// Seconds an idle connection is kept open for its next request.
    #[arg(long, env = "HEARTH_KEEP_ALIVE_TIMEOUT", default_value_t = 30)]
    keep_alive_timeout: u64,
    /// Seconds a request's body may take to arrive (408 past it).
    #[arg(long, env = "HEARTH_BODY_TIMEOUT", default_value_t = 30)]
    body_timeout: u64,
    /// HTTP connections one address may hold open at once (behind a proxy, the
    /// proxy is one address: raise it).
    #[arg(long, env = "HEARTH_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    connections_per_address: usize,
    /// WebSocket handshakes worked on at once; the others wait their turn (default:
    /// two per core).
    #[arg(long, env = "HEARTH_HANDSHAKES_AT_ONCE")]
    handshakes_at_once: Option<usize>,
}

impl From<HttpArgs> for hearth::web::serve::HttpSettings {
    fn from(args: HttpArgs) -> Self {
        hearth::web::serve::HttpSettings {
            header_read_timeout: Duration::from_secs(args.header_read_timeout.max(1)),
            keep_alive_timeout: Duration::from_secs(args.keep_alive_timeout.max(1)),
            body_timeout: Duration::from_secs(args.body_timeout.max(1)),
            connections_per_address: args.connections_per_address,
            handshakes_at_once: args
                .handshakes_at_once
                .unwrap_or_else(hearth::web::serve::default_handshakes_at_once),
        }
    }
}

/// Abuse limits; the defaults suit a public server.
#[derive(Args, Clone)]
struct LimitArgs {
    /// Messages one person may send in a burst.
    #[arg(long, env = "HEARTH_MESSAGE_BURST", default_value_t = 20)]
    message_burst: u32,
    /// Messages per second one person may send after a burst.
    #[arg(long, env = "HEARTH_MESSAGES_PER_SECOND", default_value_t = 1)]
    messages_per_second: u32,
    /// Sign-ups one address may make in a burst (then one per six minutes).
    #[arg(long, env = "HEARTH_SIGNUP_BURST", default_value_t = 10)]
    signup_burst: u32,
    /// Rooms one person may create in a burst (then one a minute).
    #[arg(long, env = "HEARTH_ROOM_BURST", default_value_t = 10)]
    room_burst: u32,
    /// Visitors' conversations (the support widget) one address may start a minute.
    #[arg(long, env = "HEARTH_GUESTS_PER_MINUTE", default_value_t = 10)]
    guests_per_minute: u32,
    /// Failed log-ins for one account before attempts are slowed down.
    #[arg(long, env = "HEARTH_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 5)]
    login_failures_per_account: u32,
    /// Failed log-ins from one address before attempts are slowed down.
    #[arg(long, env = "HEARTH_LOGIN_FAILURES_PER_ADDRESS", default_value_t = 20)]
    login_failures_per_address: u32,
    /// Password hashes (log-ins, sign-ups) in flight at once; more wait outside (429).
    #[arg(long, env = "HEARTH_HASHES_IN_FLIGHT", default_value_t = 32)]
    hashes_in_flight: usize,
    /// Password hashes in flight at once for one address.
    #[arg(long, env = "HEARTH_HASHES_IN_FLIGHT_PER_ADDRESS", default_value_t = 2)]
    hashes_in_flight_per_address: usize,
    /// WebSockets one person may hold open.
    #[arg(long, env = "HEARTH_SOCKETS_PER_USER", default_value_t = 20)]
    sockets_per_user: usize,
    /// WebSockets this process holds at most (503 past it).
    #[arg(long, env = "HEARTH_MAX_SOCKETS", default_value_t = 50_000)]
    max_sockets: usize,
    /// Messages with @here or @everyone one person may send at once (then one per
    /// two minutes).
    #[arg(long, env = "HEARTH_GROUP_MENTION_BURST", default_value_t = 3)]
    group_mention_burst: u32,
    /// WebSockets being set up at once (upgrade and catch-up); past it, 503.
    #[arg(long, env = "HEARTH_HANDSHAKES_IN_FLIGHT", default_value_t = 256)]
    handshakes_in_flight: usize,
    /// Unknown API tokens one address may present before each further try waits
    /// longer.
    #[arg(long, env = "HEARTH_TOKEN_FAILURES_PER_ADDRESS", default_value_t = 20)]
    token_failures_per_address: u32,
}

impl From<LimitArgs> for hearth::limits::LimitSettings {
    fn from(args: LimitArgs) -> Self {
        hearth::limits::LimitSettings {
            message_burst: args.message_burst,
            messages_per_second: args.messages_per_second,
            signup_burst: args.signup_burst,
            room_burst: args.room_burst,
            guests_per_minute: args.guests_per_minute,
            login_failures_per_account: args.login_failures_per_account,
            login_failures_per_address: args.login_failures_per_address,
            hashes_in_flight: args.hashes_in_flight,
            hashes_in_flight_per_address: args.hashes_in_flight_per_address,
            sockets_per_user: args.sockets_per_user,
            max_sockets: args.max_sockets,
            group_mention_burst: args.group_mention_burst,
            handshakes_in_flight: args.handshakes_in_flight,
            token_failures_per_address: args.token_failures_per_address,
        }
    }
}

impl From<ServeArgs> for hearth::Config {
    fn from(args: ServeArgs) -> Self {
        hearth::Config {
            addr: args.addr,
            database_url: args.database.database_url,
            secure_cookies: args.secure_cookies,
            allowed_origins: args.allowed_origins,
            shutdown_grace: Duration::from_secs(8),
            limits: args.limits.into(),
            live: hearth::live::LiveSettings::default(),
            webhooks: hearth::bots::outgoing::WebhookSettings {
                allow_private_targets: args.webhooks_allow_private_targets,
                ..Default::default()
            },
            push: args.push.into(),
            http: args.http.into(),
            signup: args.signup,
            files: args.files.into(),
            metrics_addr: args.metrics_addr,
            mail: hearth::accounts::mail::MailSettings {
                smtp_url: args.mail.smtp_url,
                from: args.mail.mail_from,
                public_url: args.mail.public_url,
            },
        }
    }
}

/// mimalloc: the server allocates many small, short-lived buffers (fragments, rows),
/// where glibc's allocator showed up at 15% of a page-load profile. Built without its
/// advice for transparent huge pages (Cargo.toml), which cost idle memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    hearth::telemetry::init(cli.log_format);
    let outcome = match cli.command {
        Some(Command::Migrate(args)) => migrate(args).await,
        Some(Command::Serve(args)) => serve(*args).await,
        Some(Command::Admin(AdminCommand::CreateUser {
            admin,
            name,
            database,
        })) => create_user(database, &name, admin).await,
        Some(Command::Backup { file, database }) => backup(database, file).await,
        None => serve(cli.serve).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("hearth: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let server = hearth::Server::build(args.into()).await?;
    server.run().await?;
    Ok(())
}

async fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    let db = hearth::db::connect(&args.database_url).await?;
    hearth::db::migrate(&db).await?;
    println!(
        "hearth: the database at {} is up to date",
        args.database_url
    );
    Ok(())
}

async fn backup(args: DatabaseArgs, file: std::path::PathBuf) -> anyhow::Result<()> {
    let url = args.database_url;
    let target = file.clone();
    let copied = tokio::task::spawn_blocking(move || hearth::backup::copy(&url, &target)).await??;
    println!(
        "hearth: copied the database at {} to {} ({} bytes)",
        copied.source.display(),
        file.display(),
        copied.bytes
    );
    Ok(())
}

async fn create_user(args: DatabaseArgs, name: &str, admin: bool) -> anyhow::Result<()> {
    use std::io::BufRead;
    eprintln!("hearth: the password for {name}, on one line:");
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    let db = hearth::db::connect(&args.database_url).await?;
    hearth::db::migrate(&db).await?;
    let id = hearth::admin::people::create_user(&db, name, password, admin)
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    let role = if admin {
        "an administrator"
    } else {
        "a member"
    };
    println!("hearth: {name} is {role} (account {id})");
    Ok(())
}
