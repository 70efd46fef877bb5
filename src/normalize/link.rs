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
pub fn canonical_url(link: &str, base: &Url) -> Option<Url> {
    let link = link.trim();
    if link.is_empty() {
        return None;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
