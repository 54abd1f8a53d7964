//! Any text as a message: `MessageBody::parse`, then `views::message`, checking what
//! tests/properties.rs checks, cheaply (see `hearth_fuzz::check_message_text`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    hearth_fuzz::check_message_text(&text);
    hearth_fuzz::check_author(&text);
});
