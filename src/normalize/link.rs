//! Canonical links: one spelling per article, so the same story reached
//! through different feeds, newsletters or campaign links dedupes to one key.
//!
//! What is normalised, and why each step is safe:
//! - resolved against the document's base (relative, `/path`, `//host/path`);
//! - only `http` and `https` survive: anything else (`javascript:`, `data:`,
//!   `mailto:`, `ftp:`) is not a story a reader can open;
//! - scheme and host lower-cased, IDN hosts in punycode, default ports and
//!   `.`/`..` path segments removed (the `url` crate does these while parsing);
//! - the fragment is dropped: it names a place in the page, not another page;
//! - credentials (`user:pass@`) are dropped: in a public feed they are either
//!   a leak or a phishing trick (`https://trusted.org@evil.example/`);
//! - tracking parameters ([`is_tracking_param`]) are removed, every other
//!   parameter is kept byte for byte and in its order, and the `?` goes when
//!   nothing is left.
//!
//! What is deliberately *not* normalised: trailing slashes and a `www.`
//! prefix. `/news` and `/news/`, or `www.coop.example` and `coop.example`, may
//! be different resources (hosted blogs live on sub-domains; some servers
//! route both paths differently). Merging them wrongly would silently drop a
//! partner's story as a "duplicate", while failing to merge only shows the
//! same story twice, so the cheaper mistake is the one we allow.

use url::Url;

/// Exact parameter names (compared lower-case) that only identify a campaign,
/// a click or a subscriber, never the resource.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "msclkid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "igshid",
    "yclid",
    "mkt_tok",
    "ref_src",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "vero_conv",
    "wt_mc",
    "__s",
    "_hsenc",
    "_hsmi",
    "hsctatracking",
    "spm",
    // AT Internet / Piano, common on French-language sites.
    "xtor",
    "at_medium",
    "at_campaign",
    // Matomo / Piwik campaign parameters.
    "pk_campaign",
    "pk_kwd",
    "pk_keyword",
    "pk_source",
    "pk_medium",
    "pk_content",
];

/// Name prefixes (compared lower-case) reserved by analytics tools.
const TRACKING_PREFIXES: &[&str] = &["utm_", "mtm_"];

/// Whether a query parameter name only tracks the click (case-insensitive).
pub fn is_tracking_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    TRACKING_PARAMS.contains(&name.as_str()) || TRACKING_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// The canonical form of `link` (see the module docs), or `None` when it is
/// empty, unparsable, or not an `http(s)` URL.
///
/// `HTTP://Example.ORG:80/a/b?utm_source=rss&id=3#top` → `http://example.org/a/b?id=3`.
pub fn canonical_url(link: &str, base: &Url) -> Option<String> {
    let link = link.trim();
    if link.is_empty() {
        return None;
    }
    // Most partners' links are canonical already: an absolute http(s) URL
    // that `url` serialises as written, without fragment, with a query that
    // keeps every parameter. Parsing it would give it back unchanged, and
    // was a fifth of normalising an item.
    let keeps_query = |query: &str| !query.is_empty() && strip_tracking(query) == query;
    if is_serialised_http_url(link) && !link.contains('#') && link.split_once('?').is_none_or(|(_, q)| keeps_query(q)) {
        return Some(link.to_owned());
    }
    canonical_parsed(link, base).map(String::from)
}

/// [`canonical_url`] by parsing: every link the shortcut does not take.
fn canonical_parsed(link: &str, base: &Url) -> Option<Url> {
    let mut url = base.join(link).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_fragment(None);
    // Both setters only fail for URLs that cannot have credentials, which an
    // http(s) URL with a host always can; ignoring the results is safe.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let query = url.query().map(strip_tracking);
    match query {
        Some(kept) if !kept.is_empty() => url.set_query(Some(&kept)),
        Some(_) => url.set_query(None),
        None => {}
    }
    Some(url)
}

/// The query without tracking parameters and empty `&&` segments; kept
/// parameters are copied verbatim so their encoding is not altered.
fn strip_tracking(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let raw_name = pair.split_once('=').map_or(*pair, |(name, _)| name);
            // Names are compared decoded so `utm%5Fsource` is caught too.
            let name: String = url::form_urlencoded::parse(raw_name.as_bytes())
                .next()
                .map(|(name, _)| name.into_owned())
                .unwrap_or_default();
            !is_tracking_param(&name)
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether `href` is an absolute `http`/`https` URL that `url` would
/// serialise exactly as written, so that parsing it can be skipped: lowercase
/// ASCII host (no IDNA label, no number-like last label unless a canonical
/// dotted quad), no userinfo, no default or padded port, a path without dot
/// segments, and only characters no URL component escapes or rewrites (no
/// `%`, `\\`, quote, space or control). Anything else goes through `Url::parse`.
pub(crate) fn is_serialised_http_url(href: &str) -> bool {
    let (rest, default_port) = match (href.strip_prefix("http://"), href.strip_prefix("https://")) {
        (Some(rest), _) => (rest, "80"),
        (None, Some(rest)) => (rest, "443"),
        (None, None) => return false,
    };
    let Some(slash) = rest.bytes().position(|b| b == b'/') else { return false };
    let (authority, tail) = rest.split_at(slash);
    let (host, port) = match authority.bytes().position(|b| b == b':') {
        Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
        None => (authority, None),
    };
    if let Some(port) = port
        && (port.is_empty()
            || port.len() > 5
            || !digits(port)
            || port.starts_with('0')
            || port == default_port
            || port.parse::<u32>().map_or(true, |p| p > 65_535))
    {
        return false;
    }
    is_plain_host(host) && is_plain_tail(tail.as_bytes())
}

/// What the link check makes of each byte value: a byte some URL component
/// escapes or rewrites, a dot, or a plain one (ASCII letters and digits and
/// `-_~!$&()*+,;=:@/?#`). A table read once per byte of every link (`url`
/// calls were a tenth of parsing), its classes OR-ed over the whole tail in
/// a loop without branches: a match with an early return per byte cost
/// three times the instructions on a short link.
static URL_BYTE_CLASS: [u8; 256] = {
    let mut table = [NOT_PLAIN; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        table[b] = match c {
            b'.' => DOT,
            b'-' | b'_' | b'~' | b'!' | b'$' | b'&' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b':' | b'@'
            | b'/' | b'?' | b'#' => PLAIN,
            _ if c.is_ascii_alphanumeric() => PLAIN,
            _ => NOT_PLAIN,
        };
        b += 1;
    }
    table
};
const PLAIN: u8 = 0;
const DOT: u8 = 1;
const NOT_PLAIN: u8 = 2;

/// A path (with query and fragment) of plain URL bytes whose path has no
/// `.` or `..` segment; the segments are looked at only when the tail has
/// a dot at all.
fn is_plain_tail(tail: &[u8]) -> bool {
    let classes = tail.iter().fold(PLAIN, |seen, &b| seen | URL_BYTE_CLASS[usize::from(b)]);
    if classes & NOT_PLAIN != 0 {
        return false;
    }
    if classes & DOT == 0 {
        return true;
    }
    let path_len = tail.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(tail.len());
    !tail[..path_len].split(|&b| b == b'/').any(|seg| seg == b"." || seg == b"..")
}

/// A host `url` keeps as written: lowercase DNS labels that are not IDNA
/// (`xn--`) and whose last label is not number-like, or a canonical IPv4
/// dotted quad. One pass over the bytes (splitting into labels and parsing
/// them was a third of the link check).
fn is_plain_host(host: &str) -> bool {
    let bytes = host.as_bytes();
    // Hosts are short: a plain loop beats `memrchr`'s set-up.
    let last = bytes.iter().rposition(|&b| b == b'.').map_or(bytes, |dot| &bytes[dot + 1..]);
    if last.iter().all(u8::is_ascii_digit) {
        return is_canonical_ipv4(bytes);
    }
    if last.starts_with(b"0x") {
        return false;
    }
    let mut prev = b'.';
    for &b in bytes {
        let ok = match b {
            b'a'..=b'z' | b'0'..=b'9' => true,
            // Not at a label's start, not doubled (`xn--`).
            b'-' => prev != b'.' && prev != b'-',
            // Not after an empty label or a trailing `-`.
            b'.' => prev != b'.' && prev != b'-',
            _ => false,
        };
        if !ok {
            return false;
        }
        prev = b;
    }
    prev != b'.' && prev != b'-'
}

/// Four dot-separated decimal numbers up to 255, without leading zeros.
fn is_canonical_ipv4(bytes: &[u8]) -> bool {
    let (mut labels, mut value, mut len, mut zero_led) = (0, 0u32, 0, false);
    for &b in bytes.iter().chain(std::iter::once(&b'.')) {
        match b {
            b'.' => {
                if len == 0 || value > 255 || labels == 4 {
                    return false;
                }
                (labels, value, len, zero_led) = (labels + 1, 0, 0, false);
            }
            b'0'..=b'9' => {
                if zero_led || len == 3 {
                    return false;
                }
                zero_led = len == 0 && b == b'0';
                value = value * 10 + u32::from(b - b'0');
                len += 1;
            }
            _ => return false,
        }
    }
    labels == 4
}

/// Whether every byte of `text` is an ASCII digit.
fn digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The label-by-label reading the one-pass [`is_plain_host`] replaced.
    fn plain_host_by_labels(host: &str) -> bool {
        let last = host.as_bytes().iter().rposition(|&b| b == b'.').map_or(host, |dot| &host[dot + 1..]);
        let mut labels = host.split('.');
        if digits(last) {
            let quad = labels.by_ref().take(5).filter(|l| {
                !l.is_empty()
                    && l.len() <= 3
                    && digits(l)
                    && (*l == "0" || !l.starts_with('0'))
                    && l.parse::<u16>().is_ok_and(|n| n <= 255)
            });
            return quad.count() == 4 && host.bytes().filter(|&b| b == b'.').count() == 3;
        }
        !last.starts_with("0x")
            && labels.all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && !l.contains("--")
                    && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
    }

    #[test]
    fn one_pass_host_check_agrees_with_the_label_by_label_one() {
        // Every string of up to 5 bytes over the alphabet that matters, and
        // dotted quads around each limit.
        let alphabet = [b'a', b'x', b'0', b'1', b'2', b'5', b'9', b'.', b'-', b'A', b'_'];
        let mut hosts: Vec<String> = vec![String::new()];
        let mut frontier = hosts.clone();
        for _ in 0..5 {
            frontier =
                frontier.iter().flat_map(|h| alphabet.iter().map(move |&b| format!("{h}{}", b as char))).collect();
            hosts.extend(frontier.iter().cloned());
        }
        for a in ["0", "1", "01", "255", "256", "999", "1000", "00", ""] {
            for b in ["0", "10", "255", "256", "012"] {
                hosts.push(format!("{a}.{b}.1.2"));
                hosts.push(format!("1.{a}.{b}.2"));
                hosts.push(format!("1.2.3.{a}.{b}"));
                hosts.push(format!("{a}.{b}.0x1.2"));
            }
        }
        hosts.extend(["partner.example", "www.ilo.org", "a.0x1f", "0x1f.a", "xn--bcher-kva.example"].map(String::from));
        for host in &hosts {
            assert_eq!(is_plain_host(host), plain_host_by_labels(host), "{host:?}");
        }
        assert!(hosts.len() > 150_000, "{}", hosts.len());
    }

    /// Every URL the shortcut keeps as written is one `url` serialises exactly so.
    #[test]
    fn serialised_urls_are_what_url_gives() {
        let mut kept = 0;
        for href in url_corpus() {
            if is_serialised_http_url(&href) {
                kept += 1;
                let parsed = Url::parse(&href).map(String::from);
                assert_eq!(parsed.as_deref(), Ok(href.as_str()), "{href}");
            }
        }
        assert!(kept > 1000, "{kept}");
        for common in [
            "http://127.0.0.1:9/p0007/news/0-768996",
            "https://partner.example/news/1?utm_source=rss&utm_medium=feed#top",
            "https://www.ilo.org/resource/news/coops-mutuals?id=1&ref=rss",
        ] {
            assert!(is_serialised_http_url(common), "{common}");
        }
    }

    /// Every link the shortcut of [`canonical_url`] takes comes out as
    /// parsing would have made it.
    #[test]
    fn canonical_shortcut_is_what_parsing_gives() {
        let base = base();
        let mut short = 0;
        // Every fifth link (5 is prime to each list's length): the whole
        // corpus parsed twice takes seconds in a debug build.
        for href in url_corpus().into_iter().step_by(5) {
            let expected = Some(href.trim()).filter(|h| !h.is_empty()).and_then(|h| canonical_parsed(h, &base));
            let expected = expected.map(String::from);
            assert_eq!(canonical_url(&href, &base), expected, "{href}");
            short += usize::from(expected.as_deref() == Some(href.as_str()));
        }
        assert!(short > 1000, "{short}");
    }

    /// Links built from every combination of tricky schemes, hosts, ports,
    /// paths, queries (tracking parameters among them) and fragments.
    fn url_corpus() -> Vec<String> {
        let schemes = ["http://", "https://", "HTTP://", "ftp://", "http:/", "http:"];
        let hosts = [
            "partner.example",
            "127.0.0.1",
            "PARTNER.example",
            "xn--bcher-kva.example",
            "a..b",
            "a.b.",
            ".a",
            "1.2.3",
            "01.2.3.4",
            "256.1.1.1",
            "0.0.0.0",
            "a.0x1f",
            "a.123",
            "-a.b",
            "a-.b",
            "a--b.c",
            "ünï.example",
            "user@h.example",
            "user:pw@h.example",
            "h_x.example",
            "[::1]",
            "",
            "a.b-c.d9",
        ];
        let ports = ["", ":80", ":443", ":8080", ":0", ":09", ":65535", ":65536", ":", ":x", ":123456"];
        let paths = [
            "/",
            "",
            "/a/b",
            "/a/./b",
            "/a/../b",
            "/.",
            "/..",
            "/a%20b",
            "/a b",
            "/a\\b",
            "/é",
            "//x",
            "/a/b/",
            "/a;p=1",
            "/~u/-_.!$&()*+,;=:@",
            "/a\tb",
            "/.a/..b",
            "/%2e/",
            "/a'b",
            "/a|b",
            "/a`b",
            "/{x}",
        ];
        let tails = [
            "",
            "?",
            "?a=1&b=2",
            "?a='x'",
            "?q=a b",
            "?q=\"x\"",
            "#",
            "#top",
            "#a b",
            "?x#y?z#w",
            "?%zz",
            "#`",
            "?utm_source=rss",
            "?id=1&utm_medium=feed&x=2",
            "?a=1&&b=2",
            "?a=1&",
            "?&a=1",
            "?fbclid=1",
            "?FBCLID=1",
            "?utm%5Fsource=x&id=3",
            "?id=3&mtm_campaign=y",
            "?=1",
            "?ref=rss&id=1",
        ];
        let mut corpus = Vec::new();
        for scheme in schemes {
            for host in hosts {
                for port in ports {
                    for path in paths {
                        for tail in tails {
                            corpus.push(format!("{scheme}{host}{port}{path}{tail}"));
                        }
                    }
                }
            }
        }
        corpus.extend([" https://a.example/x ", "https://a.example/x\t", "/relative", "", "  "].map(String::from));
        corpus
    }

    fn base() -> Url {
        Url::parse("https://www.ilo.org/coop/news/index.htm").unwrap()
    }

    #[test]
    fn canonical_forms() {
        let cases: &[(&str, Option<&str>)] = &[
            // The brief's example: case, default port, tracking, fragment.
            ("HTTP://Example.ORG:80/a/b?utm_source=rss&id=3#top", Some("http://example.org/a/b?id=3")),
            ("https://example.org:443/x", Some("https://example.org/x")),
            ("https://example.org:8443/x", Some("https://example.org:8443/x")),
            ("  https://example.org/x  \n", Some("https://example.org/x")),
            // Relative forms resolve against the base.
            ("article-1.htm", Some("https://www.ilo.org/coop/news/article-1.htm")),
            ("/resource/news/a", Some("https://www.ilo.org/resource/news/a")),
            ("//cdn.example.org/a", Some("https://cdn.example.org/a")),
            ("../about.htm", Some("https://www.ilo.org/coop/about.htm")),
            ("?page=2", Some("https://www.ilo.org/coop/news/index.htm?page=2")),
            // Fragments go, even alone.
            ("#comments", Some("https://www.ilo.org/coop/news/index.htm")),
            // Tracking parameters, any case, any position; others keep order.
            ("https://e.org/p?b=2&UTM_Medium=x&a=1&fbclid=abc&z=&gclid=1", Some("https://e.org/p?b=2&a=1&z=")),
            ("https://e.org/p?utm_source=a&utm_campaign=b", Some("https://e.org/p")),
            ("https://e.org/p?", Some("https://e.org/p")),
            ("https://e.org/p?a=1&&b=2", Some("https://e.org/p?a=1&b=2")),
            ("https://e.org/p?xtor=RSS-3&id=7&mc_cid=1&mc_eid=2&_hsenc=x&_hsmi=y", Some("https://e.org/p?id=7")),
            ("https://e.org/p?utm%5Fsource=rss&id=7", Some("https://e.org/p?id=7")),
            ("https://e.org/p?HsCtaTracking=1&spm=a.b&igshid=q&yclid=1&msclkid=2&dclid=3", Some("https://e.org/p")),
            // Kept parameters keep their exact encoding.
            ("https://e.org/s?q=a%20b+c&path=x/y&utm_term=t", Some("https://e.org/s?q=a%20b+c&path=x/y")),
            // Look-alikes of tracking names stay.
            ("https://e.org/p?utm=1&ref=home", Some("https://e.org/p?utm=1&ref=home")),
            // No trailing-slash or www. folding (see module docs).
            ("https://www.e.org/news/", Some("https://www.e.org/news/")),
            ("https://e.org/news", Some("https://e.org/news")),
            // Host without path gets "/"; IDN hosts become punycode.
            ("https://E.org", Some("https://e.org/")),
            ("https://coopérative.example/a", Some("https://xn--cooprative-e7a.example/a")),
            // Credentials are dropped.
            ("https://user:pw@e.org/a", Some("https://e.org/a")),
            ("https://trusted.org@evil.example/", Some("https://evil.example/")),
            // Not a web page.
            ("", None),
            ("   ", None),
            ("javascript:alert(1)", None),
            ("JaVaScRiPt:alert(1)", None),
            ("data:text/html,<script>alert(1)</script>", None),
            ("mailto:coop@example.org", None),
            ("ftp://example.org/file", None),
            ("http://", None),
            ("https://[::1", None),
        ];
        for (input, expected) in cases {
            let got = canonical_url(input, &base()).map(|u| u.to_string());
            assert_eq!(got.as_deref(), *expected, "input: {input:?}");
        }
    }

    #[test]
    fn canonical_url_is_idempotent() {
        for input in [
            "HTTP://Example.ORG:80/a/b?utm_source=rss&id=3#top",
            "https://e.org/s?q=a%20b+c&path=x/y&utm_term=t",
            "/relative/path?x=1",
        ] {
            let once = canonical_url(input, &base()).unwrap();
            let twice = canonical_url(once.as_str(), &base()).unwrap();
            assert_eq!(once, twice);
        }
    }

    #[test]
    fn resolves_against_a_base_without_trailing_slash() {
        let base = Url::parse("https://unsse.org/news").unwrap();
        assert_eq!(canonical_url("item-2", &base).unwrap().as_str(), "https://unsse.org/item-2");
    }
}
