//! Files and pictures: posting them with the composer, who may fetch them, the limits
//! and the bad input, and storage on disk and on an S3-compatible server.
use std::io::Cursor;

use reqwest::StatusCode;
use scraper::Html;

use crate::helpers::{PATIENCE, TestApp, Upload, eventually, frame_where, message_ids_in};

const MIB: u64 = 1024 * 1024;

/// A PNG of `width`×`height` with a gradient, so it is not trivially small.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Cursor::new(Vec::new());
    picture
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG");
    out.into_inner()
}

/// A JPEG of `width`×`height` whose EXIF says to turn it by `orientation` (6: a
/// quarter turn clockwise), and that carries a camera's note, as phones' photos do.
pub fn jpeg_with_exif(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let picture =
        image::RgbImage::from_fn(width, height, |x, _| image::Rgb([(x % 256) as u8, 60, 90]));
    let mut out = Cursor::new(Vec::new());
    picture
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("a JPEG");
    let jpeg = out.into_inner();
    // APP1 "Exif": a big-endian TIFF header and one IFD with two entries:
    // Orientation (0x0112, SHORT) and Make (0x010F, ASCII, "SECRETCAM\0" at offset 38).
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x0f, 0, 2]);
    tiff.extend_from_slice(&10u32.to_be_bytes());
    tiff.extend_from_slice(&38u32.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3]);
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(b"SECRETCAM\0");
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut with_exif = vec![0xff, 0xd8, 0xff, 0xe1];
    with_exif.extend_from_slice(&u16::try_from(app1.len() + 2).expect("short").to_be_bytes());
    with_exif.extend_from_slice(&app1);
    with_exif.extend_from_slice(&jpeg[2..]);
    with_exif
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32(&body).to_be_bytes());
    chunk
}

/// A PNG of a few hundred bytes that claims a `width`×`height` canvas: an image bomb.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend(png_chunk(b"IHDR", &header));
    png.extend(png_chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0, 0, 0, 0, 1]));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

/// An `<img>` as shown: its `src`, `width` and `height`.
type Picture = (String, String, String);

/// The attachments of message `id` in `html`: each one's class, link and picture.
fn attachments_of(html: &str, id: i64) -> Vec<(String, String, Option<Picture>)> {
    let doc = Html::parse_document(html);
    let selector = scraper::Selector::parse(&format!("#message-{id} .attachment")).expect("css");
    let img = scraper::Selector::parse("img").expect("css");
    doc.select(&selector)
        .map(|a| {
            let class = a.value().attr("class").unwrap_or_default().to_owned();
            let href = a
                .value()
                .attr("href")
                .map(str::to_owned)
                .or_else(|| {
                    a.select(&scraper::Selector::parse("a").expect("css"))
                        .next()
                        .and_then(|l| l.value().attr("href").map(str::to_owned))
                })
                .unwrap_or_default();
            let picture = a.select(&img).next().map(|i| {
                let attr = |n| i.value().attr(n).unwrap_or_default().to_owned();
                (attr("src"), attr("width"), attr("height"))
            });
            (class, href, picture)
        })
        .collect()
}

#[tokio::test]
async fn a_picture_posted_with_text_shows_as_a_sized_thumbnail_live_on_the_other_page() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let room = alice.create_room("photos").await;
    let id = alice.conversation_id(&room).await;
    let mut bobs = bob.socket(&format!("/ws?conversation={id}")).await;

    let picture = png(800, 600);
    let resp = alice
        .post_files(
            id,
            "the view",
            vec![Upload::new("view.png", "image/png", picture.clone())],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let message = message_ids_in(&resp.text().await.expect("fragment"))[0];

    let frame = frame_where(&mut bobs, |f| {
        f.contains(&format!("id=\"message-{message}\""))
    })
    .await;
    let shown = attachments_of(&frame, message);
    assert_eq!(shown.len(), 1, "one attachment in {frame}");
    let (class, href, picture_shown) = &shown[0];
    assert!(class.contains("attachment-image"), "{class}");
    let (src, width, height) = picture_shown.clone().expect("an <img>");
    assert_eq!(
        (width.as_str(), height.as_str()),
        ("400", "300"),
        "the thumbnail's size, so the page does not jump"
    );
    assert!(frame.contains("the view"));

    // The page shows it the same way.
    let page = bob.get(&room).await.text().await.expect("page");
    assert_eq!(attachments_of(&page, message), shown);

    let thumb = bob.get(&src).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&thumb.bytes().await.expect("bytes")).expect("a picture");
    assert_eq!((thumb.width(), thumb.height()), (400, 300));

    let full = bob.get(href).await;
    assert_eq!(full.status(), StatusCode::OK);
    let headers = full.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    assert!(csp.starts_with("sandbox"), "{csp}");
    let cache = headers["cache-control"].to_str().expect("ascii");
    assert!(
        cache.contains("private") && !cache.contains("public"),
        "{cache}"
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("inline;")
    );
    assert_eq!(
        full.bytes().await.expect("bytes").to_vec(),
        picture,
        "the file as it was sent"
    );
}

#[tokio::test]
async fn a_plain_form_without_script_posts_files_and_comes_back_to_the_conversation() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let room = alice.create_room("plain").await;
    let id = alice.conversation_id(&room).await;
    let log = b"2026-12-01 boot ok\n2026-12-01 disk full\n".to_vec();
    let resp = alice
        .post_files(
            id,
            "",
            vec![Upload::new("server.log", "text/plain", log.clone())],
            false,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let page = alice.page(&room).await;
    let message = *page.message_ids().last().expect("the message");
    let shown = attachments_of(&page.text, message);
    assert_eq!(shown.len(), 1);
    assert!(
        shown[0].0.contains("attachment-file"),
        "a card, not a picture"
    );
    assert!(page.text.contains("server.log"));
    let file = alice.get(&shown[0].1).await;
    assert_eq!(file.status(), StatusCode::OK);
    let disposition = file.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("server.log"));
    assert_eq!(file.bytes().await.expect("bytes").to_vec(), log);
}

#[tokio::test]
async fn the_files_of_a_private_chat_are_404_to_anyone_else_whatever_they_guess() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let id = alice.conversation_id("/dm/bob").await;
    let resp = alice
        .post_files(
            id,
            "for you",
            vec![Upload::new("secret.png", "image/png", png(64, 64))],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let message = message_ids_in(&resp.text().await.expect("fragment"))[0];
    let file = format!("/messages/{message}/files/0");
    let thumbnail = format!("{file}/thumbnail");

    assert_eq!(bob.get(&file).await.status(), StatusCode::OK);
    assert_eq!(bob.get(&thumbnail).await.status(), StatusCode::OK);
    let stranger = app.visitor();
    for path in [
        file.clone(),
        thumbnail.clone(),
        format!("/messages/{message}/files/1"),
        format!("/messages/{}/files/0", message + 1),
    ] {
        assert_eq!(
            carol.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path} for carol"
        );
        assert_eq!(
            stranger.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path} signed out"
        );
    }
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_with_413_and_nothing_is_stored() {
    let app = TestApp::builder()
        .configure(|c| {
            c.files.max_file_bytes = MIB;
            c.files.max_message_bytes = 2 * MIB;
        })
        .spawn()
        .await;
    let alice = app.member("alice").await;
    let room = alice.create_room("big").await;
    let id = alice.conversation_id(&room).await;

    // One file over its limit, with a small one before it.
    let resp = alice
        .post_files(
            id,
            "two files",
            vec![
                Upload::new("small.png", "image/png", png(10, 10)),
                Upload::new(
                    "big.bin",
                    "application/octet-stream",
                    vec![7u8; (MIB + 1) as usize],
                ),
            ],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let text = resp.text().await.expect("body");
    assert!(text.contains("at most 1 MB"), "a clear message: {text}");

    // A body declared bigger than a message may be: refused before it is read.
    let resp = alice
        .post_files(
            id,
            "",
            vec![Upload::new(
                "huge.bin",
                "application/octet-stream",
                vec![1u8; (4 * MIB) as usize],
            )],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(app.rows("messages").await, 0);
    assert_eq!(app.rows("attachments").await, 0);
    assert_eq!(app.stored_files(), Vec::<String>::new(), "no orphan files");

    // Just under the limit is fine.
    let resp = alice
        .post_files(
            id,
            "",
            vec![Upload::new(
                "ok.bin",
                "application/octet-stream",
                vec![2u8; MIB as usize],
            )],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// A sender that writes its whole upload before it reads a byte of the answer, as a
/// browser busy uploading does: the refusal must still reach it, not a reset
/// connection.
#[tokio::test]
async fn a_client_still_sending_a_refused_upload_reads_the_whole_refusal() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::builder()
        .configure(|c| {
            c.files.max_file_bytes = MIB;
            c.files.max_message_bytes = MIB;
        })
        .spawn()
        .await;
    let alice = app.member("alice").await;
    let room = alice.create_room("big").await;
    let id = alice.conversation_id(&room).await;
    let token = alice.csrf_token().await;

    let boundary = "hearthlingerboundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    // Declared over the limit (refused before the body is read) and sent whole anyway.
    let file = vec![7u8; 6 * MIB as usize];
    let mut body = head.into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(tail.as_bytes());
    let request = format!(
        "POST /conversations/{id}/messages HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\n\r\n",
        app.addr,
        alice.cookie_header(),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("head");
    let sent = stream.write_all(&body).await;
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(sent.is_ok(), "the upload was taken in to its end: {sent:?}");
    assert!(read.is_ok(), "the answer was read to its end: {read:?}");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("at most 1 MB"), "a clear message: {answer}");
    assert_eq!(app.rows("attachments").await, 0);
}

#[tokio::test]
async fn empty_files_too_many_files_and_bad_names_are_refused_or_made_safe() {
    let app = TestApp::builder()
        .configure(|c| c.files.max_files = 3)
        .spawn()
        .await;
    let alice = app.member("alice").await;
    let room = alice.create_room("bad").await;
    let id = alice.conversation_id(&room).await;

    let resp = alice
        .post_files(
            id,
            "hi",
            vec![Upload::new("nothing.txt", "text/plain", Vec::new())],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .expect("body")
            .contains("nothing.txt is empty")
    );

    let four = (0..4)
        .map(|n| {
            Upload::new(
                &format!("{n}.txt"),
                "text/plain",
                format!("file {n}").into_bytes(),
            )
        })
        .collect();
    let resp = alice.post_files(id, "hi", four, true).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.expect("body").contains("at most 3 files"));

    // No text and no file: the composer's usual refusal.
    let resp = alice.post_files(id, "  ", Vec::new(), true).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.rows("messages").await, 0);
    assert_eq!(app.stored_files(), Vec::<String>::new());

    // A control character that HTTP forbids in a header: the form cannot be read.
    let resp = alice
        .post_files(
            id,
            "",
            vec![Upload::new("bell\u{7}.txt", "text/plain", b"ding".to_vec())],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.rows("messages").await, 0);

    // One it allows (a tab), a bidi override and a path: a safe name.
    let resp = alice
        .post_files(
            id,
            "",
            vec![Upload::new(
                "../../etc/pa\tss\u{202e}wd",
                "text/plain",
                b"root:x:0:0".to_vec(),
            )],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let message = message_ids_in(&resp.text().await.expect("fragment"))[0];
    let file = alice.get(&format!("/messages/{message}/files/0")).await;
    let disposition = file.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"passwd\""),
        "{disposition}"
    );
    assert!(
        alice
            .get(&room)
            .await
            .text()
            .await
            .expect("page")
            .contains(">passwd<")
    );
    // Storage names files by content only: nothing of the name reaches the disk.
    let stored = app.stored_files();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].starts_with("files/") && !stored[0].contains("passwd"));
}

#[tokio::test]
async fn html_or_svg_claiming_to_be_a_picture_is_served_as_a_download_not_a_page() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let room = alice.create_room("sneaky").await;
    let id = alice.conversation_id(&room).await;
    let pages = [
        (
            "cat.png",
            b"<html><body><script>alert(document.cookie)</script></body></html>".to_vec(),
        ),
        (
            "logo.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
        ),
    ];
    for (name, bytes) in pages {
        let resp = alice
            .post_files(id, "", vec![Upload::new(name, "image/png", bytes)], true)
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let fragment = resp.text().await.expect("fragment");
        let message = message_ids_in(&fragment)[0];
        let shown = attachments_of(&fragment, message);
        assert!(shown[0].2.is_none(), "{name} is no <img>");
        assert!(shown[0].0.contains("attachment-file"));
        let file = alice.get(&shown[0].1).await;
        let headers = file.headers();
        let content_type = headers["content-type"].to_str().expect("ascii");
        assert!(
            !content_type.starts_with("image/"),
            "{name}: {content_type}"
        );
        assert!(!content_type.contains("svg"), "{name}: {content_type}");
        assert!(
            headers["content-disposition"]
                .to_str()
                .expect("ascii")
                .starts_with("attachment;")
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .expect("ascii")
                .starts_with("sandbox")
        );
    }
}

#[tokio::test]
async fn an_image_bomb_is_refused_without_being_decoded() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let room = alice.create_room("bombs").await;
    let id = alice.conversation_id(&room).await;
    let bomb = png_bomb(60_000, 60_000);
    assert!(bomb.len() < 200);
    let started = std::time::Instant::now();
    let resp = alice
        .post_files(
            id,
            "",
            vec![Upload::new("bomb.png", "image/png", bomb)],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.expect("body").contains("60000×60000"));
    assert!(
        started.elapsed() < PATIENCE,
        "answered without decoding 14 GB of pixels"
    );
    assert_eq!(app.rows("attachments").await, 0);
    assert_eq!(app.stored_files(), Vec::<String>::new());
}

#[tokio::test]
async fn a_photo_stands_the_right_way_up_and_its_thumbnail_carries_no_exif() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let room = alice.create_room("phones").await;
    let id = alice.conversation_id(&room).await;
    // Stored 600 wide and 300 high, to be shown turned: 300 wide, 600 high.
    let photo = jpeg_with_exif(600, 300, 6);
    let resp = alice
        .post_files(
            id,
            "",
            vec![Upload::new("IMG_0001.JPG", "image/jpeg", photo)],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let fragment = resp.text().await.expect("fragment");
    let message = message_ids_in(&fragment)[0];
    let (src, width, height) = attachments_of(&fragment, message)[0]
        .2
        .clone()
        .expect("an <img>");
    assert_eq!((width.as_str(), height.as_str()), ("200", "400"));
    let thumb = alice.get(&src).await.bytes().await.expect("bytes").to_vec();
    assert!(!thumb.windows(4).any(|w| w == b"Exif"), "no EXIF block");
    assert!(
        !thumb.windows(9).any(|w| w == b"SECRETCAM"),
        "no camera note"
    );
    let thumb = image::load_from_memory(&thumb).expect("a picture");
    assert_eq!((thumb.width(), thumb.height()), (200, 400));
}

#[tokio::test]
async fn the_same_file_twice_is_stored_once_and_goes_with_the_last_message_using_it() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let room = alice.create_room("dupes").await;
    let id = alice.conversation_id(&room).await;
    let picture = png(120, 80);
    let mut messages = Vec::new();
    for body in ["once", "twice"] {
        let resp = alice
            .post_files(
                id,
                body,
                vec![Upload::new("same.png", "image/png", picture.clone())],
                true,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        messages.push(message_ids_in(&resp.text().await.expect("fragment"))[0]);
    }
    assert_eq!(
        app.stored_files().len(),
        2,
        "one blob and one thumbnail: {:?}",
        app.stored_files()
    );

    let resp = alice
        .post_htmx(&format!("/messages/{}/delete", messages[0]), &[])
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(
        alice
            .get(&format!("/messages/{}/files/0", messages[0]))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let still = alice
        .get(&format!("/messages/{}/files/0", messages[1]))
        .await;
    assert_eq!(still.status(), StatusCode::OK, "the other message keeps it");
    assert_eq!(still.bytes().await.expect("bytes").to_vec(), picture);
    assert_eq!(app.stored_files().len(), 2);

    let resp = alice
        .post_htmx(&format!("/messages/{}/delete", messages[1]), &[])
        .await;
    assert!(resp.status().is_success());
    assert_eq!(app.rows("attachments").await, 0);
    assert_eq!(
        app.stored_files(),
        Vec::<String>::new(),
        "the last one took it along"
    );
}

#[tokio::test]
async fn an_upload_without_its_csrf_token_is_forbidden_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let room = alice.create_room("forged").await;
    let id = alice.conversation_id(&room).await;
    let token = alice.csrf_token().await;
    let part = || reqwest::multipart::Part::bytes(png(8, 8)).file_name("x.png");
    let without = reqwest::multipart::Form::new()
        .text("body", "hi")
        .part("file", part());
    assert_eq!(
        alice.post_multipart(id, without).await.status(),
        StatusCode::FORBIDDEN
    );
    let wrong = reqwest::multipart::Form::new()
        .text("csrf_token", "not-the-token")
        .part("file", part());
    assert_eq!(
        alice.post_multipart(id, wrong).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.rows("messages").await, 0);
    assert_eq!(app.stored_files(), Vec::<String>::new());
    // The token may come after the files, as some clients send it.
    let late = reqwest::multipart::Form::new()
        .part("file", part())
        .text("csrf_token", token);
    assert_eq!(
        alice.post_multipart(id, late).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_storage_failure_answers_503_leaves_no_message_and_recovers() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let room = alice.create_room("flaky").await;
    let id = alice.conversation_id(&room).await;
    // The files folder becomes a file: every write to it fails.
    let dir = app.files_dir();
    std::fs::remove_dir_all(&dir).ok();
    std::fs::write(&dir, b"in the way").expect("a file where the folder was");
    let resp = alice
        .post_files(
            id,
            "lost?",
            vec![Upload::new("a.png", "image/png", png(20, 20))],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(resp.text().await.expect("body").contains("file storage"));
    assert_eq!(app.rows("messages").await, 0, "no half-written message");

    std::fs::remove_file(&dir).expect("the obstacle goes");
    std::fs::create_dir_all(&dir).expect("the folder is back");
    eventually("posting works again", || async {
        alice
            .post_files(
                id,
                "back",
                vec![Upload::new("a.png", "image/png", png(20, 20))],
                true,
            )
            .await
            .status()
            == StatusCode::OK
    })
    .await;
    assert_eq!(app.rows("messages").await, 1);
}

/// Storage on an S3-compatible server: moto's, installed from PyPI by `.ci/run` into
/// `target/tools/moto` (or wherever `HEARTH_TEST_MOTO` says), started by each test on
/// a port of its own.
mod s3 {
    use std::{process::Stdio, time::Duration};

    use reqwest::StatusCode;

    use super::{Upload, png};
    use crate::helpers::{TestApp, message_ids_in};

    const BUCKET: &str = "hearth-test";

    /// A running moto server, stopped when dropped.
    pub struct S3Server {
        pub port: u16,
        child: std::process::Child,
    }

    impl S3Server {
        pub async fn start() -> S3Server {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            Self::start_on(port).await
        }

        /// Starts moto on `port` with an empty bucket.
        pub async fn start_on(port: u16) -> S3Server {
            let binary = std::env::var("HEARTH_TEST_MOTO").unwrap_or_else(|_| {
                format!(
                    "{}/target/tools/moto/bin/moto_server",
                    env!("CARGO_MANIFEST_DIR")
                )
            });
            let child = std::process::Command::new(&binary)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start {binary} ({e}): .ci/run installs moto[server] there")
                });
            let server = S3Server { port, child };
            let http = reqwest::Client::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let made = http.put(server.url(BUCKET)).send().await;
                if made.as_ref().is_ok_and(|r| r.status().is_success()) {
                    return server;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "moto did not start: {made:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        fn url(&self, path: &str) -> String {
            format!("http://127.0.0.1:{}/{path}", self.port)
        }

        /// What hearth's URL for this server's bucket is.
        pub fn files_url(&self) -> String {
            format!(
                "s3://{BUCKET}?endpoint=http://127.0.0.1:{}&allow_http=true&region=us-east-1\
                 &access_key_id=test&secret_access_key=test",
                self.port
            )
        }

        /// The keys in the bucket.
        pub async fn keys(&self) -> Vec<String> {
            let listing = reqwest::get(self.url(&format!("{BUCKET}?list-type=2")))
                .await
                .expect("a listing")
                .text()
                .await
                .expect("its text");
            listing
                .split("<Key>")
                .skip(1)
                .filter_map(|rest| rest.split("</Key>").next())
                .map(str::to_owned)
                .collect()
        }
    }

    impl Drop for S3Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[tokio::test]
    #[ignore = "needs moto, an S3-compatible server (.ci/run installs it)"]
    async fn files_on_an_s3_store_are_kept_once_by_hash_served_and_removed_with_their_messages() {
        let s3 = S3Server::start().await;
        let url = s3.files_url();
        let app = TestApp::builder()
            .configure(move |c| c.files.url = Some(url))
            .spawn()
            .await;
        let alice = app.member("alice").await;
        let room = alice.create_room("cloud").await;
        let id = alice.conversation_id(&room).await;
        let picture = png(500, 250);
        // Over one 5 MiB part: a multipart upload.
        let big: Vec<u8> = (0..6 * 1024 * 1024 + 7).map(|i| (i % 251) as u8).collect();
        let mut messages = Vec::new();
        for body in ["first", "again"] {
            let resp = alice
                .post_files(
                    id,
                    body,
                    vec![
                        Upload::new("wide.png", "image/png", picture.clone()),
                        Upload::new("dump.bin", "application/octet-stream", big.clone()),
                    ],
                    true,
                )
                .await;
            assert_eq!(resp.status(), StatusCode::OK);
            messages.push(message_ids_in(&resp.text().await.expect("fragment"))[0]);
        }
        let keys = s3.keys().await;
        assert_eq!(
            keys.len(),
            3,
            "two blobs and a thumbnail, each once: {keys:?}"
        );
        assert!(
            keys.iter()
                .all(|k| k.starts_with("files/") || k.starts_with("thumbnails/"))
        );

        let full = alice
            .get(&format!("/messages/{}/files/0", messages[1]))
            .await;
        assert_eq!(full.status(), StatusCode::OK);
        assert_eq!(full.bytes().await.expect("bytes").to_vec(), picture);
        let dump = alice
            .get(&format!("/messages/{}/files/1", messages[1]))
            .await;
        assert_eq!(dump.bytes().await.expect("bytes").to_vec(), big);
        let thumb = alice
            .get(&format!("/messages/{}/files/0/thumbnail", messages[0]))
            .await;
        assert_eq!(thumb.status(), StatusCode::OK);

        for message in &messages {
            let resp = alice
                .post_htmx(&format!("/messages/{message}/delete"), &[])
                .await;
            assert!(resp.status().is_success());
        }
        assert_eq!(
            s3.keys().await,
            Vec::<String>::new(),
            "gone with the last message"
        );
    }

    #[tokio::test]
    #[ignore = "needs moto, an S3-compatible server (.ci/run installs it)"]
    async fn a_dead_s3_endpoint_answers_503_leaves_no_message_and_posting_recovers() {
        let s3 = S3Server::start().await;
        let port = s3.port;
        let url = s3.files_url();
        let app = TestApp::builder()
            .configure(move |c| c.files.url = Some(url))
            .spawn()
            .await;
        let alice = app.member("alice").await;
        let room = alice.create_room("outage").await;
        let id = alice.conversation_id(&room).await;
        drop(s3);

        let resp = alice
            .post_files(
                id,
                "into the void",
                vec![Upload::new("a.png", "image/png", png(30, 30))],
                true,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().contains_key("retry-after"));
        assert_eq!(app.rows("messages").await, 0);
        assert_eq!(app.rows("attachments").await, 0);

        let s3 = S3Server::start_on(port).await;
        let resp = alice
            .post_files(
                id,
                "back",
                vec![Upload::new("a.png", "image/png", png(30, 30))],
                true,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(app.rows("messages").await, 1);
        assert_eq!(s3.keys().await.len(), 2);
    }
}

#[tokio::test]
async fn a_gif_stays_animated_and_video_and_sound_play_in_the_page() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let room = alice.create_room("media").await;
    let id = alice.conversation_id(&room).await;
    // A two-frame 800×400 GIF.
    let mut gif = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut gif);
        for shade in [40u8, 200] {
            let frame = image::RgbaImage::from_pixel(800, 400, image::Rgba([shade, 90, 160, 255]));
            encoder
                .encode_frame(image::Frame::new(frame))
                .expect("a frame");
        }
    }
    let mut mp4 = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    mp4.extend_from_slice(&[0u8; 64]);
    let mut mp3 = b"ID3\x04\0\0\0\0\0\0".to_vec();
    mp3.extend_from_slice(&[0xff, 0xfb, 0x90, 0x64]);
    mp3.extend_from_slice(&[0u8; 64]);
    let resp = alice
        .post_files(
            id,
            "",
            vec![
                Upload::new("dance.gif", "image/gif", gif.clone()),
                Upload::new("clip.mp4", "video/mp4", mp4),
                Upload::new("tune.mp3", "audio/mpeg", mp3),
            ],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let fragment = resp.text().await.expect("fragment");
    let message = message_ids_in(&fragment)[0];
    let shown = attachments_of(&fragment, message);
    assert_eq!(shown.len(), 3, "{fragment}");
    let (src, width, height) = shown[0].2.clone().expect("an <img>");
    assert_eq!(
        src,
        format!("/messages/{message}/files/0"),
        "the GIF itself, not a still thumbnail"
    );
    assert_eq!((width.as_str(), height.as_str()), ("400", "200"));
    let served = alice.get(&src).await;
    assert_eq!(served.headers()["content-type"], "image/gif");
    assert_eq!(served.bytes().await.expect("bytes").to_vec(), gif);
    let doc = Html::parse_fragment(&fragment);
    let video = scraper::Selector::parse(".attachment-video video[controls]").expect("css");
    let audio = scraper::Selector::parse(".attachment-audio audio[controls]").expect("css");
    assert_eq!(doc.select(&video).count(), 1, "{fragment}");
    assert_eq!(doc.select(&audio).count(), 1, "{fragment}");
    let clip = alice.get(&format!("/messages/{message}/files/1")).await;
    assert_eq!(clip.headers()["content-type"], "video/mp4");
    assert!(
        clip.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("inline;")
    );
    assert_eq!(clip.headers()["accept-ranges"], "bytes");

    // A player seeks: the bytes it asks for, and a 416 past the end.
    let part = alice
        .get_range(&format!("/messages/{message}/files/1"), "bytes=4-11")
        .await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], "bytes 4-11/88");
    assert_eq!(part.bytes().await.expect("bytes").as_ref(), b"ftypisom");
    let past = alice
        .get_range(&format!("/messages/{message}/files/1"), "bytes=500-")
        .await;
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.headers()["content-range"], "bytes */88");
}

#[tokio::test]
async fn files_a_stopped_server_left_without_a_message_are_swept_at_the_next_start() {
    let dir = tempfile::tempdir().expect("a folder for files");
    let blobs = dir.path().join("files");
    std::fs::create_dir_all(&blobs).expect("the blob folder");
    let stale = blobs.join("a".repeat(64));
    let fresh = blobs.join("b".repeat(64));
    std::fs::write(&stale, b"put, never committed").expect("a stale blob");
    std::fs::write(&fresh, b"being posted right now").expect("a fresh blob");
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| f.set_modified(two_hours_ago))
        .expect("an old time");
    let url = dir.path().display().to_string();
    let _app = TestApp::builder()
        .configure(move |c| c.files.url = Some(url))
        .spawn()
        .await;
    eventually("the stale blob is swept", || async { !stale.exists() }).await;
    assert!(fresh.exists(), "an upload in flight is left alone");
}

/// This process's resident memory, in bytes (Linux).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Memory is measured in a process of its own: the test binary runs this one test
/// again, alone, so that no other test's allocations are counted.
#[tokio::test]
async fn a_100_mb_upload_streams_through_without_growing_memory() {
    const ALONE: &str = "HEARTH_TEST_ALONE";
    if std::env::var_os(ALONE).is_none() {
        let me = std::env::current_exe().expect("the test binary");
        let output = std::process::Command::new(me)
            .env(ALONE, "1")
            .args([
                "--exact",
                "files::a_100_mb_upload_streams_through_without_growing_memory",
                "--nocapture",
            ])
            .output()
            .expect("the test runs alone");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "alone, it failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    upload_100_mb().await;
}

async fn upload_100_mb() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::builder()
        .configure(|c| c.files.max_file_bytes = 200 * MIB)
        .spawn()
        .await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let room = alice.create_room("big files").await;
    let id = alice.conversation_id(&room).await;
    let token = alice.csrf_token().await;

    // The form by hand over a plain socket, a megabyte at a time, so that the client
    // holds no more of it than the server should.
    let size = 100 * MIB as usize;
    let boundary = "hearth-boundary-7MA4YWxkTrZu0gW";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() + size + tail.len();
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let request = format!(
        "POST /conversations/{id}/messages HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n\
         HX-Request: true\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n",
        app.addr,
        alice.cookie_header()
    );
    stream.write_all(request.as_bytes()).await.expect("head");
    stream.write_all(head.as_bytes()).await.expect("form head");
    let chunk: Vec<u8> = (0..MIB as usize).map(|i| (i % 253) as u8).collect();
    // Measured once the upload is under way (buffers, tasks and caches warmed up).
    let mut before = 0;
    let mut chat_latency = std::time::Duration::ZERO;
    for sent in 0..100 {
        stream.write_all(&chunk).await.expect("a megabyte");
        if sent == 4 {
            before = resident_bytes();
        }
        // Someone else talks meanwhile: the upload does not hold them up.
        if sent == 50 {
            let started = std::time::Instant::now();
            bob.post_message(id, "still here?").await;
            chat_latency = started.elapsed();
        }
    }
    let after_sending = resident_bytes();
    stream.write_all(tail.as_bytes()).await.expect("form tail");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{}",
        answer.lines().next().unwrap_or_default()
    );
    let after = resident_bytes().max(after_sending);
    let grown = after.saturating_sub(before);
    println!(
        "resident memory grew by {} KiB over 95 MB; a message posted meanwhile took {chat_latency:?}",
        grown / 1024
    );
    assert!(grown < 8 * MIB, "memory grew by {} MiB", grown / MIB);
    assert!(
        chat_latency < std::time::Duration::from_millis(500),
        "a message posted during the upload took {chat_latency:?}"
    );

    let message = message_ids_in(&answer)[0];
    let served = alice.get(&format!("/messages/{message}/files/0")).await;
    assert_eq!(
        served.headers()["content-length"],
        (size as u64).to_string().as_str()
    );
}

/// Files through the API: `POST /api/v1/conversations/{id}/files`, by bearer token,
/// under the composer's rules.
mod through_the_api {
    use reqwest::StatusCode;

    use super::png;
    use crate::{
        bots::{make_token, problem, room},
        helpers::{TestApp, frame_where},
    };

    fn form(files: Vec<(&str, Vec<u8>)>, body: &str) -> reqwest::multipart::Form {
        let mut form = reqwest::multipart::Form::new().text("body", body.to_owned());
        for (name, bytes) in files {
            form = form.part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
            );
        }
        form
    }

    async fn send(
        app: &TestApp,
        token: &str,
        conversation: i64,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        reqwest::Client::new()
            .post(app.url(&format!("/api/v1/conversations/{conversation}/files")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("POST files")
    }

    #[tokio::test]
    async fn a_program_posts_a_message_with_files_that_others_see_live() {
        let app = TestApp::builder()
            .configure(|c| c.files.max_file_bytes = 64 * 1024)
            .spawn()
            .await;
        let alice = app.member("alice").await;
        let bob = app.member("bob").await;
        let ops = room(&alice, "ops").await;
        let token = make_token(&alice, "reporter").await;
        // From the room's start: a post that commits before the socket has joined the
        // hub still reaches it.
        let mut bob_ops = bob.socket(&format!("/ws?conversation={ops}&after=0")).await;

        let resp = send(
            &app,
            &token,
            ops,
            form(
                vec![
                    ("chart.png", png(40, 20)),
                    ("notes.txt", b"all good\n".to_vec()),
                ],
                "Nightly **report**",
            ),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let message: serde_json::Value =
            serde_json::from_str(&resp.text().await.expect("a body")).expect("JSON");
        assert_eq!(location, format!("/api/v1/messages/{}", message["id"]));
        assert_eq!(message["author"], "alice");
        let frame = frame_where(&mut bob_ops, |f| f.contains("Nightly")).await;
        assert!(
            frame.contains("chart.png") && frame.contains("notes.txt"),
            "{frame}"
        );
        assert!(
            frame.contains("width=\"40\""),
            "the image is shown with its size: {frame}"
        );
        let original = bob
            .get(&format!("/messages/{}/files/1", message["id"]))
            .await;
        assert_eq!(original.status(), StatusCode::OK);
        assert_eq!(
            original.bytes().await.expect("bytes").as_ref(),
            b"all good\n"
        );

        let stored = app.rows("attachments").await;
        let big = send(
            &app,
            &token,
            ops,
            form(vec![("big.bin", vec![7; 70 * 1024])], ""),
        )
        .await;
        assert_eq!(
            problem(big, StatusCode::PAYLOAD_TOO_LARGE).await["code"],
            "too_large"
        );
        let none = send(&app, &token, ops, form(vec![], "only text")).await;
        assert_eq!(
            problem(none, StatusCode::UNPROCESSABLE_ENTITY).await["code"],
            "no_files"
        );
        let anonymous = reqwest::Client::new()
            .post(app.url(&format!("/api/v1/conversations/{ops}/files")))
            .multipart(form(vec![("a.txt", b"x".to_vec())], ""))
            .send()
            .await
            .expect("POST");
        problem(anonymous, StatusCode::UNAUTHORIZED).await;
        let carol = app.member("carol").await;
        let secret = carol.conversation_id("/dm/bob").await;
        let elsewhere = send(
            &app,
            &token,
            secret,
            form(vec![("a.txt", b"x".to_vec())], ""),
        )
        .await;
        problem(elsewhere, StatusCode::NOT_FOUND).await;
        assert_eq!(
            app.rows("attachments").await,
            stored,
            "nothing refused was kept"
        );
    }
}
