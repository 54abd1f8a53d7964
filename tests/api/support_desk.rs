//! The operators' tools around the inbox: canned replies a site's operators share,
//! and the figures of how a site's visitors are answered (charts and CSV); what
//! someone who answers for no site, or for another, may not reach.
use reqwest::StatusCode;

use crate::{
    helpers::{Page, TestApp, frame_where, message_ids_in},
    password_reset::SmtpServer,
    support::{SHOP, site_with_operator, start, token_and_conversation, widget_post},
};

#[tokio::test]
async fn operators_share_canned_replies_that_the_conversation_offers() {
    let app = TestApp::spawn().await;
    let (admin, bob, key) = site_with_operator(&app, "bob").await;
    let resp = bob
        .post_form(
            "/inbox/replies",
            &[
                ("site", &key),
                ("shortcut", "/Refund"),
                ("body", "Your refund is on its way <3"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let listed = bob.page("/inbox/replies").await;
    assert_eq!(listed.texts(".canned-list code"), vec!["/refund"]);

    // The same shortcut again, or one that is not a word, is refused and adds nothing.
    let again = bob
        .post_form(
            "/inbox/replies",
            &[("site", &key), ("shortcut", "refund"), ("body", "Other")],
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    for (shortcut, body) in [("two words", "x"), ("", "x"), ("ok", "   ")] {
        let resp = bob
            .post_form(
                "/inbox/replies",
                &[("site", &key), ("shortcut", shortcut), ("body", body)],
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{shortcut:?} {body:?}"
        );
    }
    assert_eq!(
        bob.page("/inbox/replies")
            .await
            .texts(".canned-list li")
            .len(),
        1
    );

    // A visitor's conversation carries the site's replies for the composer.
    let guest = app.visitor();
    let frame = start(&app, &guest, &key, "Where is my money?").await;
    let (_, id) = token_and_conversation(&frame);
    let page = bob.page(&format!("/inbox/{id}")).await;
    assert_eq!(
        page.attr("#canned-replies .canned-reply", "data-shortcut")
            .as_deref(),
        Some("refund")
    );
    assert_eq!(
        page.attr("#canned-replies .canned-reply", "data-body")
            .as_deref(),
        Some("Your refund is on its way <3")
    );

    // Someone who answers for no site sees none, and cannot add to or remove this one's.
    let carol = app.member("carol").await;
    assert!(
        carol
            .page("/inbox/replies")
            .await
            .texts(".canned-list li")
            .is_empty()
    );
    let foreign = carol
        .post_form(
            "/inbox/replies",
            &[("site", &key), ("shortcut", "mine"), ("body", "x")],
        )
        .await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let reply_id = listed
        .attr(".canned-list li", "id")
        .and_then(|id| id.strip_prefix("canned-").map(str::to_owned))
        .expect("the reply's id");
    let path = format!("/inbox/replies/{reply_id}/delete");
    assert_eq!(
        carol.post_form(&path, &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    // Being an administrator is not being the site's operator.
    assert_eq!(
        admin.post_form(&path, &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bob.post_form(&path, &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        bob.page("/inbox/replies")
            .await
            .texts(".canned-list li")
            .is_empty()
    );
}

#[tokio::test]
async fn analytics_count_todays_conversations_and_how_fast_they_were_answered() {
    let app = TestApp::spawn().await;
    let (_admin, bob, key) = site_with_operator(&app, "bob").await;
    let empty = bob.page("/inbox/analytics").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(
        empty.text_of("#analytics-conversations").as_deref(),
        Some("0")
    );

    let guest = app.visitor();
    let frame = start(&app, &guest, &key, "Hello?").await;
    let (_, id) = token_and_conversation(&frame);
    let _unanswered = start(&app, &app.visitor(), &key, "Anyone?").await;
    bob.post_message(id, "Hi! How can I help?").await;
    assert_eq!(
        bob.post_form(&format!("/inbox/{id}/close"), &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    let page = bob.page("/inbox/analytics").await;
    assert_eq!(
        page.text_of("#analytics-conversations").as_deref(),
        Some("2")
    );
    let first_reply = page.text_of("#analytics-first-reply").expect("first reply");
    assert!(
        first_reply.ends_with(" s"),
        "answered within seconds: {first_reply}"
    );
    assert!(
        page.text_of("#analytics-close")
            .is_some_and(|t| t.ends_with(" s"))
    );
    // Seven bars, today's last, drawn to the tallest.
    let bars = page.select("#chart-conversations rect.chart-bar");
    assert_eq!(bars.len(), 7);
    let today = bars.last().expect("today's bar").value();
    assert_eq!(today.attr("data-value"), Some("2"));
    assert_eq!(
        page.attr("#chart-conversations", "data-max").as_deref(),
        Some("2")
    );

    let csv = bob.get("/inbox/analytics.csv?days=30").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/csv"))
    );
    let text = csv.text().await.expect("csv");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "date,conversations,median_first_reply_seconds,median_close_seconds"
    );
    assert_eq!(lines.len(), 31, "a header and thirty days");
    let last: Vec<&str> = lines[30].split(',').collect();
    assert_eq!(last[1], "2", "{}", lines[30]);
    assert!(
        last[2].parse::<i64>().is_ok() && last[3].parse::<i64>().is_ok(),
        "{}",
        lines[30]
    );
    assert!(lines[1..30].iter().all(|l| l.ends_with(",0,,")), "{text}");

    // Other periods are refused; someone who answers for no site counts nothing, and
    // another site's key is unknown to them.
    assert_eq!(
        bob.get("/inbox/analytics?days=9").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let carol = app.member("carol").await;
    let theirs = carol.page("/inbox/analytics").await;
    assert_eq!(
        theirs.text_of("#analytics-conversations").as_deref(),
        Some("0")
    );
    assert_eq!(
        carol
            .get(&format!("/inbox/analytics?site={key}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let page = Page::read(
        bob.get(&format!("/inbox/analytics?site={key}&days=30"))
            .await,
    )
    .await;
    assert_eq!(page.select("#chart-close rect.chart-bar").len(), 30);
}

#[tokio::test]
#[ignore = "needs aiosmtpd, an SMTP server (.ci/run installs it)"]
async fn a_transcript_is_mailed_to_the_address_the_visitor_left() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = TestApp::builder()
        .configure(move |c| c.mail.smtp_url = Some(url))
        .spawn()
        .await;
    let (_admin, bob, key) = site_with_operator(&app, "bob").await;
    let guest = app.visitor();
    let resp = widget_post(
        &app,
        &guest,
        &format!("/widget/{key}/start"),
        &[
            ("body", "My parcel is lost"),
            ("email", "visitor@example.com"),
            ("host", SHOP),
            ("page", "http://shop.test:8081/"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, id) = token_and_conversation(&Page::read(resp).await);
    bob.post_message(id, "Found it: it ships today").await;
    bob.post_form(&format!("/inbox/{id}/close"), &[]).await;

    let page = bob.page(&format!("/inbox/{id}")).await;
    assert!(page.has("#transcript-email"), "the panel offers to mail it");
    let resp = bob
        .post_form(&format!("/inbox/{id}/transcript/email"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let mails = smtp.wait_for_mails(1).await;
    let mail = mails[0].replace("=\r\n", "").replace("=\n", "");
    assert!(mail.contains("visitor@example.com"), "{mail}");
    assert!(mail.contains("Your conversation with Shop"), "{mail}");
    assert!(
        mail.contains("My parcel is lost") && mail.contains("Found it: it ships today"),
        "{mail}"
    );
    let page = bob.page(&format!("/inbox/{id}?mailed=1")).await;
    assert!(page.has("#transcript-sent"));

    // A visitor who left no address cannot be mailed; someone else cannot mail theirs.
    let quiet = start(&app, &app.visitor(), &key, "No email from me").await;
    let (_, quiet_id) = token_and_conversation(&quiet);
    assert!(
        !bob.page(&format!("/inbox/{quiet_id}"))
            .await
            .has("#transcript-email")
    );
    assert_eq!(
        bob.post_form(&format!("/inbox/{quiet_id}/transcript/email"), &[])
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let carol = app.member("carol").await;
    assert_eq!(
        carol
            .post_form(&format!("/inbox/{id}/transcript/email"), &[])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(smtp.wait_for_mails(1).await.len(), 1, "one mail, no more");
}

#[tokio::test]
async fn the_inbox_speaks_the_operators_language_and_each_row_its_sites() {
    let app = TestApp::spawn().await;
    let (admin, bob, key) = site_with_operator(&app, "bob").await;
    let made = admin
        .post_form(
            "/admin/sites",
            &[
                ("name", "فروشگاه"),
                ("origins", SHOP),
                ("language", "fa"),
                ("guests", "on"),
            ],
        )
        .await;
    let persian_key = Page::read(made).await.text_of("#site-key").expect("key");
    admin
        .post_form(
            &format!("/admin/sites/{persian_key}/operators"),
            &[("username", "bob")],
        )
        .await;
    start(&app, &app.visitor(), &key, "Hello").await;
    let persian = start(&app, &app.visitor(), &persian_key, "سلام").await;
    let (_, persian_id) = token_and_conversation(&persian);

    let in_persian = |path: &str| {
        bob.http
            .get(app.url(path))
            .header("Accept-Language", "fa-IR,fa;q=0.9,en;q=0.5")
            .send()
    };
    let page = Page::read(in_persian("/inbox").await.expect("GET")).await;
    assert_eq!(page.attr("html", "lang").as_deref(), Some("fa"));
    assert_eq!(page.attr("html", "dir").as_deref(), Some("rtl"));
    assert_eq!(page.text_of("#inbox h1").as_deref(), Some("صندوق گفتگوها"));
    assert_eq!(page.text_of("button.link-button").as_deref(), Some("خروج"));

    // Rows go to every operator alike, so each speaks its site's language.
    let english = bob.page("/inbox").await;
    assert_eq!(english.attr("html", "lang").as_deref(), Some("en"));
    assert_eq!(english.text_of("#inbox h1").as_deref(), Some("Inbox"));
    let rows = english.select("#inbox-list li");
    assert_eq!(rows.len(), 2);
    let row_of = |id: i64| {
        english
            .select(&format!("#inbox-{id} .inbox-meta"))
            .first()
            .map(|e| e.text().collect::<String>())
            .expect("the row")
    };
    assert!(
        row_of(persian_id).contains("اولین بازدید"),
        "{}",
        row_of(persian_id)
    );
    assert_eq!(
        english
            .attr(&format!("#inbox-{persian_id}"), "dir")
            .as_deref(),
        Some("rtl")
    );
    assert!(
        english
            .texts(".inbox-meta")
            .iter()
            .any(|t| t.contains("first seen")),
        "the other site's row is in English"
    );

    // The conversation's panel speaks the operator's language.
    let panel = Page::read(
        in_persian(&format!("/inbox/{persian_id}"))
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(panel.attr("#support-panel", "dir").as_deref(), Some("rtl"));
    assert!(
        panel
            .text_of("#support-panel button[type=submit]")
            .is_some_and(|t| t == "واگذار کن"),
        "{:?}",
        panel.texts("#support-panel button")
    );
    assert_eq!(panel.attr("#canned-replies", "dir").as_deref(), Some("rtl"));
    assert_eq!(
        panel.text_of("#canned-replies summary").as_deref(),
        Some("پاسخ‌های آماده (0)")
    );

    // So do the canned replies and the analytics.
    let replies = Page::read(in_persian("/inbox/replies").await.expect("GET")).await;
    assert_eq!(replies.attr("html", "dir").as_deref(), Some("rtl"));
    assert_eq!(
        replies.text_of("#canned-replies-admin h1").as_deref(),
        Some("پاسخ‌های آماده")
    );
    let analytics = Page::read(in_persian("/inbox/analytics").await.expect("GET")).await;
    assert_eq!(analytics.attr("html", "lang").as_deref(), Some("fa"));
    assert_eq!(
        analytics.text_of("#inbox-analytics h1").as_deref(),
        Some("آمار صندوق گفتگوها")
    );
    assert_eq!(
        analytics.text_of("#analytics-csv").as_deref(),
        Some("دریافت به صورت CSV")
    );
    let english = bob.page("/inbox/analytics").await;
    assert_eq!(
        english.text_of("#analytics-csv").as_deref(),
        Some("Download as CSV")
    );
}

#[tokio::test]
async fn the_visitor_and_the_team_see_each_other_read_but_colleagues_do_not_tick_each_other() {
    let app = TestApp::spawn().await;
    let (admin, bob, key) = site_with_operator(&app, "bob").await;
    let carol = app.member("carol").await;
    admin
        .post_form(
            &format!("/admin/sites/{key}/operators"),
            &[("username", "carol")],
        )
        .await;
    let guest = app.visitor();
    let frame = start(&app, &guest, &key, "Is it in stock?").await;
    let (token, id) = token_and_conversation(&frame);
    bob.post_message(id, "Yes, three left").await;
    let from_carol = carol.post_message(id, "And more on Monday").await;

    let mut visitor_socket = guest
        .socket(&format!(
            "/widget/{key}/ws?guest={token}&after={from_carol}"
        ))
        .await;
    let mut bob_socket = bob.socket(&format!("/ws?conversation={id}")).await;
    let mut carol_socket = carol.socket(&format!("/ws?conversation={id}")).await;

    // The visitor reads the answers: the team's pages tick them.
    let resp = guest
        .http
        .post(app.url(&format!("/widget/{key}/read")))
        .header("X-Hearth-Guest", &token)
        .form(&[("up_to", from_carol.to_string())])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let receipt = format!("id=\"peer-read-{id}\" data-up-to=\"{from_carol}\"");
    frame_where(&mut bob_socket, |f| f.contains(&receipt)).await;
    frame_where(&mut carol_socket, |f| f.contains(&receipt)).await;

    // The visitor writes again and bob reads it: the visitor's frame ticks it, and
    // carol's page hears nothing of it (the next thing it gets is the visitor's next
    // message).
    let say = |body: &'static str| {
        guest
            .http
            .post(app.url(&format!("/widget/{key}/messages")))
            .header("HX-Request", "true")
            .header("X-Hearth-Guest", &token)
            .form(&[("body", body)])
            .send()
    };
    let resp = say("Great, thanks").await.expect("POST");
    assert_eq!(resp.status(), StatusCode::OK);
    let second = *message_ids_in(&resp.text().await.expect("answer"))
        .first()
        .expect("the visitor's second message");
    frame_where(&mut carol_socket, |f| f.contains("Great, thanks")).await;
    let resp = bob
        .post_form(
            &format!("/conversations/{id}/read"),
            &[("up_to", &second.to_string())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let ticked = format!("id=\"peer-read-{id}\" data-up-to=\"{second}\"");
    frame_where(&mut visitor_socket, |f| f.contains(&ticked)).await;
    assert_eq!(say("Bye").await.expect("POST").status(), StatusCode::OK);
    let mut before = Vec::new();
    loop {
        let f = frame_where(&mut carol_socket, |_| true).await;
        if f.contains("Bye") {
            break;
        }
        before.push(f);
    }
    assert!(
        before.iter().all(|f| !f.contains(&ticked)),
        "carol's messages are not ticked by bob's reading: {before:?}"
    );

    // Pages drawn later start from the same marks (the visitor's own messages count
    // as read by them).
    let page = bob.page(&format!("/inbox/{id}")).await;
    let visitor_read: i64 = page
        .attr(&format!("#peer-read-{id}"), "data-up-to")
        .and_then(|v| v.parse().ok())
        .expect("the visitor's mark");
    assert!(
        visitor_read > second,
        "{visitor_read} after the visitor's last message"
    );
    let again = crate::support::widget_post(
        &app,
        &guest,
        &format!("/widget/{key}/resume"),
        &[("guest", &token), ("host", crate::support::SHOP)],
    )
    .await;
    let again = Page::read(again).await;
    let team_read: i64 = again
        .attr(&format!("#peer-read-{id}"), "data-up-to")
        .and_then(|v| v.parse().ok())
        .expect("the team's mark");
    assert_eq!(team_read, second, "the furthest the team has read");
}

#[tokio::test]
async fn an_operator_who_reads_before_answering_ticks_the_visitors_message() {
    let app = TestApp::spawn().await;
    let (_admin, bob, key) = site_with_operator(&app, "bob").await;
    let guest = app.visitor();
    let frame = start(&app, &guest, &key, "Anyone there?").await;
    let (token, id) = token_and_conversation(&frame);
    let first = *frame.message_ids().last().expect("the visitor's message");
    let mut visitor_socket = guest
        .socket(&format!("/widget/{key}/ws?guest={token}&after={first}"))
        .await;
    let resp = bob
        .post_form(
            &format!("/conversations/{id}/read"),
            &[("up_to", &first.to_string())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let ticked = format!("id=\"peer-read-{id}\" data-up-to=\"{first}\"");
    frame_where(&mut visitor_socket, |f| f.contains(&ticked)).await;
}
