//! Text helpers shared by the renderers: sanitised HTML → plain text,
//! word-boundary excerpts, XML-safe strings and language-tag checks. Pure
//! functions, so every format derives the same excerpt from the same story.

use std::borrow::Cow;

use scraper::{Html, Node};
use url::Url;

/// Elements that break a line when rendered, so their text must not be glued
/// to the neighbouring text ("<p>a</p><p>b</p>" reads "a b", not "ab").
const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

fn is_block(node: &Node) -> bool {
    matches!(node, Node::Element(e) if BLOCK_ELEMENTS.contains(&e.name()))
}

/// The visible text of an HTML fragment, whitespace collapsed to single
/// spaces. Entities are decoded (the result is plain text, to be escaped by
/// whoever embeds it). Blocks are separated as a browser would break lines:
/// `<p>a</p><img><a>b</a>` reads "a b", not "ab".
pub(crate) fn plain_text(html: &str) -> String {
    let fragment = Html::parse_fragment(html);
    let mut out = String::with_capacity(html.len());
    // An explicit stack of (node, closing) rather than recursion: partner
    // HTML can nest deeper than the call stack allows.
    let mut stack = vec![(fragment.tree.root(), false)];
    while let Some((node, closing)) = stack.pop() {
        if closing {
            out.push(' ');
            continue;
        }
        match node.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(e) if matches!(e.name(), "script" | "style" | "template") => {}
            value => {
                // Whitespace on both sides of a block; inline elements add none.
                if is_block(value) {
                    out.push(' ');
                    stack.push((node, true));
                }
                stack.extend(node.children().rev().map(|child| (child, false)));
            }
        }
    }
    collapse_whitespace(&out)
}

fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `text` cut to at most `max_chars` characters (plus an ellipsis), at a word
/// boundary when one is near the cut, so excerpts never end mid-word.
pub(crate) fn excerpt(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    let Some((cut, _)) = text.char_indices().nth(max_chars) else {
        return text.to_owned();
    };
    let head = &text[..cut];
    // Prefer the last space in the final fifth of the excerpt; a single very
    // long word (a URL) is cut where it stands.
    let min_keep = head.len() - head.len() / 5;
    let head = match head.rfind(char::is_whitespace) {
        Some(space) if space >= min_keep => &head[..space],
        _ => head,
    };
    let head = head.trim_end_matches(|c: char| c.is_whitespace() || ",;:.-–—".contains(c));
    format!("{head}…")
}

/// A plain-text excerpt of an HTML fragment.
pub(crate) fn html_excerpt(html: &str, max_chars: usize) -> String {
    excerpt(&plain_text(html), max_chars)
}

/// True for the characters XML 1.0 allows in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}') || c >= '\u{10000}'
}

/// `s` without the characters XML 1.0 forbids (C0 controls, U+FFFE/U+FFFF):
/// escaping cannot represent them, and one of them makes the whole document
/// ill-formed for every reader.
pub(crate) fn xml_safe(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

/// `s` as an absolute http(s) URL, normalised. Feeds require absolute links,
/// and a partner's `javascript:` or `data:` URL must never become a link.
pub(crate) fn web_url(s: &str) -> Option<Url> {
    Url::parse(s.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// True when `tag` has the shape of a BCP 47 language tag (`en`, `fr-CA`,
/// `zh-Hant-TW`). Feeds declare languages; an invalid one is a validator error,
/// so callers drop what fails this check rather than publish it.
pub(crate) fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok =
        parts.next().is_some_and(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    primary_ok && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// `tag` if it is a language tag, else `None`.
pub(crate) fn language(tag: Option<&str>) -> Option<&str> {
    tag.map(str::trim).filter(|t| is_language_tag(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_separates_blocks_and_decodes_entities() {
        let html = "<p>Co-ops &amp; mutuals</p><p>grow<br>fast</p>tail <em>now</em>";
        assert_eq!(plain_text(html), "Co-ops & mutuals grow fast tail now");
        // Inline elements after a block start a new word too, even past an
        // image (a sanitised `<p>…</p><img><a>x</a>` used to read "….x").
        assert_eq!(plain_text("<p>1,000 participants.</p><img src=x><a>x</a><a>d</a>"), "1,000 participants. xd");
        assert_eq!(plain_text("<div><p>a</p></div><span><b>b</b>c</span>"), "a bc");
        assert_eq!(plain_text("a<br>b<hr>c"), "a b c");
    }

    #[test]
    fn plain_text_survives_deep_nesting() {
        let deep = format!("{}deep{}", "<div><span>".repeat(5_000), "</span></div>".repeat(5_000));
        assert_eq!(plain_text(&deep), "deep");
    }

    #[test]
    fn plain_text_skips_script_and_style() {
        assert_eq!(plain_text("<style>p{}</style><p>kept</p><script>x()</script>"), "kept");
    }

    #[test]
    fn excerpt_keeps_short_text_and_cuts_long_text_at_a_word() {
        assert_eq!(excerpt("  short  ", 10), "short");
        assert_eq!(excerpt("Économie sociale et solidaire", 20), "Économie sociale et…");
        // Exactly the limit: no ellipsis.
        assert_eq!(excerpt("abcde", 5), "abcde");
        // One long word is cut where it stands.
        assert_eq!(excerpt("abcdefghij", 4), "abcd…");
    }

    #[test]
    fn excerpt_counts_characters_not_bytes() {
        let text = "🌍".repeat(10);
        assert_eq!(excerpt(&text, 3), "🌍🌍🌍…");
    }

    #[test]
    fn xml_safe_drops_forbidden_controls_only() {
        assert_eq!(xml_safe("a\u{0}b\u{1b}c\td\u{FFFE}é🌍"), "abc\tdé🌍");
        assert!(matches!(xml_safe("clean"), Cow::Borrowed(_)));
    }

    #[test]
    fn web_urls_are_absolute_http() {
        assert_eq!(
            web_url(" https://Example.org/a b ").map(String::from),
            Some("https://example.org/a%20b".to_owned())
        );
        for bad in ["/relative", "javascript:alert(1)", "data:text/html,x", "mailto:a@b.c", ""] {
            assert!(web_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn language_tags() {
        for ok in ["en", "fr", "fr-CA", "zh-Hant-TW", "es-419"] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in ["", "e", "english language", "en_", "fr-", "-fr", "123", "en-toolongsubtag"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
        assert_eq!(language(Some(" fr ")), Some("fr"));
        assert_eq!(language(Some("??")), None);
    }
}
