//! Rootfs URL parsing with the parts of Go's `net/url.Parse` that decide a rootfs match:
//! Diego matches a cell's provider by the URL's scheme and, for fixed sets, by its opaque part.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::types::RootfsProvider;

/// The pieces of a rootfs URL the auction looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsUrl<'a> {
    /// Lower-cased, as Go does.
    pub scheme: Cow<'a, str>,
    /// The part after `scheme:` when it does not start with `/` (the stack name of
    /// `preloaded:cflinuxfs4`), without query and fragment; empty for hierarchical URLs
    /// such as `docker:///user/image#tag`.
    pub opaque: &'a str,
}

/// Parses like Go's `url.Parse` as far as scheme and opaque go; `None` where Go returns an
/// error (control characters, a leading `:`, bad `%` escapes, a non-numeric port), which
/// makes the rootfs match no cell, as upstream.
pub fn parse_rootfs(raw: &str) -> Option<RootfsUrl<'_>> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    let (without_fragment, fragment) = match raw.split_once('#') {
        Some((head, fragment)) => (head, Some(fragment)),
        None => (raw, None),
    };
    if let Some(fragment) = fragment {
        if !valid_escapes(fragment) {
            return None;
        }
    }
    let (scheme, rest) = split_scheme(without_fragment)?;
    // Go strips a lone trailing '?' (ForceQuery) and otherwise cuts at the first '?'.
    let rest = rest.split_once('?').map_or(rest, |(head, _)| head);
    if !scheme.is_empty() && !rest.starts_with('/') {
        return Some(RootfsUrl {
            scheme,
            opaque: rest,
        });
    }
    if scheme.is_empty() {
        // Go refuses a relative path whose first segment holds a colon.
        let first_segment = rest.split('/').next().unwrap_or("");
        if first_segment.contains(':') {
            return None;
        }
    }
    let path = if let Some(after) = rest.strip_prefix("//") {
        let (authority, path) = after
            .find('/')
            .map_or((after, ""), |at| (&after[..at], &after[at..]));
        if !valid_authority(authority) {
            return None;
        }
        path
    } else {
        rest
    };
    if !valid_escapes(path) {
        return None;
    }
    Some(RootfsUrl { scheme, opaque: "" })
}

/// Go's `getScheme`: letters first, then letters, digits, `+`, `-`, `.`; anything else means
/// "no scheme" except a leading `:`, which is an error.
fn split_scheme(raw: &str) -> Option<(Cow<'_, str>, &str)> {
    for (i, byte) in raw.bytes().enumerate() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return None,
            b':' => {
                let scheme = &raw[..i];
                let scheme = if scheme.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(scheme.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(scheme)
                };
                return Some((scheme, &raw[i + 1..]));
            }
            _ => return Some((Cow::Borrowed(""), raw)),
        }
    }
    Some((Cow::Borrowed(""), raw))
}

fn valid_escapes(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes.len() > i + 2
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit();
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// Only the port check of Go's host parsing: `host:port` needs a numeric (or empty) port.
fn valid_authority(authority: &str) -> bool {
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let after_ipv6 = host.rfind(']').map_or(host, |at| &host[at + 1..]);
    match after_ipv6.rsplit_once(':') {
        Some((_, port)) => port.bytes().all(|b| b.is_ascii_digit()),
        None => true,
    }
}

/// Whether a cell with these providers can run `rootfs`.
pub fn rootfs_matches(providers: &BTreeMap<String, RootfsProvider>, rootfs: &str) -> bool {
    let Some(url) = parse_rootfs(rootfs) else {
        return false;
    };
    match providers.get(url.scheme.as_ref()) {
        Some(RootfsProvider::Arbitrary) => true,
        Some(RootfsProvider::FixedSet(stacks)) => stacks.contains(url.opaque),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_diego_rootfs_forms() {
        let url = parse_rootfs("preloaded:cflinuxfs4").unwrap();
        assert_eq!(
            (url.scheme.as_ref(), url.opaque),
            ("preloaded", "cflinuxfs4")
        );
        let url = parse_rootfs("docker:///user/image#tag").unwrap();
        assert_eq!((url.scheme.as_ref(), url.opaque), ("docker", ""));
        let url =
            parse_rootfs("preloaded+layer:cflinuxfs4?layer=http://x/y.tgz&layer_path=/a").unwrap();
        assert_eq!(
            (url.scheme.as_ref(), url.opaque),
            ("preloaded+layer", "cflinuxfs4")
        );
        let url = parse_rootfs("Docker://registry.example:5000/img").unwrap();
        assert_eq!(url.scheme, "docker");
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert!(parse_rootfs(":nothing").is_none());
        assert!(parse_rootfs("docker://host:port/img").is_none());
        assert!(parse_rootfs("docker:///img%zz").is_none());
        assert!(parse_rootfs("preloaded:a\nb").is_none());
        assert_eq!(parse_rootfs("cflinuxfs4").unwrap().scheme, "");
    }
}
