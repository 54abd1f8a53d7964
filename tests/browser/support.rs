//! The support widget in a browser: a shop's page on another origin embeds the
//! snippet; a visitor opens the launcher and writes in hearth's frame; the operator
//! sees the conversation appear in the inbox, answers, and the shop's page hears of
//! it (`hearth:message`); a reload brings the conversation back.
use std::net::SocketAddr;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{
    harness::{Browser, Driver, Options, enter},
    helpers::{Page, TestApp},
};

/// Serves `html` for every request `listener` takes: the shop, on an origin other
/// than hearth's. Ends with the test's runtime.
fn serve_shop(listener: tokio::net::TcpListener, html: String) {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
}

/// Logs `browser` in as alice, the first account (`TestApp::member`'s password).
async fn log_in_as_alice(browser: &Browser) {
    browser.goto("/login").await;
    browser.type_into("#username", "alice").await;
    browser.type_into("#password", "tulip-harbor-42").await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.until_at("/").await;
}

/// Runs `script` inside the widget's frame, then comes back to the shop's page.
async fn in_frame(visitor: &Browser, script: &str) -> serde_json::Value {
    let frame = visitor.find("#hearth-frame").await;
    frame.enter_frame().await.expect("enter the widget's frame");
    let value = visitor
        .client
        .execute(script, vec![])
        .await
        .expect("script in the frame");
    visitor
        .client
        .enter_parent_frame()
        .await
        .expect("back to the shop");
    value
}

/// Waits until `script`, run in the widget's frame, answers true.
async fn until_in_frame(visitor: &Browser, what: &str, script: &str) {
    visitor
        .until(what, async || {
            (in_frame(visitor, script).await == json!(true)).then_some(())
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn a_visitor_of_another_site_talks_to_an_operator_through_the_widget() {
    let app = TestApp::spawn().await;
    let admin = app.member("alice").await;
    // The shop's origin is known before the site is made; its page, which names the
    // site's key, is served after.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the shop");
    let listener_addr: SocketAddr = listener.local_addr().expect("the shop's address");
    let origin = format!("http://{listener_addr}");
    let made = admin
        .post_form(
            "/admin/sites",
            &[("name", "Shop"), ("origins", &origin), ("guests", "on")],
        )
        .await;
    let key = Page::read(made).await.text_of("#site-key").expect("key");
    admin
        .post_form(
            &format!("/admin/sites/{key}/operators"),
            &[("username", "alice")],
        )
        .await;
    let page = format!(
        "<!doctype html><html><head><title>Shop</title></head><body><h1>The shop</h1>\
         <script>window.__events = [];\
           for (const t of ['open', 'close', 'message']) document.addEventListener('hearth:' + t,\
             (e) => window.__events.push([t, e.detail]));</script>\
         <script src=\"{}/widget.js\" data-site=\"{key}\" async></script></body></html>",
        app.url("")
    );
    serve_shop(listener, page);

    let driver = Driver::start().await;
    let visitor = driver.browser("visitor", &origin, Options::default()).await;
    visitor.goto("/").await;
    visitor.click("#hearth-launcher").await;
    visitor
        .until_js(
            "the shop heard hearth:open",
            "return window.__events.some(([t]) => t === 'open');",
            vec![],
        )
        .await;
    until_in_frame(
        &visitor,
        "the frame shows its start form",
        "return !!document.getElementById('widget-first');",
    )
    .await;
    in_frame(
        &visitor,
        "document.getElementById('widget-first').value = 'Where is my parcel?';\
         document.getElementById('widget-start').requestSubmit(); return true;",
    )
    .await;
    until_in_frame(
        &visitor,
        "the visitor's first message is in the frame",
        "const m = document.querySelector('#messages .message-body');\
         return !!m && m.textContent.includes('Where is my parcel?') && !!document.body.dataset.connection;",
    )
    .await;

    // The operator's inbox has it; they open it and answer.
    let operator = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    log_in_as_alice(&operator).await;
    operator.goto("/inbox").await;
    operator
        .until("the conversation is in the inbox", async || {
            let text = operator.visible_text("#inbox-list").await;
            text.contains("Where is my parcel?").then_some(())
        })
        .await;
    operator.click("#inbox-list .inbox-link").await;
    operator.until_connected().await;
    operator
        .type_into("#composer-body", "It left this morning.")
        .await;
    operator.type_into("#composer-body", &enter()).await;

    until_in_frame(
        &visitor,
        "the operator's answer reached the frame live",
        "return [...document.querySelectorAll('#messages .message-body')]\
           .some((m) => m.textContent.includes('It left this morning.'));",
    )
    .await;
    visitor
        .until_js(
            "the shop heard hearth:message from the operator",
            "return window.__events.some(([t, d]) => t === 'message' && d.authorKind === 'operator'\
               && d.text.includes('It left this morning.'));",
            vec![],
        )
        .await;

    // A reload of the shop's page: the widget brings the same conversation back.
    visitor.goto("/").await;
    visitor.click("#hearth-launcher").await;
    until_in_frame(
        &visitor,
        "the conversation survived the reload",
        "return [...document.querySelectorAll('#messages .message-body')]\
           .some((m) => m.textContent.includes('Where is my parcel?'));",
    )
    .await;
    visitor.close().await;
    operator.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn the_persian_widget_reads_right_to_left() {
    let app = TestApp::spawn().await;
    let admin = app.member("alice").await;
    let made = admin
        .post_form(
            "/admin/sites",
            &[
                ("name", "فروشگاه"),
                ("origins", "http://shop.test"),
                ("title", "گفتگو با ما"),
                ("language", "fa"),
                ("guests", "on"),
                ("greeting", "سلام! چطور می‌توانیم کمک کنیم؟"),
                ("away_message", "الان کسی آنلاین نیست. ایمیل خود را بگذارید."),
            ],
        )
        .await;
    let key = Page::read(made).await.text_of("#site-key").expect("key");
    let driver = Driver::start().await;
    let visitor = driver
        .browser("visitor", &app.url(""), Options::default())
        .await;
    visitor.resize(380, 600).await;
    visitor
        .goto(&format!("/widget/{key}?host=http://shop.test"))
        .await;
    let layout = visitor
        .js(
            "const r = document.createRange();\
             r.selectNodeContents(document.querySelector('.widget-header h1'));\
             const h = r.getBoundingClientRect();\
             const header = document.querySelector('.widget-header').getBoundingClientRect();\
             return { dir: getComputedStyle(document.documentElement).direction,\
                      lang: document.documentElement.lang,\
                      button: document.querySelector('#widget-start button').textContent,\
                      rightGap: header.right - h.right, leftGap: h.left - header.left };",
            vec![],
        )
        .await;
    let shot = visitor.screenshot("support-widget-fa").await;
    assert_eq!(layout["dir"], "rtl", "{layout} ({})", shot.display());
    assert_eq!(layout["lang"], "fa");
    assert_eq!(layout["button"], "شروع گفتگو");
    // The heading's words start at the right: the space is left of them.
    let (right, left) = (
        layout["rightGap"].as_f64().expect("a number"),
        layout["leftGap"].as_f64().expect("a number"),
    );
    assert!(
        right < left,
        "the heading sits at the right: {layout} ({})",
        shot.display()
    );
    visitor.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn an_operator_calls_up_a_canned_reply_with_a_slash() {
    let app = TestApp::spawn().await;
    let admin = app.member("alice").await;
    let made = admin
        .post_form(
            "/admin/sites",
            &[
                ("name", "Shop"),
                ("origins", "http://shop.test"),
                ("guests", "on"),
            ],
        )
        .await;
    let key = Page::read(made).await.text_of("#site-key").expect("key");
    admin
        .post_form(
            &format!("/admin/sites/{key}/operators"),
            &[("username", "alice")],
        )
        .await;
    for (shortcut, body) in [
        ("refund", "Your refund is on its way."),
        ("hours", "We answer from 9 to 5."),
    ] {
        admin
            .post_form(
                "/inbox/replies",
                &[("site", &key), ("shortcut", shortcut), ("body", body)],
            )
            .await;
    }
    let guest = app.visitor();
    let started = guest
        .http
        .post(app.url(&format!("/widget/{key}/start")))
        .header("Origin", format!("http://{}", app.addr))
        .form(&[
            ("body", "Money back?"),
            ("host", "http://shop.test"),
            ("page", "http://shop.test/"),
        ])
        .send()
        .await
        .expect("start");
    let id = Page::read(started)
        .await
        .attr("main", "data-conversation-id")
        .expect("the visitor's conversation");

    let driver = Driver::start().await;
    let operator = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    log_in_as_alice(&operator).await;
    operator.goto(&format!("/inbox/{id}")).await;
    operator.until_connected().await;
    operator.type_into("#composer-body", "/re").await;
    let offered = operator
        .until_js(
            "the reply box offers the matching reply",
            "const box = document.getElementById('canned-suggest');\
             return box && !box.hidden ? [...box.querySelectorAll('.canned-option')].map((o) => o.textContent) : null;",
            vec![],
        )
        .await;
    assert_eq!(offered, json!(["/refund Your refund is on its way."]));
    operator.type_into("#composer-body", &enter()).await;
    let held = operator
        .js(
            "return document.getElementById('composer-body').value;",
            vec![],
        )
        .await;
    assert_eq!(
        held,
        json!("Your refund is on its way."),
        "picked, not sent"
    );
    assert_eq!(operator.messages().await.len(), 1, "nothing sent yet");
    operator.type_into("#composer-body", &enter()).await;
    operator
        .until("the reply is sent", async || {
            let messages = operator.messages().await;
            messages
                .iter()
                .any(|(_, body)| body.contains("Your refund is on its way."))
                .then_some(())
        })
        .await;
    operator.goto("/inbox/analytics").await;
    let bars = operator
        .js(
            "return document.querySelectorAll('#chart-conversations rect.chart-bar').length;",
            vec![],
        )
        .await;
    let shot = operator.screenshot("inbox-analytics").await;
    assert_eq!(bars, json!(7), "{}", shot.display());
    operator.close().await;
}
