//! Search: `/search?q=` finds the messages a person may read by their words, with the
//! words marked, newest first, narrowed by filters; it follows edits and deletions at
//! once, never shows another person's private chat, and answers any query typed with
//! a page, never a server error.
use proptest::prelude::*;
use reqwest::StatusCode;

use crate::helpers::{Page, TestApp, Upload, Visitor};

/// alice's rooms #general and #random, bob in both, and the private chat of the two.
struct Scene {
    app: TestApp,
    alice: Visitor,
    bob: Visitor,
    general: i64,
    random: i64,
    private: i64,
}

async fn scene() -> Scene {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let general = alice.create_room("general").await;
    let general = alice.conversation_id(&general).await;
    let random = alice.create_room("random").await;
    let random = alice.conversation_id(&random).await;
    let bob = app.member("bob").await;
    let private = bob.conversation_id("/dm/alice").await;
    Scene {
        app,
        alice,
        bob,
        general,
        random,
        private,
    }
}

/// The search page `visitor` gets for `q`.
async fn search(visitor: &Visitor, q: &str) -> Page {
    let q: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
    visitor.page(&format!("/search?q={q}")).await
}

/// The ids of the hits on a search page, in page order.
fn hits(page: &Page) -> Vec<i64> {
    page.select("#search-results li[id^=\"result-\"]")
        .iter()
        .filter_map(|e| e.value().id()?.strip_prefix("result-")?.parse().ok())
        .collect()
}

/// What `visitor` finds for `q` (the page must answer 200).
async fn found(visitor: &Visitor, q: &str) -> Vec<i64> {
    let page = search(visitor, q).await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "search for {q:?}: {}",
        page.text
    );
    assert!(page.has("#search-results"), "search for {q:?}");
    hits(&page)
}

#[tokio::test]
async fn a_search_finds_the_messages_with_every_word_newest_first_with_the_words_marked() {
    let s = scene().await;
    let first = s
        .alice
        .post_message(s.general, "The deploy is on Friday <script>x</script>")
        .await;
    s.alice.post_message(s.general, "Friday is far away").await;
    let second = s
        .bob
        .post_message(s.random, "Is the deploy still on friday?")
        .await;
    s.bob.post_message(s.random, "deploy tomorrow").await;

    assert_eq!(found(&s.bob, "deploy friday").await, [second, first]);

    let page = search(&s.bob, "deploy friday").await;
    let hit = format!("#result-{first}");
    assert_eq!(
        page.texts(&format!("{hit} mark")),
        ["deploy", "Friday"],
        "{}",
        page.text
    );
    // Everything else is text: the message's markup is escaped, not rendered.
    assert!(!page.has(&format!("{hit} script")));
    assert!(page.text.contains("&lt;script&gt;"));
    assert_eq!(
        page.attr(&format!("{hit} a[href=\"/messages/{first}\"]"), "href"),
        Some(format!("/messages/{first}"))
    );
    assert!(page.has(&format!("{hit} a[href=\"/rooms/general\"]")));
    assert!(
        page.text_of(&format!("{hit} .search-author"))
            .is_some_and(|a| a.contains("alice"))
    );
    assert!(page.has(&format!("{hit} time")));
}

#[tokio::test]
async fn a_quoted_phrase_finds_its_words_together_and_in_order() {
    let s = scene().await;
    let together = s
        .alice
        .post_message(s.general, "we need **fresh** coffee beans")
        .await;
    s.alice
        .post_message(s.general, "beans and coffee, fresh")
        .await;
    assert_eq!(found(&s.alice, "\"coffee beans\"").await, [together]);
    assert_eq!(found(&s.alice, "\"Fresh Coffee\" beans").await, [together]);
    // The snippet says what the message says, without its Markdown marks.
    let page = search(&s.alice, "\"coffee beans\"").await;
    assert_eq!(
        page.text_of(&format!("#result-{together} .search-snippet"))
            .map(|t| t.trim().to_owned())
            .as_deref(),
        Some("we need fresh coffee beans")
    );
}

#[tokio::test]
async fn accents_and_case_do_not_matter() {
    let s = scene().await;
    let cafe = s
        .alice
        .post_message(s.general, "Meet at the Café Zürich")
        .await;
    let plain = s.alice.post_message(s.general, "the cafe is closed").await;
    assert_eq!(found(&s.bob, "cafe").await, [plain, cafe]);
    assert_eq!(found(&s.bob, "CAFÉ zurich").await, [cafe]);
    let page = search(&s.bob, "cafe").await;
    assert_eq!(page.texts(&format!("#result-{cafe} mark")), ["Café"]);
}

#[tokio::test]
async fn words_are_found_in_every_script_with_or_without_spaces() {
    let s = scene().await;
    let greek = s.alice.post_message(s.general, "Καλημέρα κόσμε").await;
    let russian = s.alice.post_message(s.general, "Привет, МИР").await;
    let japanese = s
        .alice
        .post_message(s.general, "明日は東京タワーに行きます")
        .await;
    let chinese = s.alice.post_message(s.general, "我们在北京见面").await;
    let thai = s.alice.post_message(s.general, "สวัสดีครับ").await;
    // Accents are folded in Latin scripts only (as SQLite's tokenizer does); case in all.
    assert_eq!(found(&s.bob, "ΚΑΛΗΜΈΡΑ").await, [greek]);
    assert_eq!(found(&s.bob, "мир").await, [russian]);
    assert_eq!(found(&s.bob, "東京").await, [japanese]);
    assert_eq!(found(&s.bob, "北京").await, [chinese]);
    assert_eq!(found(&s.bob, "สวัสดี").await, [thai]);
    assert!(found(&s.bob, "上海").await.is_empty());
    let page = search(&s.bob, "東京").await;
    assert_eq!(page.texts(&format!("#result-{japanese} mark")), ["東京"]);
}

#[tokio::test]
async fn filters_narrow_by_author_room_private_chat_date_and_link() {
    let s = scene().await;
    let by_alice = s.alice.post_message(s.general, "release notes").await;
    let by_bob = s.bob.post_message(s.general, "release party").await;
    let in_random = s.alice.post_message(s.random, "release day").await;
    let in_private = s.alice.post_message(s.private, "release the secret").await;
    let linked = s
        .bob
        .post_message(s.random, "release at https://example.com/r")
        .await;

    assert_eq!(
        found(&s.bob, "release").await,
        [linked, in_private, in_random, by_bob, by_alice]
    );
    assert_eq!(
        found(&s.bob, "release from:@alice").await,
        [in_private, in_random, by_alice]
    );
    assert_eq!(found(&s.bob, "from:@Bob release").await, [linked, by_bob]);
    assert_eq!(
        found(&s.bob, "release in:#general").await,
        [by_bob, by_alice]
    );
    assert_eq!(found(&s.bob, "release in:@alice").await, [in_private]);
    assert_eq!(found(&s.alice, "in:@bob").await, [in_private]);
    assert_eq!(found(&s.bob, "release has:link").await, [linked]);
    // The messages were written today: before it, nothing; after yesterday, all.
    assert!(found(&s.bob, "release before:2000-01-01").await.is_empty());
    assert_eq!(found(&s.bob, "release after:2000-01-01").await.len(), 5);
    assert!(found(&s.bob, "release after:2999-01-01").await.is_empty());

    // A name nobody has finds nothing, and says so.
    let page = search(&s.bob, "release from:@nobody").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(hits(&page).is_empty());
    assert!(page.text.contains("Nobody is called @nobody"));
    // Filters without a word walk their conversation or person, newest first.
    assert_eq!(found(&s.bob, "in:#random").await, [linked, in_random]);
    assert_eq!(found(&s.bob, "from:@bob").await, [linked, by_bob]);
    assert!(found(&s.bob, "in:#nowhere release").await.is_empty());
}

#[tokio::test]
async fn has_file_finds_the_messages_with_attachments() {
    let s = scene().await;
    let plain = s.alice.post_message(s.general, "quarterly report").await;
    let resp = s
        .alice
        .post_files(
            s.general,
            "quarterly report attached",
            vec![Upload::new("report.txt", "text/plain", b"figures".to_vec())],
            false,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let attached = found(&s.bob, "attached").await;
    assert_eq!(attached.len(), 1);
    assert_eq!(found(&s.bob, "quarterly").await, [attached[0], plain]);
    assert_eq!(found(&s.bob, "quarterly has:file").await, attached);
    assert_eq!(found(&s.bob, "has:file in:#general").await, attached);
    assert!(
        found(&s.bob, "quarterly has:file in:#random")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_edit_changes_what_is_found_at_once() {
    let s = scene().await;
    let id = s.alice.post_message(s.general, "lunch at noon").await;
    assert_eq!(found(&s.bob, "lunch").await, [id]);
    let resp = s
        .alice
        .post_form(
            &format!("/messages/{id}/edit"),
            &[("body", "dinner at eight")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(found(&s.bob, "lunch").await.is_empty());
    assert_eq!(found(&s.bob, "dinner").await, [id]);
}

#[tokio::test]
async fn a_deleted_message_is_never_found() {
    let s = scene().await;
    let id = s
        .alice
        .post_message(s.general, "my password is hunter2")
        .await;
    let kept = s.alice.post_message(s.general, "hunter2 is a meme").await;
    let resp = s
        .alice
        .post_form(&format!("/messages/{id}/delete"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(found(&s.bob, "hunter2").await, [kept]);
    assert!(found(&s.bob, "password").await.is_empty());
    assert!(found(&s.alice, "from:@alice in:#general").await == [kept]);
}

#[tokio::test]
async fn someone_elses_private_chat_is_never_found_whatever_the_filters() {
    let s = scene().await;
    s.alice
        .post_message(s.private, "the surprise party is on Sunday")
        .await;
    let public = s
        .alice
        .post_message(s.general, "a party, some Sunday")
        .await;
    let carol = s.app.member("carol").await;
    for q in [
        "party",
        "surprise",
        "\"surprise party\"",
        "party in:@alice",
        "party in:@bob",
        "in:@alice",
        "in:@bob",
        "from:@alice",
        "from:@alice in:@bob",
        "party after:2000-01-01",
    ] {
        let hits = found(&carol, q).await;
        assert!(
            hits.iter().all(|h| *h == public),
            "carol found {hits:?} for {q:?}"
        );
    }
    // Its two members find it.
    assert_eq!(found(&s.bob, "surprise").await.len(), 1);
    assert_eq!(found(&s.alice, "surprise in:@bob").await.len(), 1);
}

#[tokio::test]
async fn malformed_queries_get_a_clear_answer_never_a_server_error() {
    let s = scene().await;
    let id = s
        .alice
        .post_message(s.general, "near the body of water")
        .await;
    for q in [
        "\"",
        "\"\"",
        "NEAR(",
        "NEAR(a b",
        "*",
        "a*",
        "body:x",
        "body:near",
        "^water",
        "water OR",
        "AND NOT",
        "-",
        "(",
        "{body}: water",
        "' OR 1=1 --",
        "\0",
        "before:notadate",
        "has:gif",
        "in:",
        "from:@",
    ] {
        let page = search(&s.bob, q).await;
        assert!(
            page.status == StatusCode::OK || page.status.is_client_error(),
            "{q:?} answered {}",
            page.status
        );
        assert!(page.has("#search-form"), "{q:?} has no search form");
    }
    // Syntax is read as the words in it.
    assert_eq!(found(&s.bob, "NEAR(").await, [id]);
    assert_eq!(found(&s.bob, "body:of water").await, [id]);

    let refused = search(&s.bob, "* ( )").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("nothing to search for"));
    let long = search(&s.bob, &"water ".repeat(50)).await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(long.text.contains("at most 256 characters"));
    let empty = s.bob.page("/search?q=").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.has("#search-form input[name=q]"));
    let bare = s.bob.page("/search").await;
    assert_eq!(bare.status, StatusCode::OK);
}

#[tokio::test]
async fn more_results_pages_through_every_hit_once() {
    let s = scene().await;
    let mut posted = Vec::new();
    for n in 0..55 {
        posted.push(s.alice.post_message(s.general, &format!("note {n}")).await);
    }
    posted.reverse();
    let first = search(&s.bob, "note").await;
    assert_eq!(hits(&first), posted[..50]);
    let more = first
        .attr("a.more-results", "href")
        .expect("a link to more results");
    assert_eq!(more, format!("/search?q=note&before={}", posted[49]));
    let second = s.bob.page(&more).await;
    assert_eq!(hits(&second), posted[50..]);
    assert!(!second.has("a.more-results"));

    // Best matches first pages on too; these match alike, so newest first among them.
    let first = s.bob.page("/search?q=note&sort=relevance").await;
    assert_eq!(hits(&first), posted[..50]);
    let more = first
        .attr("a.more-results", "href")
        .expect("a link to more results");
    assert_eq!(more, "/search?q=note&sort=relevance&skip=50");
    assert_eq!(hits(&s.bob.page(&more).await), posted[50..]);
}

#[tokio::test]
async fn best_matches_come_first_when_asked_for() {
    let s = scene().await;
    let most = s
        .alice
        .post_message(s.general, "rust, rust and more rust: rust")
        .await;
    let once = s.alice.post_message(s.general, "I tried rust today").await;
    s.alice.post_message(s.general, "nothing to see").await;
    assert_eq!(found(&s.bob, "rust").await, [once, most]);
    let page = s.bob.page("/search?q=rust&sort=relevance").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(hits(&page), [most, once]);
    // The page offers the other order, keeping the query.
    assert!(page.has("a[href=\"/search?q=rust\"]"));
    assert!(
        search(&s.bob, "rust")
            .await
            .has("a[href=\"/search?q=rust&sort=relevance\"]")
    );
    // Filters alone have no match to rank: newest first.
    let page = s.bob.page("/search?q=from%3A%40alice&sort=relevance").await;
    assert_eq!(hits(&page).len(), 3);
}

#[tokio::test]
async fn every_signed_in_page_has_a_search_box_and_search_needs_a_session() {
    let s = scene().await;
    for path in ["/", "/rooms/general", "/dm/alice", "/mentions"] {
        let page = s.bob.page(path).await;
        assert_eq!(
            page.attr("form[action=\"/search\"] input#search-box", "name")
                .as_deref(),
            Some("q"),
            "{path}"
        );
    }
    let resp = s.app.visitor().get("/search?q=x").await;
    assert!(resp.status().is_redirection());
    assert!(
        resp.headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.starts_with("/login"))
    );
}

#[tokio::test]
async fn history_written_before_search_existed_is_found_once_it_is_migrated() {
    use migration::MigratorTrait;
    let mut app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let room = alice.create_room("general").await;
    let room = alice.conversation_id(&room).await;
    let old = alice.post_message(room, "an old note about llamas").await;
    let url = app.database_url.clone();
    let _kept = app.keep_database();
    app.stop().await;

    // The database as it was before search: its index taken away with its migration.
    let db = sea_orm::Database::connect(&url).await.expect("connect");
    migration::Migrator::down(&db, Some(1))
        .await
        .expect("the search migration goes down");
    db.close().await.expect("close");

    let app = TestApp::builder().database(&url).spawn().await;
    let alice = alice.at(app.addr);
    assert_eq!(found(&alice, "llamas").await, [old]);
    let new = alice.post_message(room, "new llamas").await;
    assert_eq!(found(&alice, "llamas").await, [new, old]);
}

/// Pieces of full-text syntax, filters and awkward characters, for the property below.
fn nasty_query() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\"".to_owned()),
        Just("NEAR(".to_owned()),
        Just("*".to_owned()),
        Just(" OR ".to_owned()),
        Just(" AND NOT ".to_owned()),
        Just("from:@".to_owned()),
        Just("in:#".to_owned()),
        Just("in:@".to_owned()),
        Just("before:".to_owned()),
        Just("after:2026-".to_owned()),
        Just("has:".to_owned()),
        Just("body:".to_owned()),
        Just(":".to_owned()),
        Just("^".to_owned()),
        Just("-".to_owned()),
        Just("'".to_owned()),
        Just("%_\\".to_owned()),
        Just(" ".to_owned()),
        "[a-zé]{1,8}",
        any::<char>().prop_map(String::from),
    ];
    prop_oneof![
        prop::collection::vec(piece, 0..24).prop_map(|p| p.concat()),
        any::<String>(),
        ".{250,270}",
    ]
}

#[test]
fn any_string_searched_for_gets_a_page_never_a_server_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (app, visitor, _) = runtime.block_on(async {
        let s = scene().await;
        s.alice
            .post_message(s.general, "some words to find, near \"quotes\"")
            .await;
        (s.app, s.bob, s.alice)
    });
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&nasty_query(), |q| {
        let status = runtime.block_on(async { search(&visitor, &q).await.status });
        prop_assert!(!status.is_server_error(), "{q:?} answered {status}");
        Ok(())
    });
    runtime.block_on(async move { drop(app) });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
