//! Mentions and notification levels: `@name` links and highlights for the person named
//! only, their counts and `/mentions` follow live, the level of a conversation decides
//! what counts and notifies, `@everyone` is held to its own limit, and the composer's
//! suggestions list members first.
use reqwest::StatusCode;

use crate::helpers::{TestApp, Visitor, eventually, frame_where};

/// alice's room with bob and carol in it; dave exists but never joined.
struct Room {
    app: TestApp,
    alice: Visitor,
    bob: Visitor,
    carol: Visitor,
    room: i64,
    url: String,
}

async fn room() -> Room {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    let bob = app.member("bob").await;
    bob.page(&url).await;
    let carol = app.member("carol").await;
    carol.page(&url).await;
    app.member("dave").await;
    Room {
        app,
        alice,
        bob,
        carol,
        room,
        url,
    }
}

/// The mention count the lobby's sidebar shows `visitor` for `conversation`.
async fn mentions_on_lobby(visitor: &Visitor, conversation: i64) -> Option<String> {
    visitor
        .page("/")
        .await
        .attr(&format!("#mentions-{conversation}"), "data-count")
}

async fn id_of(visitor: &Visitor) -> i64 {
    visitor
        .page("/")
        .await
        .attr("body", "data-user-id")
        .and_then(|v| v.parse().ok())
        .expect("a signed-in page")
}

#[tokio::test]
async fn a_mention_links_to_the_person_and_is_highlighted_for_them_only() {
    let r = room().await;
    let bob_id = id_of(&r.bob).await;
    let id = r
        .alice
        .post_message(r.room, "lunch, @bob? and @nobody, and mail@bob.example")
        .await;

    let page = r.carol.page(&r.url).await;
    let mention = format!("#message-{id} .message-body a.mention[data-user-id=\"{bob_id}\"]");
    assert_eq!(page.attr(&mention, "href").as_deref(), Some("/users/bob"));
    assert_eq!(page.text_of(&mention).as_deref(), Some("@bob"));
    // Only people who exist are mentioned; an address is not a mention.
    assert_eq!(page.select(&format!("#message-{id} .mention")).len(), 1);
    assert!(page.text.contains("@nobody"));

    // The highlight is a rule keyed on the viewer: bob's page has it, carol's does not.
    let rule = format!(".mention[data-user-id=\"{bob_id}\"]");
    let bobs = r.bob.page(&r.url).await;
    assert!(
        bobs.text_of("head style")
            .unwrap_or_default()
            .contains(&rule)
    );
    assert!(
        !page
            .text_of("head style")
            .unwrap_or_default()
            .contains(&rule)
    );

    // The link leads to bob's profile.
    let profile = r.carol.page("/users/bob").await;
    assert_eq!(profile.status, StatusCode::OK);
    assert!(profile.has("a[href=\"/dm/bob\"]"));
}

#[tokio::test]
async fn mention_counts_and_the_mentions_page_follow_live() {
    let r = room().await;
    let mut bobs_lobby = r.bob.socket("/ws").await;
    let plain = r.alice.post_message(r.room, "good morning").await;
    let id = r
        .alice
        .post_message(r.room, "@bob can you look at this?")
        .await;

    // Bob's other page hears whom the message mentions, with the line for /mentions.
    let bob_id = id_of(&r.bob).await;
    let news = frame_where(&mut bobs_lobby, |f| f.contains(&format!("message-{id}"))).await;
    assert!(
        news.contains(&format!("data-mentions=\"{bob_id}\"")),
        "{news}"
    );
    assert!(news.contains("mention-item"), "{news}");

    // The sidebar counts the mention apart from the unread messages.
    let lobby = r.bob.page("/").await;
    assert_eq!(
        mentions_on_lobby(&r.bob, r.room).await.as_deref(),
        Some("1")
    );
    assert_eq!(
        lobby
            .attr(&format!("#unread-{}", r.room), "data-count")
            .as_deref(),
        Some("2")
    );

    // /mentions lists it, newest first, linking to the message; not the plain one.
    let mentions = r.bob.page("/mentions").await;
    assert!(mentions.has(&format!(
        "#mentions-list #mention-{id} a[href=\"/messages/{id}\"]"
    )));
    assert!(!mentions.has(&format!("#mention-{plain}")));
    let newer = r.carol.post_message(r.room, "@bob me too").await;
    let ids: Vec<String> = r
        .bob
        .page("/mentions")
        .await
        .select("#mentions-list > li")
        .iter()
        .filter_map(|li| li.value().attr("data-message-id").map(str::to_owned))
        .collect();
    assert_eq!(ids, vec![newer.to_string(), id.to_string()]);

    // Reading the room clears the count on every page of bob's, live.
    let resp = r
        .bob
        .post_htmx(
            &format!("/conversations/{}/read", r.room),
            &[("up_to", &newer.to_string())],
        )
        .await;
    assert!(resp.status().is_success());
    let cleared = frame_where(&mut bobs_lobby, |f| {
        f.contains(&format!("id=\"mentions-{}\"", r.room)) && f.contains("data-count=\"0\"")
    })
    .await;
    assert!(cleared.contains("mention-badge"));
    // Alice was not mentioned: her count stays 0.
    assert_eq!(
        mentions_on_lobby(&r.alice, r.room).await.as_deref(),
        Some("0")
    );
    drop(r.app);
}

#[tokio::test]
async fn a_level_decides_what_a_conversation_counts() {
    let r = room().await;
    // Rooms default to mentions only: the Menu total counts mentions, not chatter.
    r.alice.post_message(r.room, "chatter one").await;
    r.alice.post_message(r.room, "chatter two").await;
    let lobby = r.bob.page("/").await;
    let level = format!("#level-{}", r.room);
    assert_eq!(
        lobby.attr(&level, "data-level").as_deref(),
        Some("mentions")
    );
    assert_eq!(
        lobby.attr("#menu-unread", "data-count").as_deref(),
        Some("0")
    );
    r.alice.post_message(r.room, "@bob and one for you").await;
    let lobby = r.bob.page("/").await;
    assert_eq!(
        lobby.attr("#menu-unread", "data-count").as_deref(),
        Some("1")
    );

    // Every message: all three count.
    let mut bobs_page = r.bob.socket("/ws").await;
    let path = format!("/conversations/{}/notifications", r.room);
    let resp = r.bob.post_form(&path, &[("level", "everything")]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let shown = frame_where(&mut bobs_page, |f| f.contains("data-level=\"everything\"")).await;
    assert!(
        shown.contains(&format!("id=\"level-{}\"", r.room)),
        "{shown}"
    );
    let lobby = r.bob.page("/").await;
    assert_eq!(
        lobby.attr("#menu-unread", "data-count").as_deref(),
        Some("3")
    );

    // Muted: no count at all, only the level's mark (a dot); the room page says so.
    let resp = r.bob.post_htmx(&path, &[("level", "nothing")]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let lobby = r.bob.page("/").await;
    assert_eq!(lobby.attr(&level, "data-level").as_deref(), Some("nothing"));
    assert_eq!(
        lobby.attr("#menu-unread", "data-count").as_deref(),
        Some("0")
    );
    let page = r.bob.page(&r.url).await;
    let checked = page.attr(
        &format!("#notify-{} input[value=\"nothing\"]", r.room),
        "checked",
    );
    assert!(checked.is_some(), "the control shows the muted level");
    // Carol chose nothing: her level is still the default.
    let carols = r.carol.page("/").await;
    assert_eq!(
        carols.attr(&level, "data-level").as_deref(),
        Some("mentions")
    );

    // A level that does not exist changes nothing.
    let resp = r.bob.post_form(&path, &[("level", "loud")]).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let lobby = r.bob.page("/").await;
    assert_eq!(lobby.attr(&level, "data-level").as_deref(), Some("nothing"));
}

#[tokio::test]
async fn private_chats_notify_of_everything_by_default() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let chat = alice.conversation_id("/dm/bob").await;
    alice.post_message(chat, "are you there?").await;
    let lobby = bob.page("/").await;
    assert_eq!(
        lobby
            .attr(&format!("#level-{chat}"), "data-level")
            .as_deref(),
        Some("everything")
    );
    assert_eq!(
        lobby.attr("#menu-unread", "data-count").as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn everyone_is_held_to_a_tighter_limit_and_is_for_rooms_only() {
    let r = room().await;
    let before = r.app.rows("messages").await;
    for _ in 0..3 {
        r.alice
            .post_message(r.room, "@everyone standup in five")
            .await;
    }
    let resp = r
        .alice
        .post_htmx(
            &format!("/conversations/{}/messages", r.room),
            &[("body", "@here one more")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(r.app.rows("messages").await, before + 3);
    // Plain messages are not held back by it.
    r.alice.post_message(r.room, "no group this time").await;

    // Everyone in the room was mentioned, the author aside.
    assert_eq!(
        mentions_on_lobby(&r.carol, r.room).await.as_deref(),
        Some("3")
    );
    assert_eq!(
        mentions_on_lobby(&r.alice, r.room).await.as_deref(),
        Some("0")
    );

    // In a private chat it is only text, and not limited.
    let chat = r.alice.conversation_id("/dm/bob").await;
    let id = r.alice.post_message(chat, "@everyone hello").await;
    let page = r.bob.page("/dm/alice").await;
    assert!(!page.has(&format!("#message-{id} .mention")));
}

#[tokio::test]
async fn here_mentions_only_the_members_online() {
    let r = room().await;
    let _carol_is_here = r.carol.socket("/ws").await;
    let carol_id = id_of(&r.carol).await;
    eventually("carol is online", || async {
        r.app.state.hub.is_online(carol_id)
    })
    .await;
    let id = r.alice.post_message(r.room, "@here quick poll").await;
    let carols = r.carol.page("/mentions").await;
    assert!(carols.has(&format!("#mention-{id}")));
    let bobs = r.bob.page("/mentions").await;
    assert!(!bobs.has(&format!("#mention-{id}")), "bob was not online");
}

#[tokio::test]
async fn suggestions_list_members_first_then_everyone_else() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    let dan = app.member("dan").await;
    app.member("daisy").await;
    dan.page(&url).await;

    let options = |page: &crate::helpers::Page| -> Vec<String> {
        page.select("#mention-options [role=option]")
            .iter()
            .filter_map(|o| o.value().attr("data-username").map(str::to_owned))
            .collect()
    };
    let page = alice
        .page(&format!("/conversations/{room}/people?q=da"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(options(&page), vec!["dan", "daisy"]);
    assert!(page.has("[data-username=\"dan\"] .mention-member"));
    assert!(!page.has("[data-username=\"daisy\"] .mention-member"));
    assert!(!page.has("[data-username=\"alice\"]"), "not oneself");
    let page = alice
        .page(&format!("/conversations/{room}/people?q=%40ev"))
        .await;
    assert_eq!(options(&page), vec!["everyone"]);
    let page = alice
        .page(&format!("/conversations/{room}/people?q=zz%3Cscript"))
        .await;
    assert!(page.has(".mention-none"));

    // Someone outside a private chat learns nothing from its suggestions.
    let chat = alice.conversation_id("/dm/dan").await;
    let outsider = app.member("eve").await;
    let resp = outsider
        .get(&format!("/conversations/{chat}/people?q=d"))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_edit_that_adds_a_mention_counts_it_and_one_that_removes_it_uncounts_it() {
    let r = room().await;
    let id = r.alice.post_message(r.room, "see the notes").await;
    let edit = format!("/messages/{id}/edit");
    let resp = r
        .alice
        .post_form(&edit, &[("body", "see the notes, @carol")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        r.carol
            .page("/mentions")
            .await
            .has(&format!("#mention-{id}"))
    );
    let resp = r.alice.post_form(&edit, &[("body", "see the notes")]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        !r.carol
            .page("/mentions")
            .await
            .has(&format!("#mention-{id}"))
    );
    assert_eq!(r.app.rows("mentions").await, 0);
}
