//! Files and pictures in a real browser (issue 22): a screenshot pasted into the
//! composer and a PDF dropped on the conversation reach the other person live, the
//! pictures open in the lightbox (arrow keys move, Escape closes), and a third person
//! gets 404 for every file URL of the private chat.
use base64::Engine;
use fantoccini::key::Key;
use serde_json::{Value, json};

use crate::{
    harness::{Browser, Driver, Options, enter, sign_up},
    helpers::TestApp,
};

/// A PNG of `width`×`height`, as a clipboard holds a screenshot.
fn screenshot_png(width: u32, height: u32) -> String {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 200) as u8 + 40, (y % 200) as u8 + 20, 160])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    picture
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG");
    base64::engine::general_purpose::STANDARD.encode(out.into_inner())
}

/// Pastes a file into the composer, as Ctrl+V does with a screenshot on the clipboard.
const PASTE: &str = r#"
const [b64, name, type] = arguments;
const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
const data = new DataTransfer();
data.items.add(new File([bytes], name, { type }));
const paste = new Event('paste', { bubbles: true, cancelable: true });
Object.defineProperty(paste, 'clipboardData', { value: data });
document.getElementById('composer-body').dispatchEvent(paste);
return paste.defaultPrevented;
"#;

/// Drops a file on the conversation, as dragging it from the desktop does.
const DROP: &str = r#"
const [text, name, type] = arguments;
const data = new DataTransfer();
data.items.add(new File([text], name, { type }));
const zone = document.querySelector('main.conversation');
zone.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: data }));
const drop = new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: data });
zone.dispatchEvent(drop);
return drop.defaultPrevented;
"#;

/// The last message's files as the page shows them, once its pictures have loaded.
const LAST_MESSAGE_FILES: &str = r#"
const messages = document.querySelectorAll('#messages article.message');
const last = messages[messages.length - 1];
if (!last) return null;
const files = [...last.querySelectorAll('.attachment')];
if (files.length < 3) return null;
const images = [...last.querySelectorAll('.attachment img')];
if (images.some(i => !i.complete || i.naturalWidth === 0)) return null;
return {
  body: last.querySelector('.message-body').innerText,
  images: images.map(i => ({ width: i.getAttribute('width'), height: i.getAttribute('height'),
                              href: i.closest('a').getAttribute('href'), src: i.getAttribute('src') })),
  cards: [...last.querySelectorAll('.attachment-file')].map(c => ({ text: c.innerText, href: c.getAttribute('href') })),
};
"#;

async fn lightbox_src(browser: &Browser) -> Option<String> {
    let shown = browser
        .js(
            "const d = document.getElementById('lightbox');\
             if (!d || !d.open) return null;\
             const i = d.querySelector('img');\
             return i.complete && i.naturalWidth > 0 ? new URL(i.src).pathname : null;",
            vec![],
        )
        .await;
    shown.as_str().map(str::to_owned)
}

async fn press(browser: &Browser, key: Key) {
    browser
        .client
        .active_element()
        .await
        .expect("a focused element")
        .send_keys(&key.to_string())
        .await
        .expect("a key press");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn a_pasted_screenshot_and_a_dropped_pdf_reach_the_other_person_and_open_in_the_lightbox() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    let bob = driver
        .browser("bob", &app.url(""), Options::default())
        .await;
    let carol = driver
        .browser("carol", &app.url(""), Options::default())
        .await;
    tokio::join!(sign_up(&alice), sign_up(&bob), sign_up(&carol));

    alice.goto("/dm/bob").await;
    bob.goto("/dm/alice").await;
    alice.until_connected().await;
    bob.until_connected().await;
    bob.mark_page().await;

    // Two screenshots pasted, a PDF dropped, a line of text: one message.
    for (width, height) in [(640, 360), (300, 500)] {
        let pasted = alice
            .js(
                PASTE,
                vec![
                    json!(screenshot_png(width, height)),
                    json!("image.png"),
                    json!("image/png"),
                ],
            )
            .await;
        assert_eq!(pasted, json!(true), "the composer took the pasted picture");
    }
    let dropped = alice
        .js(
            DROP,
            vec![
                json!("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"),
                json!("report.pdf"),
                json!("application/pdf"),
            ],
        )
        .await;
    assert_eq!(
        dropped,
        json!(true),
        "the conversation took the dropped file"
    );
    let chips = alice
        .until_js("three files waiting in the composer", "const n = document.querySelectorAll('#composer-uploads .upload-chip').length; return n === 3 && n;", vec![])
        .await;
    assert_eq!(chips, json!(3));
    alice.screenshot("issue22-alice-composer-with-files").await;
    alice
        .type_into("#composer-body", "the screenshots and the report")
        .await;
    alice.type_into("#composer-body", &enter()).await;

    // Bob sees it live, pictures loaded at their thumbnails' sizes, the PDF as a card.
    let shown = bob
        .until_js(
            "the message with its files on Bob's page",
            LAST_MESSAGE_FILES,
            vec![],
        )
        .await;
    assert!(bob.page_is_marked().await, "Bob's page did not reload");
    assert_eq!(shown["body"], json!("the screenshots and the report"));
    let images = shown["images"].as_array().expect("pictures");
    assert_eq!(images.len(), 2);
    assert_eq!(
        (images[0]["width"].clone(), images[0]["height"].clone()),
        (json!("400"), json!("225"))
    );
    assert_eq!(
        (images[1]["width"].clone(), images[1]["height"].clone()),
        (json!("240"), json!("400"))
    );
    let cards = shown["cards"].as_array().expect("cards");
    assert_eq!(cards.len(), 1);
    assert!(
        cards[0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("report.pdf"),
        "{cards:?}"
    );
    let composer_empty = alice
        .until_js("Alice's composer empty again", "return document.querySelectorAll('#composer-uploads .upload-chip').length === 0 && document.getElementById('composer-body').value === '';", vec![])
        .await;
    assert_eq!(composer_empty, json!(true));
    bob.screenshot("issue22-bob-sees-files").await;

    // The lightbox: the first picture full size, the arrow to the next, Escape closes.
    bob.click("#messages article.message:last-of-type .attachment-image")
        .await;
    let first_href = images[0]["href"].as_str().expect("a link").to_owned();
    let second_href = images[1]["href"].as_str().expect("a link").to_owned();
    let src = bob
        .until("the lightbox showing the first picture", async || {
            lightbox_src(&bob).await
        })
        .await;
    assert_eq!(src, first_href);
    bob.screenshot("issue22-bob-lightbox").await;
    press(&bob, Key::Right).await;
    bob.until("the lightbox on the second picture", async || {
        (lightbox_src(&bob).await? == second_href).then_some(())
    })
    .await;
    press(&bob, Key::Escape).await;
    bob.until_js(
        "the lightbox closed",
        "const d = document.getElementById('lightbox'); return !!d && !d.open;",
        vec![],
    )
    .await;
    assert!(bob.page_is_marked().await, "Bob never left the page");

    // Carol, signed in but not in the chat, gets 404 for every file URL of it.
    let mut urls: Vec<Value> = images
        .iter()
        .flat_map(|i| [i["href"].clone(), i["src"].clone()])
        .collect();
    urls.push(cards[0]["href"].clone());
    carol.goto("/").await;
    let statuses = carol
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             Promise.all(arguments[0].map(u => fetch(u).then(r => r.status))).then(done, e => done(String(e)));",
            vec![json!(urls)],
        )
        .await
        .expect("Carol's fetches");
    assert_eq!(
        statuses,
        json!(vec![404; urls.len()]),
        "Carol fetched {urls:?}"
    );
    let bobs = bob
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             Promise.all(arguments[0].map(u => fetch(u).then(r => r.status))).then(done, e => done(String(e)));",
            vec![json!(urls)],
        )
        .await
        .expect("Bob's fetches");
    assert_eq!(bobs, json!(vec![200; urls.len()]));

    // What this issue added to the page passes axe (the rest is other tests' business).
    let violations: Vec<String> = bob
        .accessibility_violations()
        .await
        .into_iter()
        .filter(|v| {
            [
                "attachment",
                "composer",
                "upload",
                "lightbox",
                "attach-button",
            ]
            .iter()
            .any(|w| v.contains(w))
        })
        .collect();
    assert!(violations.is_empty(), "accessibility: {violations:#?}");

    alice.close().await;
    bob.close().await;
    carol.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn without_javascript_the_composer_sends_a_chosen_file_as_a_plain_form() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let options = Options {
        no_javascript: true,
        ..Options::default()
    };
    let alice = driver.browser("alice", &app.url(""), options).await;
    sign_up(&alice).await;
    let room = crate::harness::create_room(&alice, "Plain files").await;
    alice.goto(&room).await;

    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("holiday.png");
    let png = base64::engine::general_purpose::STANDARD
        .decode(screenshot_png(500, 300))
        .expect("bytes");
    std::fs::write(&path, png).expect("the picture on disk");
    // The file input itself is shown without script: choose the file as a person does.
    alice
        .find("#composer-files")
        .await
        .send_keys(&path.display().to_string())
        .await
        .expect("a file chosen");
    alice.type_into("#composer-body", "from the beach").await;
    alice.click("#composer button[type=submit]").await;
    let shown = alice
        .until_js(
            "the message with its picture after the form comes back",
            "const a = document.querySelector('#messages article.message:last-of-type .attachment-image img');\
             return a && a.complete && a.naturalWidth > 0 && [a.getAttribute('width'), a.getAttribute('height')];",
            vec![],
        )
        .await;
    assert_eq!(shown, json!(["400", "240"]));
    assert_eq!(alice.path().await, room, "back in the conversation");
    alice.screenshot("issue22-no-js-upload").await;
    alice.close().await;
}
