//! Whether a push service's address may be called. A browser's push service is public
//! HTTPS; anything else in a subscription (plain HTTP, loopback, a private network, a
//! name that resolves to one) would let a person make the server call inside its own
//! network, so it is refused when stored and again when sent to (a name may come to
//! resolve elsewhere: the client's resolver drops private addresses).
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

/// The longest endpoint stored (browsers' are a few hundred bytes).
pub const LONGEST: usize = 2048;

/// Checks `raw` as a push endpoint; the reason is a sentence for the person.
pub async fn check(raw: &str, allow_private: bool) -> Result<Url, &'static str> {
    let url = parse(raw, allow_private)?;
    let host = url.host_str().ok_or("The push endpoint has no host.")?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|_| "The push endpoint's host cannot be found.")?
        .collect();
    if addrs.is_empty() {
        return Err("The push endpoint's host cannot be found.");
    }
    if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err("The push endpoint is on a private network.");
    }
    Ok(url)
}

/// The checks that need no look-up: the URL's form, its scheme, an address literal.
pub fn parse(raw: &str, allow_private: bool) -> Result<Url, &'static str> {
    if raw.is_empty() || raw.len() > LONGEST {
        return Err("The push endpoint is missing or too long.");
    }
    let url = Url::parse(raw).map_err(|_| "The push endpoint is not a URL.")?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("The push endpoint must be an https:// URL."),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("The push endpoint must not carry credentials.");
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err("The push endpoint has no host."),
    };
    if let Some(ip) = literal
        && !allow_private
        && !is_public(ip)
    {
        return Err("The push endpoint is on a private network.");
    }
    Ok(url)
}

/// Whether `ip` is on the public internet (not loopback, private, link-local, shared,
/// documentation, multicast or reserved space).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)) // NAT64, which reaches IPv4
}

/// The push client's resolver: only public addresses, unless private ones are allowed.
pub struct PublicResolver {
    pub allow_private: bool,
}

impl PublicResolver {
    pub fn shared(allow_private: bool) -> Arc<Self> {
        Arc::new(Self { allow_private })
    }
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err("the push endpoint resolves to no public address".into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().expect("an address")), "{ip}");
        }
        for ip in ["8.8.8.8", "142.250.1.1", "2a00:1450:4001::200e"] {
            assert!(is_public(ip.parse().expect("an address")), "{ip}");
        }
    }

    #[test]
    fn only_https_urls_without_credentials_pass_the_form_check() {
        assert!(parse("https://fcm.googleapis.com/fcm/send/abc", false).is_ok());
        assert!(parse("http://fcm.googleapis.com/x", false).is_err());
        assert!(parse("https://user:pw@push.example/x", false).is_err());
        assert!(parse("https://127.0.0.1/x", false).is_err());
        assert!(parse("https://[::1]/x", false).is_err());
        assert!(parse("javascript:alert(1)", false).is_err());
        assert!(parse("http://127.0.0.1:9/x", true).is_ok());
    }
}
