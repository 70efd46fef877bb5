//! Text helpers shared by the renderers: sanitised HTML → plain text,
//! word-boundary excerpts, XML-safe strings and language-tag checks. Pure
//! functions, so every format derives the same excerpt from the same story.

use std::borrow::Cow;

use url::Url;

/// A plain-text excerpt of an HTML fragment: the text a reader sees (the
/// same extraction `normalize` uses for titles), cut at a word.
pub(crate) fn html_excerpt(html: &str, max_chars: usize) -> String {
    crate::text::truncate_words(&crate::normalize::plain_text(html), max_chars)
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
