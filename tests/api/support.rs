//! The support widget: sites made by administrators, visitors who start a conversation
//! from a site's page through hearth's frame, and operators who answer them from the
//! inbox, live; what a visitor, a stranger and another site may not reach.
use reqwest::StatusCode;

use crate::helpers::{Page, TestApp, Visitor, frame_where, location};

/// Where the tests' sites say their pages are.
pub(crate) const SHOP: &str = "http://shop.test:8081";

/// A site made by `admin` (the first account) on `origins`; answers its key.
async fn make_site(admin: &Visitor, origins: &str) -> String {
    let resp = admin
        .post_form(
            "/admin/sites",
            &[
                ("name", "Shop"),
                ("origins", origins),
                ("title", "Shop support"),
                ("guests", "on"),
                ("greeting", "Hello from the shop!"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "making the site");
    let page = Page::read(resp).await;
    page.text_of("#site-key").expect("the site's key is shown")
}

/// An administrator, a site of theirs on [`SHOP`], and `operator` answering for it.
pub(crate) async fn site_with_operator(
    app: &TestApp,
    operator: &str,
) -> (Visitor, Visitor, String) {
    let admin = app.member("alice").await;
    let key = make_site(&admin, SHOP).await;
    let op = app.member(operator).await;
    let resp = admin
        .post_form(
            &format!("/admin/sites/{key}/operators"),
            &[("username", operator)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "adding the operator");
    (admin, op, key)
}

/// The frame's form post, as the frame (hearth's own origin) sends it.
pub(crate) async fn widget_post(
    app: &TestApp,
    guest: &Visitor,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    guest
        .http
        .post(app.url(path))
        .header("Origin", format!("http://{}", app.addr))
        .form(fields)
        .send()
        .await
        .expect("POST")
}

/// A visitor starts a conversation with `first`; answers the frame page.
pub(crate) async fn start(app: &TestApp, guest: &Visitor, key: &str, first: &str) -> Page {
    let resp = widget_post(
        app,
        guest,
        &format!("/widget/{key}/start"),
        &[
            ("body", first),
            ("host", SHOP),
            ("page", "http://shop.test:8081/orders/12"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "starting a conversation");
    Page::read(resp).await
}

/// The token the frame keeps, and the visitor's conversation.
pub(crate) fn token_and_conversation(frame: &Page) -> (String, i64) {
    let token = frame
        .attr("body", "data-guest-token")
        .expect("the frame holds the visitor's token");
    let id = frame
        .attr("main", "data-conversation-id")
        .and_then(|v| v.parse().ok())
        .expect("the frame shows the conversation");
    (token, id)
}

#[tokio::test]
async fn an_administrator_makes_a_site_and_gets_its_key_and_snippet() {
    let app = TestApp::spawn().await;
    let admin = app.member("alice").await;
    let resp = admin
        .post_form(
            "/admin/sites",
            &[
                ("name", "Shop"),
                ("origins", "https://shop.example\nhttp://127.0.0.1:9000"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = Page::read(resp).await;
    let key = page.text_of("#site-key").expect("key");
    let snippet = page.text_of("#site-snippet").expect("snippet");
    assert!(snippet.contains("/widget.js\""), "{snippet}");
    assert!(
        snippet.contains(&format!("data-site=\"{key}\"")),
        "{snippet}"
    );

    // A page path is not an origin: refused, nothing stored.
    let resp = admin
        .post_form(
            "/admin/sites",
            &[
                ("name", "Bad"),
                ("origins", "https://shop.example/checkout"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(Page::read(resp).await.text.contains("no path"));
    assert_eq!(app.rows("sites").await, 1);

    // Anyone else does not see that sites exist.
    let bob = app.member("bob").await;
    assert_eq!(
        bob.get("/admin/sites").await.status(),
        StatusCode::NOT_FOUND
    );
    let resp = bob
        .post_form("/admin/sites", &[("name", "Mine"), ("origins", SHOP)])
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.rows("sites").await, 1);

    let script = app.visitor().get("/widget.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script
            .text()
            .await
            .expect("script")
            .contains("hearth:message")
    );
}

#[tokio::test]
async fn the_frame_may_be_framed_only_by_the_sites_own_origins() {
    let app = TestApp::spawn().await;
    let admin = app.member("alice").await;
    let key = make_site(&admin, SHOP).await;
    let guest = app.visitor();

    let resp = guest
        .get(&format!("/widget/{key}?host={SHOP}&page={SHOP}/"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(csp.contains(&format!("frame-ancestors {SHOP}")), "{csp}");
    assert!(resp.headers().get("x-frame-options").is_none());
    let page = Page::read(resp).await;
    assert!(
        page.has("#widget-start"),
        "a new visitor gets the start form"
    );
    assert!(page.text.contains("Hello from the shop!"));

    // Another origin, or none, is refused; an unknown site does not exist.
    let resp = guest
        .get(&format!("/widget/{key}?host=http://evil.test"))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        guest.get(&format!("/widget/{key}")).await.status(),
        StatusCode::FORBIDDEN
    );
    let resp = guest.get(&format!("/widget/nope?host={SHOP}")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Every other page stays unframable.
    let login = guest.get("/login").await;
    assert_eq!(login.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn a_visitor_and_an_operator_talk_live_and_the_inbox_follows() {
    let app = TestApp::spawn().await;
    let (_admin, bob, key) = site_with_operator(&app, "bob").await;
    // The operator's inbox is open before the visitor writes.
    assert_eq!(bob.get("/inbox").await.status(), StatusCode::OK);
    let mut inbox = bob.socket("/ws").await;

    let guest = app.visitor();
    let frame = start(&app, &guest, &key, "Hello, my order is late").await;
    let (token, id) = token_and_conversation(&frame);
    assert_eq!(frame.message_bodies(), vec!["Hello, my order is late"]);
    assert!(
        guest.cookie_header().is_empty(),
        "the cookie belongs to the frame's path alone"
    );

    let row = frame_where(&mut inbox, |f| f.contains(&format!("id=\"inbox-{id}\""))).await;
    assert!(row.contains("Hello, my order is late"), "{row}");
    assert!(row.contains("/orders/12"), "{row}");
    let listed = bob.page("/inbox").await;
    assert!(listed.has(&format!("#inbox-{id}")));
    assert_eq!(
        listed
            .attr(&format!("#inbox-{id}"), "data-waiting")
            .as_deref(),
        Some("1")
    );

    // The operator opens it and answers; the visitor's socket brings the answer.
    let mut visitor_socket = guest
        .socket(&format!("/widget/{key}/ws?guest={token}&after=0"))
        .await;
    let page = bob.page(&format!("/inbox/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.message_bodies(), vec!["Hello, my order is late"]);
    assert!(page.has("#support-panel"));
    let mut operator_socket = bob.socket(&format!("/ws?conversation={id}")).await;
    bob.post_message(id, "We are on it").await;
    frame_where(&mut visitor_socket, |f| f.contains("We are on it")).await;

    // The visitor writes from the frame (htmx, the token in its header).
    let resp = guest
        .http
        .post(app.url(&format!("/widget/{key}/messages")))
        .header("HX-Request", "true")
        .header("X-Hearth-Guest", &token)
        .form(&[("body", "Thanks!")])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::OK);
    frame_where(&mut operator_socket, |f| f.contains("Thanks!")).await;

    // Closing takes it out of the open view and into the closed one.
    let resp = bob.post_form(&format!("/inbox/{id}/close"), &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(!bob.page("/inbox").await.has(&format!("#inbox-{id}")));
    assert!(
        bob.page("/inbox?view=closed")
            .await
            .has(&format!("#inbox-{id}"))
    );
    let transcript = bob.get(&format!("/inbox/{id}/transcript")).await;
    assert_eq!(transcript.status(), StatusCode::OK);
    let text = transcript.text().await.expect("transcript");
    assert!(
        text.contains("We are on it") && text.contains("Thanks!"),
        "{text}"
    );
}

#[tokio::test]
async fn a_visitor_returns_to_their_conversation_by_cookie_or_by_the_kept_token() {
    let app = TestApp::spawn().await;
    let (_admin, _bob, key) = site_with_operator(&app, "bob").await;
    let guest = app.visitor();
    let (token, id) = token_and_conversation(&start(&app, &guest, &key, "First visit").await);

    // The same browser, later: its cookie brings the conversation back.
    let again = guest.page(&format!("/widget/{key}?host={SHOP}")).await;
    assert_eq!(token_and_conversation(&again).1, id);

    // A browser that blocked the frame's cookie resumes with the kept token.
    let blocked = app.visitor();
    let resp = widget_post(
        &app,
        &blocked,
        &format!("/widget/{key}/resume"),
        &[("guest", &token), ("host", SHOP)],
    )
    .await;
    let resumed = Page::read(resp).await;
    assert_eq!(token_and_conversation(&resumed).1, id);
    assert_eq!(resumed.message_bodies(), vec!["First visit"]);
}

#[tokio::test]
async fn a_visitor_reaches_only_their_own_conversation() {
    let app = TestApp::spawn().await;
    let (admin, bob, key) = site_with_operator(&app, "bob").await;
    let first = app.visitor();
    let (first_token, first_id) =
        token_and_conversation(&start(&app, &first, &key, "Private to me").await);
    let second = app.visitor();
    let (second_token, _) = token_and_conversation(&start(&app, &second, &key, "Me too").await);
    assert_ne!(first_token, second_token);

    // The second visitor's socket is on their own conversation, never the first's.
    let mut socket = second
        .socket(&format!("/widget/{key}/ws?guest={second_token}&after=0"))
        .await;
    let caught = frame_where(&mut socket, |f| f.contains("Me too")).await;
    assert!(!caught.contains("Private to me"));

    // A changed token opens nothing, over HTTP or the socket.
    let forged = first_token.replacen('.', "x.", 1);
    let resp = second
        .http
        .post(app.url(&format!("/widget/{key}/messages")))
        .header("X-Hearth-Guest", &forged)
        .form(&[("body", "sneaky")])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let refused = app
        .visitor()
        .try_socket(
            &format!("/widget/{key}/ws?guest={forged}"),
            Some(&format!("http://{}", app.addr)),
        )
        .await;
    assert_eq!(refused.err(), Some(401));

    // The cookie alone does not post: a page elsewhere could send it.
    let resp = first
        .http
        .post(app.url(&format!("/widget/{key}/messages")))
        .form(&[("body", "forged from elsewhere")])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Someone who is not the site's operator gets 404 on its conversations.
    let carol = app.member("carol").await;
    for path in [
        format!("/inbox/{first_id}"),
        format!("/inbox/{first_id}/transcript"),
    ] {
        assert_eq!(
            carol.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let resp = carol
        .post_htmx(
            &format!("/conversations/{first_id}/messages"),
            &[("body", "hi")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        carol
            .try_socket(
                &format!("/ws?conversation={first_id}"),
                Some(&format!("http://{}", app.addr))
            )
            .await
            .err(),
        Some(404)
    );
    // Nor is it an administrator's to read without being an operator.
    assert_eq!(
        admin.get(&format!("/inbox/{first_id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // Visitors are nobody in the people directory.
    assert!(!bob.page("/users?q=vis").await.text.contains("Visitor "));
    // The operator may.
    assert_eq!(
        bob.get(&format!("/inbox/{first_id}")).await.status(),
        StatusCode::OK
    );
    let stored = app.rows("messages").await;
    assert_eq!(
        stored, 2,
        "only the two visitors' first messages were stored"
    );
}

#[tokio::test]
async fn a_start_from_elsewhere_or_a_flood_of_them_is_refused() {
    let app = TestApp::builder()
        .configure(|c| c.limits.guests_per_minute = 3)
        .spawn()
        .await;
    let (_admin, _bob, key) = site_with_operator(&app, "bob").await;
    let guest = app.visitor();
    let path = format!("/widget/{key}/start");

    // Only the frame, on hearth's own origin, starts a conversation.
    let resp = guest
        .http
        .post(app.url(&path))
        .header("Origin", "http://evil.test")
        .form(&[("body", "hi"), ("host", SHOP)])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // An empty first message is refused with the reason, and nothing is made.
    let resp = widget_post(&app, &guest, &path, &[("body", "  "), ("host", SHOP)]).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.rows("support_chats").await, 0);

    for n in 0..3 {
        start(&app, &app.visitor(), &key, &format!("visitor {n}")).await;
    }
    let resp = widget_post(
        &app,
        &app.visitor(),
        &path,
        &[("body", "one more"), ("host", SHOP)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().get("retry-after").is_some());
    assert_eq!(app.rows("support_chats").await, 3);
    assert!(location(&resp).is_empty());
}

#[tokio::test]
async fn the_frame_speaks_the_visitors_language_or_the_sites() {
    let app = TestApp::spawn().await;
    let admin = app.member("alice").await;
    let key = make_site(&admin, SHOP).await;
    let persian = app
        .visitor()
        .http
        .get(app.url(&format!("/widget/{key}?host={SHOP}")))
        .header("Accept-Language", "fa-IR,fa;q=0.9,en;q=0.5")
        .send()
        .await
        .expect("GET");
    let page = Page::read(persian).await;
    assert_eq!(page.attr("html", "lang").as_deref(), Some("fa"));
    assert_eq!(page.attr("html", "dir").as_deref(), Some("rtl"));
    assert_eq!(
        page.text_of("#widget-start button").as_deref(),
        Some("شروع گفتگو")
    );
    let english = app
        .visitor()
        .page(&format!("/widget/{key}?host={SHOP}"))
        .await;
    assert_eq!(english.attr("html", "dir").as_deref(), Some("ltr"));
    assert_eq!(
        english.text_of("#widget-start button").as_deref(),
        Some("Start the conversation")
    );
}

#[tokio::test]
async fn a_customer_the_site_vouches_for_has_one_conversation_that_no_one_else_sees() {
    let app = TestApp::spawn().await;
    let admin = app.member("alice").await;
    let made = admin
        .post_form(
            "/admin/sites",
            &[("name", "Shop"), ("origins", SHOP), ("guests", "on")],
        )
        .await;
    let made = Page::read(made).await;
    let key = made.text_of("#site-key").expect("key");
    let secret = made
        .text_of("#site-identity-secret")
        .expect("the identity secret is shown");
    let hash = hearth::support::identity_hash(&secret, "customer-7");
    let vouched = format!("&uid=customer-7&uhash={hash}");

    let laptop = app.visitor();
    let resp = widget_post(
        &app,
        &laptop,
        &format!("/widget/{key}/start"),
        &[
            ("body", "From my laptop"),
            ("host", SHOP),
            ("uid", "customer-7"),
            ("uhash", &hash),
        ],
    )
    .await;
    let (_, id) = token_and_conversation(&Page::read(resp).await);

    // Another device of the same customer finds the same conversation.
    let phone = app.visitor();
    let on_phone = phone
        .page(&format!("/widget/{key}?host={SHOP}{vouched}"))
        .await;
    assert_eq!(token_and_conversation(&on_phone).1, id);

    // The laptop, once its customer has signed out of the shop, shows it to nobody.
    let signed_out = laptop.page(&format!("/widget/{key}?host={SHOP}")).await;
    assert!(signed_out.has("#widget-start"), "{}", signed_out.text);
    assert!(!signed_out.text.contains("From my laptop"));
    // A wrong proof is nobody.
    let forged = phone
        .page(&format!(
            "/widget/{key}?host={SHOP}&uid=customer-7&uhash=00"
        ))
        .await;
    assert!(forged.has("#widget-start"));
}

#[tokio::test]
async fn a_visitor_is_not_one_of_the_sites_people() {
    let app = TestApp::spawn().await;
    let (admin, bob, key) = site_with_operator(&app, "bob").await;
    let guest = app.visitor();
    let (token, id) = token_and_conversation(&start(&app, &guest, &key, "Hi").await);
    let mut visitor_socket = guest
        .socket(&format!("/widget/{key}/ws?guest={token}&after=0"))
        .await;
    frame_where(&mut visitor_socket, |f| f.contains("Hi")).await;

    // The visitor's socket is open when bob's opens: the count bob's page is first
    // told (after bob's own arrival, here or in the shared presence) is bob alone.
    let mut bob_lobby = bob.socket("/ws").await;
    let count = frame_where(&mut bob_lobby, |f| f.contains("id=\"site-online-count\"")).await;
    assert!(count.contains(">1</span>"), "{count}");

    // What programs publish to everyone reaches the site's people, not visitors: the
    // operator's next message is the first thing the visitor's socket gets.
    let token_for_events = crate::bots::make_token(&admin, "notifier").await;
    let resp = crate::bots::api_post(
        &app,
        &token_for_events,
        "/events",
        serde_json::json!({"scope": "all", "type": "maintenance", "detail": "at noon"}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    frame_where(&mut bob_lobby, |f| f.contains("data-type=\"maintenance\"")).await;
    bob.post_message(id, "Hello from the team").await;
    let mut seen = Vec::new();
    loop {
        let frame = frame_where(&mut visitor_socket, |_| true).await;
        let done = frame.contains("Hello from the team");
        seen.push(frame);
        if done {
            break;
        }
    }
    assert!(
        seen.iter()
            .all(|f| !f.contains("data-event=\"app\"") && !f.contains("site-online-count")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn an_edited_or_deleted_answer_refreshes_the_visitors_inbox_row() {
    let app = TestApp::spawn().await;
    let (_admin, bob, key) = site_with_operator(&app, "bob").await;
    let mut inbox = bob.socket("/ws").await;
    let guest = app.visitor();
    let frame = start(&app, &guest, &key, "Where is my parcel?").await;
    let (_, id) = token_and_conversation(&frame);
    frame_where(&mut inbox, |f| f.contains(&format!("id=\"inbox-{id}\""))).await;

    let answer = bob.post_message(id, "It left on Tuesday").await;
    frame_where(&mut inbox, |f| f.contains("It left on Tuesday")).await;
    let resp = bob
        .post_form(
            &format!("/messages/{answer}/edit"),
            &[("body", "It left on Wednesday")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let row = format!("id=\"inbox-{id}\"");
    frame_where(&mut inbox, |f| {
        f.contains(&row) && f.contains("It left on Wednesday")
    })
    .await;

    let resp = bob
        .post_form(&format!("/messages/{answer}/delete"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // The row shows the visitor's question again once the answer is gone.
    let refreshed = frame_where(&mut inbox, |f| {
        f.contains(&row) && !f.contains("It left on")
    })
    .await;
    assert!(refreshed.contains("Where is my parcel?"), "{refreshed}");
}

#[tokio::test]
async fn a_visitor_naming_someone_links_to_nobody_but_an_operator_naming_a_colleague_does() {
    let app = TestApp::spawn().await;
    let (_admin, bob, key) = site_with_operator(&app, "bob").await;
    let guest = app.visitor();
    let frame = start(&app, &guest, &key, "Is @bob there? Or @alice?").await;
    let (_, id) = token_and_conversation(&frame);
    bob.post_message(id, "@alice can you look at this?").await;
    let page = bob.get(&format!("/inbox/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("the page");
    let mentions = html.matches("class=\"mention\"").count();
    assert_eq!(mentions, 1, "only the operator's @alice is a link: {html}");
    assert!(html.contains("Is @bob there? Or @alice?"), "{html}");
}

#[tokio::test]
async fn the_inbox_says_who_is_typing_to_a_visitor_until_their_message_comes() {
    let app = TestApp::spawn().await;
    let (admin, bob, key) = site_with_operator(&app, "bob").await;
    let carol = app.member("carol").await;
    let resp = admin
        .post_form(
            &format!("/admin/sites/{key}/operators"),
            &[("username", "carol")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "adding carol");
    let mut inbox = bob.socket("/ws").await;
    let guest = app.visitor();
    let frame = start(&app, &guest, &key, "Can someone help?").await;
    let (token, id) = token_and_conversation(&frame);
    let row = format!("id=\"inbox-{id}\"");
    frame_where(&mut inbox, |f| f.contains(&row)).await;
    let typing = || serde_json::json!({"type": "typing", "HEADERS": {"HX-Request": "true"}});

    // Carol starts answering: bob's inbox says so, and he leaves it to her.
    let mut carol_socket = carol.socket(&format!("/ws?conversation={id}")).await;
    crate::helpers::send_json(&mut carol_socket, typing()).await;
    frame_where(&mut inbox, |f| {
        f.contains(&row) && f.contains("carol is typing…")
    })
    .await;
    carol.post_message(id, "Happy to help!").await;
    let answered = frame_where(&mut inbox, |f| {
        f.contains(&row) && f.contains("Happy to help!")
    })
    .await;
    assert!(!answered.contains("is typing…"), "{answered}");

    // The visitor typing shows too.
    let name = bob
        .page("/inbox")
        .await
        .text_of(&format!("#inbox-{id} strong"))
        .expect("the visitor's name");
    let mut visitor_socket = guest
        .socket(&format!("/widget/{key}/ws?guest={token}"))
        .await;
    crate::helpers::send_json(&mut visitor_socket, typing()).await;
    frame_where(&mut inbox, |f| {
        f.contains(&row) && f.contains(&format!("{name} is typing…"))
    })
    .await;
    // Two at once are both named.
    let mut bob_socket = bob.socket(&format!("/ws?conversation={id}")).await;
    crate::helpers::send_json(&mut bob_socket, typing()).await;
    frame_where(&mut inbox, |f| {
        f.contains(&row) && f.contains(&format!("{name} and bob are typing…"))
    })
    .await;
}
