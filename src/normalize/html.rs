//! Partner HTML made safe to republish ([`sanitize_html`]) and reduced to
//! plain text ([`plain_text`]). Both run on hostile input: everything is
//! parsed by html5ever exactly as a browser would (so entity and case tricks
//! such as `&#106;avascript:` or `JaVaScRiPt:` are decoded before any check),
//! walked without recursion, and bounded by [`MAX_INPUT_BYTES`] and
//! [`MAX_TAGS`] so that no input costs more than a few tens of milliseconds.

use std::collections::{HashMap, HashSet};

use ammonia::{Builder, UrlRelative};
use scraper::{Html, Node};
use url::Url;

/// Inputs are cut to this many bytes (on a char boundary) before parsing.
///
/// A real summary or article body is a few KiB; a response may be up to
/// `max_body_bytes` (10 MiB by default) and could be a single item. Parsing
/// builds a DOM many times larger than its input and we parse each field more
/// than once (sanitise, then check for emptiness), so an unbounded field lets
/// one hostile feed cost a cycle's memory and time, and would then be copied
/// into every published document. 256 KiB keeps any genuine article intact;
/// a tag cut in half at the end is dropped by the parser like any
/// unterminated markup.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// Inputs are cut before their first tag beyond this many (start and end
/// tags counted alike).
///
/// Bytes alone do not bound the parser's work: html5ever's tree builder
/// walks the stack of open elements (or the list of active formatting
/// elements) for many tags, so time grows with tags × nesting depth. 50,000
/// nested `<rt>`s fit in [`MAX_INPUT_BYTES`] and take seconds to parse; with
/// at most 4,096 tags the worst case we found takes ~50 ms (release build).
/// The count is of every `<` followed by a letter or `/`, wherever it is
/// (attribute values, comments, script text), so it can only over-count the
/// tags the parser sees, never under-count them; a genuine article has a few
/// hundred. Like the byte cap, this keeps the start of an oversized article
/// rather than dropping it.
pub const MAX_TAGS: usize = 4096;

/// Elements kept in sanitised HTML. Everything else is unwrapped (its text
/// stays) unless it is in [`DROPPED_WITH_CONTENT`]. No `h1`: the page around
/// the story owns the top heading. No `div`/`span`/`class`/`style`: layout is
/// ours, not the partner's.
#[rustfmt::skip]
const ALLOWED_TAGS: &[&str] = &[
    "p", "br", "hr", "a", "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "q", "cite",
    "em", "strong", "b", "i", "u", "s", "del", "ins", "sub", "sup", "small", "abbr", "code",
    "pre", "h2", "h3", "h4", "h5", "h6", "img", "figure", "figcaption",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
];

/// Attributes kept per element. URL-valued ones (`href`, `src`) are further
/// limited to [`URL_SCHEMES`] and made absolute. `cite` attributes are not
/// kept: they hold URLs that ammonia does not scheme-check.
const ALLOWED_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href", "title"]),
    ("img", &["src", "alt", "title", "width", "height"]),
    ("abbr", &["title"]),
    ("ol", &["start"]),
    ("td", &["colspan", "rowspan"]),
    ("th", &["colspan", "rowspan", "scope"]),
];

/// Attributes allowed on every kept element.
const GENERIC_ATTRIBUTES: &[&str] = &["lang", "dir"];

/// The only schemes a kept URL may have: no `javascript:`, `data:`,
/// `vbscript:` or anything a reader's browser might hand to another program.
const URL_SCHEMES: &[&str] = &["http", "https", "mailto"];

/// Elements removed together with everything inside them: their content is
/// code, an embedded document, a form control's label, or an icon, never
/// part of the story. (`form` itself is only unwrapped: some CMSs wrap a
/// whole page in one.)
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script", "style", "template", "noscript", "noembed", "noframes", "iframe", "frame", "frameset", "object", "embed",
    "applet", "svg", "math", "textarea", "select", "button", "title", "head",
];

/// `rel` put on every kept link: no window handle, no referrer, and no
/// endorsement of partners' outbound links.
const LINK_REL: &str = "noopener noreferrer nofollow";

/// Sanitised HTML for republication: only the allow-listed elements and
/// attributes survive, relative URLs become absolute against `base`, links
/// get `rel="noopener noreferrer nofollow"`, comments and every script
/// vector are removed. Text without tags comes out HTML-escaped, so plain
/// text summaries are safe too. Input is first cut to [`MAX_INPUT_BYTES`]
/// and [`MAX_TAGS`].
pub fn sanitize_html(fragment: &str, base: &Url) -> String {
    let fragment = bound_markup(fragment);
    if is_already_clean(fragment) {
        return fragment.trim().to_owned();
    }
    SANITIZER.with(|builder| {
        builder
            .borrow_mut()
            .url_relative(UrlRelative::RewriteWithBase(base.clone()))
            .clean(fragment)
            .to_string()
            // Whitespace around a fragment means nothing and would only make
            // otherwise equal items differ.
            .trim()
            .to_owned()
    })
}

thread_local! {
    /// The allow-list, built once per thread: building its sets on every
    /// call cost a third of normalising (measured by the bench's profile).
    static SANITIZER: std::cell::RefCell<Builder<'static>> = std::cell::RefCell::new(sanitizer());
}

fn sanitizer() -> Builder<'static> {
    let tags: HashSet<&str> = ALLOWED_TAGS.iter().copied().collect();
    let tag_attributes: HashMap<&str, HashSet<&str>> =
        ALLOWED_ATTRIBUTES.iter().map(|(tag, attrs)| (*tag, attrs.iter().copied().collect())).collect();
    let mut builder = Builder::empty();
    builder
        .tags(tags)
        .tag_attributes(tag_attributes)
        .generic_attributes(GENERIC_ATTRIBUTES.iter().copied().collect())
        .url_schemes(URL_SCHEMES.iter().copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .link_rel(Some(LINK_REL))
        .strip_comments(true);
    builder
}

/// Whether sanitised HTML shows nothing: no text and no image.
pub(crate) fn is_blank_html(clean: &str) -> bool {
    // In sanitised output a literal `<img` can only be a kept element: text
    // `<` is always escaped as `&lt;`.
    if clean.contains("<img") {
        return false;
    }
    // Without attributes (no `"`) and entities, every `<` opens a tag and
    // every `>` closes it: the text is what lies between, no parse needed.
    if !clean.contains(['"', '&']) {
        let mut parts = clean.split('<');
        let first = parts.next().unwrap_or_default();
        let outside = parts.map(|part| part.split_once('>').map_or("", |(_, rest)| rest));
        return !std::iter::once(first).chain(outside).any(crate::text::has_visible);
    }
    plain_text(clean).is_empty()
}

/// Elements of the fast path of [`sanitize_html`]: blocks that may only
/// stand at the top level, and inline elements that may stand anywhere.
/// Both kept by the sanitiser, attribute-free, and parsed by html5ever into
/// exactly the tree their tags spell when properly nested.
const CLEAN_BLOCKS: &[&str] = &["p", "h2", "h3", "h4", "h5", "h6"];
#[rustfmt::skip]
const CLEAN_INLINES: &[&str] = &["em", "strong", "b", "i", "u", "s", "sub", "sup", "small", "code"];

/// True when sanitising `fragment` would give it back unchanged (trimmed):
/// text without characters the serialiser rewrites (`<`, `>`, a no-break
/// space, controls, any entity but `&amp;` `&lt;` `&gt;`) and only
/// attribute-free allow-listed tags, properly nested, blocks at the top
/// level, `<br>` as the only void element. Most partners' summaries are
/// such (`<p>…</p>`), and html5ever's tree and serialiser cost most of
/// normalising an item (bench/). Everything else takes the full path; a
/// test checks both paths agree on every fragment this accepts.
fn is_already_clean(fragment: &str) -> bool {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = fragment;
    while let Some(at) = rest.find(['<', '>', '&', '\u{a0}']) {
        if !is_clean_text(&rest[..at]) {
            return false;
        }
        rest = &rest[at..];
        if rest.starts_with('&') {
            match ["&amp;", "&lt;", "&gt;"].iter().find(|e| rest.starts_with(**e)) {
                Some(entity) => rest = &rest[entity.len()..],
                None => return false,
            }
            continue;
        }
        let Some(tag) = rest.strip_prefix('<').and_then(|r| r.split_once('>')).map(|(tag, _)| tag) else {
            return false;
        };
        rest = &rest[tag.len() + 2..];
        match tag.strip_prefix('/') {
            Some(name) => {
                if open.pop() != Some(name) {
                    return false;
                }
            }
            None if tag == "br" => {}
            None if CLEAN_BLOCKS.contains(&tag) && open.is_empty() => open.push(tag),
            None if CLEAN_INLINES.contains(&tag) => open.push(tag),
            None => return false,
        }
    }
    open.is_empty() && is_clean_text(rest)
}

/// Text the HTML serialiser writes back as it is.
fn is_clean_text(text: &str) -> bool {
    if text.is_ascii() {
        return text.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t' || b == b'\n');
    }
    text.chars().all(|c| !c.is_control() || c == '\t' || c == '\n')
}

/// Elements after which text continues as a separate word.
#[rustfmt::skip]
fn is_block(tag: &str) -> bool {
    matches!(
        tag,
        "address" | "article" | "aside" | "blockquote" | "br" | "caption" | "dd" | "details"
            | "div" | "dl" | "dt" | "figcaption" | "figure" | "footer" | "h1" | "h2" | "h3"
            | "h4" | "h5" | "h6" | "header" | "hr" | "li" | "main" | "nav" | "ol" | "option"
            | "p" | "pre" | "section" | "summary" | "table" | "tbody" | "td" | "tfoot" | "th"
            | "thead" | "tr" | "ul"
    )
}

/// The text a reader would see in an HTML fragment: entities decoded (one
/// level: `&amp;amp;` gives `&amp;`), tags stripped, script/style and the
/// other [`DROPPED_WITH_CONTENT`] elements ignored, block boundaries turned
/// into spaces, invisible characters removed, whitespace collapsed and
/// trimmed. Input is first cut to [`MAX_INPUT_BYTES`] and [`MAX_TAGS`].
pub fn plain_text(fragment: &str) -> String {
    let fragment = bound_markup(fragment);
    // Fast path: most titles, authors and categories contain no markup.
    if !fragment.contains(['<', '&']) {
        return crate::text::collapse_whitespace(fragment);
    }
    let html = Html::parse_fragment(fragment);
    let mut text = String::with_capacity(fragment.len());

    /// A pending visit, or the word break owed after a block element.
    enum Step<N> {
        Visit(N),
        Break,
    }
    // An explicit stack instead of recursion: nesting depth is the partner's
    // choice, the call stack is ours.
    let mut stack = vec![Step::Visit(html.tree.root())];
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Break => {
                text.push(' ');
                continue;
            }
            Step::Visit(node) => node,
        };
        match node.value() {
            Node::Text(t) => text.push_str(t),
            Node::Element(element) => {
                let name = element.name();
                if DROPPED_WITH_CONTENT.contains(&name) {
                    continue;
                }
                if is_block(name) {
                    text.push(' ');
                    stack.push(Step::Break);
                }
                stack.extend(node.children().rev().map(Step::Visit));
            }
            Node::Document | Node::Fragment => {
                stack.extend(node.children().rev().map(Step::Visit));
            }
            Node::Doctype(_) | Node::Comment(_) | Node::ProcessingInstruction(_) => {}
        }
    }
    crate::text::collapse_whitespace(&text)
}

/// `fragment` cut to [`MAX_INPUT_BYTES`] and then before its tag number
/// [`MAX_TAGS`]` + 1` (see there why both).
pub(crate) fn bound_markup(fragment: &str) -> &str {
    let fragment = crate::text::clip(fragment, MAX_INPUT_BYTES);
    let bytes = fragment.as_bytes();
    let mut tags = 0;
    for (at, _) in fragment.match_indices('<') {
        let next = bytes.get(at + 1).copied().unwrap_or(b' ');
        if next.is_ascii_alphabetic() || next == b'/' {
            tags += 1;
            if tags > MAX_TAGS {
                // `at` is the byte index of an ASCII `<`: a char boundary.
                return &fragment[..at];
            }
        }
    }
    fragment
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path of `sanitize_html` must give exactly what the full
    /// sanitiser gives, on every fragment it accepts: fragments built from
    /// pieces that are clean, nearly clean and dirty, in every order.
    #[test]
    fn the_fast_path_agrees_with_the_sanitiser() {
        const PIECES: &[&str] = &[
            "<p>",
            "</p>",
            "<h2>",
            "</h2>",
            "<b>",
            "</b>",
            "<em>",
            "</em>",
            "<code>",
            "</code>",
            "<br>",
            "<br/>",
            "<i>",
            "</i>",
            "<P>",
            "<p class=\"x\">",
            "<a href=\"/x\">",
            "</a>",
            "<div>",
            "</div>",
            "<ul>",
            "<li>",
            " text ",
            "Co-op's \"news\"",
            "&amp;",
            "&lt;",
            "&gt;",
            "&quot;",
            "&nbsp;",
            "&#39;",
            "&eacute;",
            "&",
            ">",
            "<",
            "\u{a0}",
            "\r\n",
            "\t",
            "\u{1}",
            "\u{85}",
            "é🌍",
            "\n",
            "<!-- c -->",
            "<script>x</script>",
        ];
        let base = base();
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut fragment = String::new();
            for _ in 0..(state % 9) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                fragment.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            let full = SANITIZER.with(|b| {
                b.borrow_mut()
                    .url_relative(UrlRelative::RewriteWithBase(base.clone()))
                    .clean(&fragment)
                    .to_string()
                    .trim()
                    .to_owned()
            });
            if is_already_clean(&fragment) {
                accepted += 1;
                assert_eq!(fragment.trim(), full, "fast path differs on {fragment:?}");
            }
            assert_eq!(is_blank_html(&full), plain_text(&full).is_empty(), "blankness of {full:?}");
        }
        assert!(accepted > 1_000, "the generator should exercise the fast path ({accepted})");
    }

    #[test]
    fn the_fast_path_takes_plain_summaries_only() {
        for clean in ["<p>Co-ops &amp; mutuals</p>", "plain text", "<p>a<br>b</p><h2>c <em>d</em></h2>", ""] {
            assert!(is_already_clean(clean), "{clean}");
        }
        for dirty in ["<p><p>x</p></p>", "<b><p>x</p></b>", "<p>x", "<a href=\"x\">x</a>", "a&nbsp;b", "<br/>", "a > b"]
        {
            assert!(!is_already_clean(dirty), "{dirty}");
        }
    }

    fn base() -> Url {
        Url::parse("https://www.ilo.org/coop/news/item.htm").unwrap()
    }

    #[test]
    fn plain_text_cases() {
        let cases: &[(&str, &str)] = &[
            ("<b>Coop</b> news", "Coop news"),
            ("Co<b>op</b>", "Coop"),
            ("  Solidarity\n\t economy  ", "Solidarity economy"),
            ("Tom &amp; Jerry", "Tom & Jerry"),
            ("ILO&#8217;s work", "ILO\u{2019}s work"),
            ("ILO&#x2019;s work", "ILO\u{2019}s work"),
            ("caf&eacute; &mdash; coop", "caf\u{e9} \u{2014} coop"),
            // Decoded once: double-encoded text keeps its visible entity.
            ("Tom &amp;amp; Jerry", "Tom &amp; Jerry"),
            ("a&nbsp;b", "a b"),
            ("<p>One</p><p>Two</p>", "One Two"),
            ("line<br>break", "line break"),
            ("<ul><li>a</li><li>b</li></ul>", "a b"),
            ("x<script>alert(1)</script>y", "xy"),
            ("x<style>p{}</style>y", "xy"),
            ("<svg><title>icon</title></svg>Text", "Text"),
            ("a<!-- hidden -->b", "ab"),
            ("3 < 5 and 7 > 2", "3 < 5 and 7 > 2"),
            ("zero\u{200B}width\u{00AD}", "zerowidth"),
            ("nul\u{0}byte", "nulbyte"),
            ("<b>nul\u{0}</b>byte", "nulbyte"),
            ("ctl\u{1}char", "ctlchar"),
            ("<", "<"),
            ("", ""),
            ("<p> </p>", ""),
            ("<img src=x onerror=alert(1)>", ""),
            ("unterminated <b", "unterminated"),
        ];
        for (input, expected) in cases {
            assert_eq!(plain_text(input), *expected, "input: {input:?}");
        }
    }

    #[test]
    fn plain_text_survives_deep_nesting() {
        let depth = MAX_TAGS / 2;
        let html = format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth));
        assert_eq!(plain_text(&html), "deep");
    }

    /// Pathological markup stays fast: it is cut at [`MAX_TAGS`], the text
    /// before the cut survives and nothing executable does.
    #[test]
    fn hostile_markup_is_bounded() {
        for unit in ["<div>", "<rt>x", "<span><div></span>", "<b x=1>", "</p>"] {
            let html = format!("start <img src=x onerror=alert(1)> {}<script>alert(1)</script>", unit.repeat(60_000));
            let started = std::time::Instant::now();
            assert!(plain_text(&html).starts_with("start"), "{unit}");
            let clean = sanitize_html(&html, &base());
            assert!(clean.starts_with("start"), "{unit}: {clean:?}");
            assert_inert(&clean, unit);
            // Debug builds are ~10x slower than release; this still fails
            // by far for the unbounded quadratic case (minutes).
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "{unit}");
        }
    }

    #[test]
    fn bound_markup_cuts_before_the_tag_past_the_limit() {
        let tags = |html: &str| {
            html.match_indices('<')
                .filter(|(i, _)| html.as_bytes().get(i + 1).is_some_and(|b| b.is_ascii_alphabetic() || *b == b'/'))
                .count()
        };
        let html = "<p>a</p>".repeat(MAX_TAGS);
        let cut = bound_markup(&html);
        assert_eq!(tags(cut), MAX_TAGS);
        assert_eq!(cut.len(), html.len() / 2);
        // `<` not starting a tag does not count.
        let text = "a < b ".repeat(MAX_TAGS + 10);
        assert_eq!(bound_markup(&text), text);
        let exact = "<br>".repeat(MAX_TAGS);
        assert_eq!(bound_markup(&exact), exact);
    }

    #[test]
    fn plain_text_separates_blocks_and_decodes_entities() {
        let html = "<p>Co-ops &amp; mutuals</p><p>grow<br>fast</p>tail <em>now</em>";
        assert_eq!(plain_text(html), "Co-ops & mutuals grow fast tail now");
        // Inline elements after a block start a new word too, even past an
        // image (a sanitised `<p>…</p><img><a>x</a>` must not read "….x").
        assert_eq!(plain_text("<p>1,000 participants.</p><img src=x><a>x</a><a>d</a>"), "1,000 participants. xd");
        assert_eq!(plain_text("<div><p>a</p></div><span><b>b</b>c</span>"), "a bc");
        assert_eq!(plain_text("a<br>b<hr>c"), "a b c");
        assert_eq!(plain_text("<style>p{}</style><p>kept</p><script>x()</script>"), "kept");
    }

    #[test]
    fn plain_text_is_bounded() {
        let big = "é".repeat(MAX_INPUT_BYTES);
        assert!(plain_text(&big).len() <= MAX_INPUT_BYTES);
    }

    #[test]
    fn sanitize_keeps_allowed_markup() {
        let cases: &[(&str, &str)] = &[
            ("<p>Hello <b>coop</b></p>", "<p>Hello <b>coop</b></p>"),
            ("<a href=\"/a\">x</a>", "<a href=\"https://www.ilo.org/a\" rel=\"noopener noreferrer nofollow\">x</a>"),
            (
                "<img src=\"img/p.jpg\" alt=\"Photo\">",
                "<img src=\"https://www.ilo.org/coop/news/img/p.jpg\" alt=\"Photo\">",
            ),
            ("<img src=\"//cdn.example.org/p.jpg\">", "<img src=\"https://cdn.example.org/p.jpg\">"),
            (
                "<a href=\"mailto:coop@example.org\">mail</a>",
                "<a href=\"mailto:coop@example.org\" rel=\"noopener noreferrer nofollow\">mail</a>",
            ),
            ("<h1>Top</h1><h2>Sub</h2>", "Top<h2>Sub</h2>"),
            ("<div class=\"x\" style=\"color:red\" id=\"y\"><p>In</p></div>", "<p>In</p>"),
            (
                "<table><tr><td colspan=\"2\">c</td></tr></table>",
                "<table><tbody><tr><td colspan=\"2\">c</td></tr></tbody></table>",
            ),
            ("plain & simple <3", "plain &amp; simple &lt;3"),
            ("<form action=\"/x\"><p>kept</p><button>Send</button></form>", "<p>kept</p>"),
            ("<p>a<!-- comment -->b</p>", "<p>ab</p>"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize_html(input, &base()), *expected, "input: {input:?}");
        }
    }

    /// Every vector in the fixture (one per line) must come out inert.
    #[test]
    fn sanitize_neutralises_xss_vectors() {
        let vectors = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/normalize/xss_vectors.txt"));
        let mut count = 0;
        for vector in vectors.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            count += 1;
            let clean = sanitize_html(vector, &base());
            assert_inert(&clean, vector);
            // Sanitising is idempotent: a second pass finds nothing to remove.
            assert_eq!(sanitize_html(&clean, &base()), clean, "vector: {vector:?}");
        }
        assert!(count >= 30, "fixture lost its vectors: {count}");
    }

    fn assert_inert(clean: &str, vector: &str) {
        let lower = clean.to_ascii_lowercase();
        for needle in [
            "<script",
            "<style",
            "<iframe",
            "<svg",
            "<math",
            "<object",
            "<embed",
            "<form",
            "<base",
            "<meta",
            "<link",
            "javascript:",
            "vbscript:",
            "data:",
            "style=",
            "srcdoc",
            "formaction",
        ] {
            assert!(!lower.contains(needle), "{needle} survived {vector:?}: {clean:?}");
        }
        assert!(!has_event_handler(&lower), "event handler survived {vector:?}: {clean:?}");
    }

    /// Whether an `on…=` attribute appears inside any tag of `html`.
    fn has_event_handler(html: &str) -> bool {
        let mut in_tag = false;
        let bytes = html.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'<' => in_tag = true,
                b'>' => in_tag = false,
                b'o' if in_tag
                    && i > 0
                    && matches!(bytes[i - 1], b' ' | b'\t' | b'\n' | b'/' | b'"' | b'\'')
                    && bytes.get(i + 1) == Some(&b'n') =>
                {
                    let name_end =
                        bytes[i..].iter().position(|c| !c.is_ascii_alphanumeric()).map_or(bytes.len(), |p| i + p);
                    if bytes.get(name_end) == Some(&b'=') {
                        return true;
                    }
                }
                _ => {}
            }
        }
        false
    }

    #[test]
    fn event_handler_detector_detects() {
        assert!(has_event_handler("<img src=x onerror=alert(1)>"));
        assert!(has_event_handler("<svg/onload=x>"));
        assert!(!has_event_handler("<p>one=two</p>"));
        assert!(!has_event_handler("<img alt=\"x\">"));
    }

    #[test]
    fn sanitize_golden_article() {
        let input = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/normalize/article.html"));
        let expected =
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/normalize/article.expected.html"));
        let base = Url::parse("https://www.ilo.org/resource/news/ilo-visited-icoop").unwrap();
        assert_eq!(sanitize_html(input, &base), expected.trim_end());
    }

    #[test]
    fn sanitize_bounds_hostile_sizes() {
        let nested = "<b>".repeat(MAX_INPUT_BYTES);
        let clean = sanitize_html(&nested, &base());
        assert!(clean.len() < 8 * MAX_INPUT_BYTES);
        let long_text = "a".repeat(4 * MAX_INPUT_BYTES);
        assert_eq!(sanitize_html(&long_text, &base()).len(), MAX_INPUT_BYTES);
    }

    #[test]
    fn blank_html() {
        assert!(is_blank_html(""));
        assert!(is_blank_html("<p> </p><br>"));
        assert!(!is_blank_html("<p>x</p>"));
        assert!(!is_blank_html("<img src=\"https://e.org/a.png\">"));
        assert!(is_blank_html(&sanitize_html("<script>alert(1)</script>", &base())));
    }
}
