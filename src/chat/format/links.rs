//! How a link's address is shown: a host whose labels mix scripts (a Cyrillic `а` in
//! `pаypal.com`) is written in punycode (`xn--…`), so a look-alike cannot pass for the
//! host it imitates; any other address is shown as written. Only hosts are changed.
use std::borrow::Cow;

/// The script a letter belongs to, as far as look-alikes go: the scripts whose letters
/// imitate Latin ones apart; Han, kana and Hangul as one (Japanese and Korean names mix
/// them); everything else by its block of 256 code points.
fn script(c: char) -> Option<u32> {
    if !c.is_alphabetic() {
        return None; // digits, hyphens, marks
    }
    Some(match c as u32 {
        0x0041..=0x024F | 0x1E00..=0x1EFF => 0, // Latin
        0x0370..=0x03FF | 0x1F00..=0x1FFF => 1, // Greek
        0x0400..=0x052F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => 2, // Cyrillic
        0x1100..=0x11FF
        | 0x2E80..=0x2FDF
        | 0x3040..=0x30FF
        | 0x3130..=0x318F
        | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF
        | 0x20000..=0x3FFFF => 3, // Han, kana, Hangul
        other => 0x100 + (other >> 8),
    })
}

/// Whether a label of a host mixes the letters of several scripts.
fn mixes_scripts(label: &str) -> bool {
    let mut scripts = label.chars().filter_map(script);
    let Some(first) = scripts.next() else {
        return false;
    };
    scripts.any(|s| s != first)
}

/// Where the host of `url` (`scheme://[user@]host[:port]…`) is, as a byte range.
fn host_range(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host = &authority[host_start..];
    let host_end = match host.rfind(':') {
        Some(colon) if !host.starts_with('[') => colon,
        _ => host.len(),
    };
    Some(start + host_start..start + host_start + host_end)
}

/// `url` as it is shown and linked: its host in punycode when a label mixes scripts.
pub fn shown(url: &str) -> Cow<'_, str> {
    let Some(range) = host_range(url) else {
        return Cow::Borrowed(url);
    };
    let host = &url[range.clone()];
    if host.is_ascii() || !host.split('.').any(mixes_scripts) {
        return Cow::Borrowed(url);
    }
    match idna::domain_to_ascii(host) {
        Ok(ascii) => Cow::Owned(format!(
            "{}{ascii}{}",
            &url[..range.start],
            &url[range.end..]
        )),
        // Not a host IDNA can write: it cannot be reached as written either.
        Err(_) => Cow::Borrowed(url),
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_host_that_mixes_scripts_is_shown_in_punycode() {
        let mixed = shown("https://p\u{0430}ypal.com/login?x=1");
        assert!(mixed.starts_with("https://xn--"), "{mixed}");
        assert!(mixed.ends_with(".com/login?x=1"), "{mixed}");
        assert!(mixed.is_ascii());
        let with_user = shown("https://me@p\u{0430}ypal.com:8443/");
        assert!(with_user.starts_with("https://me@xn--") && with_user.ends_with(":8443/"));
    }

    #[test]
    fn hosts_of_one_script_and_paths_are_shown_as_written() {
        for url in [
            "https://example.com/caf\u{e9}",
            "https://b\u{fc}cher.de/",
            "https://\u{043f}\u{0440}\u{0438}\u{043c}\u{0435}\u{0440}.\u{0440}\u{0444}/",
            "https://\u{4f8b}\u{5b50}.\u{4e2d}\u{56fd}/",
            "https://\u{30c6}\u{30b9}\u{30c8}\u{65e5}\u{672c}.jp/",
            "https://\u{06af}\u{0644}\u{067e}.ir/",
            "http://[::1]:8080/",
        ] {
            assert_eq!(shown(url), url);
        }
    }
}
