//! Storage that will not take writes: a read-only database stops hearth at start with
//! an error a person can read (not a panic, not a server that fails on every write
//! later); a disk that fills up under a running server answers posts with a clear
//! error, stores nothing half-way, and heals when space is freed.
use std::{path::Path, process::Command, time::Duration};

use sea_orm::ConnectionTrait;

use crate::{
    helpers::{TestDatabase, message_ids_in, postgres_server},
    server::{Hearth, post_htmx},
};

#[tokio::test]
async fn a_read_only_database_stops_the_server_at_start_with_a_readable_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("hearth.db");
    // A database that exists and is up to date, so nothing at start needs to write.
    let migrated = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args([
            "migrate",
            "--database-url",
            &format!("sqlite://{}?mode=rwc", file.display()),
        ])
        .output()
        .expect("hearth migrate runs");
    assert!(migrated.status.success(), "{migrated:?}");

    // Root ignores file modes, so chmod 0444 would not make it read-only here: SQLite's
    // own read-only mode is what a read-only file looks like to hearth.
    let mut hearth = Hearth::spawn(&format!("sqlite://{}?mode=ro", file.display()), &[]);
    let Some(status) = hearth.exit_within(Duration::from_secs(30)).await else {
        panic!(
            "hearth is serving on a read-only database instead of refusing to start:\n{}",
            hearth.log_tail()
        );
    };
    let log = hearth.log();
    assert!(!status.success(), "hearth exited with success:\n{log}");
    assert_ne!(status.code(), Some(101), "hearth panicked:\n{log}");
    assert!(!log.contains("panicked"), "hearth panicked:\n{log}");
    let said = log
        .lines()
        .find(|l| l.starts_with("hearth: "))
        .unwrap_or_else(|| panic!("no error line for a person on stderr:\n{log}"));
    assert!(
        said.contains("read-only") && said.contains(&file.display().to_string()),
        "the error does not say the database at that path is read-only: {said}"
    );
}

#[tokio::test]
#[ignore = "needs postgres"]
async fn a_read_only_postgres_database_stops_the_server_at_start_with_a_readable_error() {
    let database = TestDatabase::create().await;
    let migrated = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["migrate", "--database-url", database.url()])
        .output()
        .expect("hearth migrate runs");
    assert!(migrated.status.success(), "{migrated:?}");
    let name = database.url().rsplit('/').next().expect("a database name");
    let admin = sea_orm::Database::connect(format!("{}/postgres", postgres_server()))
        .await
        .expect("connect");
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE {name} SET default_transaction_read_only = on"
        ))
        .await
        .expect("make the database read-only");
    let _ = admin.close().await;

    let mut hearth = Hearth::spawn(database.url(), &[]);
    let Some(status) = hearth.exit_within(Duration::from_secs(30)).await else {
        panic!(
            "hearth is serving on a read-only database instead of refusing to start:\n{}",
            hearth.log_tail()
        );
    };
    let log = hearth.log();
    assert!(!status.success(), "hearth exited with success:\n{log}");
    assert!(!log.contains("panicked"), "hearth panicked:\n{log}");
    let said = log
        .lines()
        .find(|l| l.starts_with("hearth: "))
        .unwrap_or_else(|| panic!("no error line for a person on stderr:\n{log}"));
    assert!(
        said.contains("read-only"),
        "the error does not say read-only: {said}"
    );
}

#[tokio::test]
#[ignore = "needs root (mounts a small tmpfs)"]
async fn a_read_only_directory_stops_the_server_at_start_saying_so_in_words() {
    let Some(disk) = SmallDisk::mount("4m") else {
        panic!("mounting a small tmpfs needs root (CAP_SYS_ADMIN), which this run lacks");
    };
    let file = disk.path().join("hearth.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let migrated = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["migrate", "--database-url", &url])
        .output()
        .expect("hearth migrate runs");
    assert!(migrated.status.success(), "{migrated:?}");
    disk.remount_read_only();
    // The database by its full path, and by a relative one from inside the directory.
    for url in [url.as_str(), "sqlite://hearth.db?mode=rwc"] {
        // `timeout`: a server that started anyway must not hang the test.
        let ran = Command::new("timeout")
            .arg("30")
            .arg(env!("CARGO_BIN_EXE_hearth"))
            .args(["serve", "--addr", "127.0.0.1:0", "--database-url", url])
            .current_dir(disk.path())
            .output()
            .expect("hearth runs");
        let log = String::from_utf8_lossy(&ran.stderr);
        assert_ne!(ran.status.code(), Some(124), "{url}: hearth served:\n{log}");
        assert!(
            !ran.status.success(),
            "{url}: hearth exited with success:\n{log}"
        );
        let said = log
            .lines()
            .find(|l| l.starts_with("hearth: "))
            .unwrap_or_else(|| panic!("no error line for a person on stderr:\n{log}"));
        assert!(
            said.contains("directory") && said.contains("read-only") && !said.contains("code:"),
            "{url}: the error does not say the directory is read-only: {said}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root (mounts a small tmpfs)"]
async fn a_full_disk_answers_posts_with_a_clear_error_and_heals_when_space_is_freed() {
    let Some(disk) = SmallDisk::mount("4m") else {
        panic!("mounting a small tmpfs needs root (CAP_SYS_ADMIN), which this run lacks");
    };
    let url = format!(
        "sqlite://{}?mode=rwc",
        disk.path().join("hearth.db").display()
    );
    let hearth = Hearth::start(&url, &["--message-burst", "100000"]).await;
    let alice = hearth.member("alice").await;
    let room_url = alice.create_room("full").await;
    let room = alice.conversation_id(&room_url).await;
    let token = alice.csrf_token().await;
    let resp = post_htmx(&alice, &token, room, "while there is room")
        .await
        .expect("POST");
    assert_eq!(resp.status(), 200);

    disk.fill();
    // SQLite reuses the space its write-ahead log already holds, so the first few posts
    // may still fit: post until one does not.
    let mut refusal = None;
    for n in 0..5_000 {
        let body = format!("on a full disk {n} {}", "x".repeat(2_000));
        let resp = post_htmx(&alice, &token, room, &body).await.expect("POST");
        if !resp.status().is_success() {
            let status = resp.status();
            refusal = Some((status, resp.text().await.expect("body")));
            break;
        }
    }
    let (status, text) = refusal.expect("5000 posts of 2 kB fitted on a full 4 MB disk");
    eprintln!("posting on the full disk answered {status}");
    assert_eq!(status, 507, "a full disk answers: {text}");
    assert!(
        text.contains("out of storage space"),
        "the refusal does not say the disk is full:\n{text}"
    );

    disk.free();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let resp = post_htmx(&alice, &token, room, "after space was freed")
            .await
            .expect("POST");
        if resp.status() == 200 {
            let text = resp.text().await.expect("body");
            assert_eq!(message_ids_in(&text).len(), 1);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "posting still answers {} after space was freed",
            resp.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !hearth.log().contains("panicked"),
        "hearth panicked:\n{}",
        hearth.log_tail()
    );
    drop(hearth);
}

/// A tmpfs of a set size, mounted on a temporary directory and unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        mounted.status.success().then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount_read_only(&self) {
        let remounted = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(self.dir.path())
            .output()
            .expect("mount runs");
        assert!(remounted.status.success(), "{remounted:?}");
    }

    /// Writes a filler file until the disk says it is full.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.path().join("filler")).expect("filler");
        let chunk = vec![0u8; 16 * 1024];
        // A 4 MB disk holds at most 256 chunks: the loop is bounded by the disk.
        for _ in 0..1_000 {
            if filler
                .write_all(&chunk)
                .and_then(|()| filler.flush())
                .is_err()
            {
                return;
            }
        }
        panic!("the small disk never filled up");
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).expect("remove the filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a server killed a moment ago may still hold files open.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .output();
    }
}
