//! Any text as a WebSocket frame: `parse_frame` must be total, and a message it reads
//! goes through `MessageBody::parse` and the renderer, as the socket handler does.
#![no_main]
use hearth::live::socket::{Command, parse_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_frame(&text) {
        Command::Message(body) => hearth_fuzz::check_message_text(&body),
        Command::Typing | Command::Ignored => {}
    }
});
