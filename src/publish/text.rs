//! Text helpers shared by the renderers: sanitised HTML → plain text,
//! word-boundary excerpts, XML-safe strings and language-tag checks. Pure
//! functions, so every format derives the same excerpt from the same story.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Timelike, Utc};
use url::Url;

/// A plain-text excerpt of an HTML fragment: the text a reader sees (the
/// same extraction `normalize` uses for titles), cut at a word.
pub(crate) fn html_excerpt(html: &str, max_chars: usize) -> String {
    crate::text::truncate_words(&crate::normalize::plain_text(html), max_chars)
}

/// Appends `at` as RFC 3339 with `offset` (`"Z"` or `"+00:00"`) as its
/// zone, when it is a whole second of years 0–9999: what chrono's
/// `to_rfc3339_opts` writes then, from the digits, straight into the
/// document (chrono's formatter, a string per date and its escaping were a
/// fourteenth of publishing: two dates for every story of every document).
/// Returns false, having written nothing, otherwise: the caller formats it.
pub(crate) fn push_rfc3339_whole_seconds(out: &mut String, at: DateTime<Utc>, offset: &str) -> bool {
    let date = at.date_naive();
    let Some(year) = u32::try_from(date.year()).ok().filter(|&year| year <= 9999) else { return false };
    if at.nanosecond() != 0 {
        return false;
    }
    let seconds = at.num_seconds_from_midnight();
    let mut text = *b"0000-00-00T00:00:00";
    let fields = [
        (0, 4, year),
        (5, 2, date.month()),
        (8, 2, date.day()),
        (11, 2, seconds / 3600),
        (14, 2, seconds / 60 % 60),
        (17, 2, seconds % 60),
    ];
    for (start, width, mut value) in fields {
        for digit in text.iter_mut().skip(start).take(width).rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    // ASCII digits and separators: always UTF-8 (one `push_str`, where a
    // `push` per character cost three times the digits' computing).
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
    out.push_str(offset);
    true
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

/// Appends `s` to `out` escaped for XML text and attribute values (`&`, `<`,
/// `>`, `'` and `"` as entities), without the characters XML 1.0 forbids:
/// [`xml_safe`] and escaping in one pass over the bytes.
pub(crate) fn push_xml_escaped(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut clean_from = 0;
    let mut i = 0;
    // Most bytes need nothing: find the next one that may, by table, then
    // decide (a per-byte `match` was an eighth of publishing).
    while let Some(skip) = bytes[i..].iter().position(|&b| NEEDS_LOOK[usize::from(b)]) {
        i += skip;
        let b = bytes[i];
        let replacement = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'\'' => "&apos;",
            b'"' => "&quot;",
            // U+FFFE and U+FFFF (EF BF BE, EF BF BF): not characters in XML.
            0xEF if bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) => {
                out.push_str(&s[clean_from..i]);
                i += 3;
                clean_from = i;
                continue;
            }
            0xEF => {
                i += 1;
                continue;
            }
            // The other controls (tab, newline and carriage return are plain).
            _ => "",
        };
        out.push_str(&s[clean_from..i]);
        out.push_str(replacement);
        i += 1;
        clean_from = i;
    }
    out.push_str(&s[clean_from..]);
}

/// The bytes [`push_xml_escaped`] must look at: the five it escapes, the
/// controls XML forbids, and 0xEF, which may start U+FFFE or U+FFFF.
static NEEDS_LOOK: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = !matches!(b, 0x09 | 0x0A | 0x0D);
        b += 1;
    }
    table[b'&' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'\'' as usize] = true;
    table[b'"' as usize] = true;
    table[0xEF] = true;
    table
};

/// [`web_url`] for a string that is most often already one: the links and
/// partner URLs publish sees were serialised by the `url` crate at ingest or
/// config time, so an `http(s)://` string of plain URL characters is returned
/// as it is, and anything else goes through the parser.
pub(crate) fn web_url_str(s: &str) -> Option<Cow<'_, str>> {
    let plain = |rest: &str| {
        !rest.is_empty()
            && rest.bytes().all(|b| {
                b.is_ascii_graphic()
                    && !matches!(b, b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | b'\\' | b'\'' | b'^' | b'|')
            })
    };
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest)
            if plain(rest)
                && !rest.starts_with('/')
                && rest
                    .split(['/', '?', '#'])
                    .next()
                    .is_some_and(|host| !host.bytes().any(|b| b.is_ascii_uppercase())) =>
        {
            Some(Cow::Borrowed(s))
        }
        _ => web_url(s).map(|u| Cow::Owned(u.into())),
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

    /// The dates written from their digits are chrono's, whole seconds of
    /// years 0–9999; the rest is left to chrono.
    #[test]
    fn rfc3339_from_digits_is_chronos() {
        let digits = |at: DateTime<Utc>, offset: &str| {
            let mut out = String::from("x");
            push_rfc3339_whole_seconds(&mut out, at, offset).then(|| out.split_off(1))
        };
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let edges = [0, 59, 86_399, 946_684_799, 951_782_400, 253_402_300_799, -62_167_219_200];
        for secs in edges
            .into_iter()
            .chain((0..20_000).map(|_| (next() % (253_402_300_800 + 62_167_219_200)) as i64 - 62_167_219_200))
        {
            let at = DateTime::from_timestamp(secs, 0).unwrap();
            assert_eq!(
                digits(at, "+00:00").as_deref(),
                Some(at.fixed_offset().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false).as_str()),
                "{secs}"
            );
            assert_eq!(
                digits(at, "Z").as_deref(),
                Some(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).as_str())
            );
        }
        let mut untouched = String::from("x");
        for at in [(1, 5), (253_402_300_800, 0), (-62_167_219_201, 0)] {
            assert!(!push_rfc3339_whole_seconds(&mut untouched, DateTime::from_timestamp(at.0, at.1).unwrap(), "Z"));
        }
        assert_eq!(untouched, "x");
    }

    #[test]
    fn xml_safe_drops_forbidden_controls_only() {
        assert_eq!(xml_safe("a\u{0}b\u{1b}c\td\u{FFFE}é🌍"), "abc\tdé🌍");
        assert!(matches!(xml_safe("clean"), Cow::Borrowed(_)));
    }

    #[test]
    fn escaping_matches_xml_rules_and_drops_forbidden_characters() {
        let mut out = String::new();
        push_xml_escaped(&mut out, "a & b <c> 'd' \"e\"\u{0}\u{1b}\tf\u{FFFE}\u{FFFF}é🌍");
        assert_eq!(out, "a &amp; b &lt;c&gt; &apos;d&apos; &quot;e&quot;\tfé🌍");
    }

    /// The table-driven escaper gives what escaping `xml_safe`'s characters one by one gives.
    #[test]
    fn escaping_agrees_with_the_char_rule() {
        let pieces = [
            "a", "&", "<", ">", "'", "\"", "\t", "\n", "\r", "\u{0}", "\u{1f}", "\u{7f}", "é", "\u{FEFF}", "\u{FFFD}",
            "\u{FFFE}", "\u{FFFF}", "\u{EFFF}", "🌍",
        ];
        let mut texts = vec![String::new()];
        for _ in 0..3 {
            texts = texts.iter().flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}"))).collect();
            for text in &texts {
                let expected: String = xml_safe(text)
                    .chars()
                    .map(|c| match c {
                        '&' => "&amp;".to_owned(),
                        '<' => "&lt;".to_owned(),
                        '>' => "&gt;".to_owned(),
                        '\'' => "&apos;".to_owned(),
                        '"' => "&quot;".to_owned(),
                        c => c.to_string(),
                    })
                    .collect();
                let mut out = String::new();
                push_xml_escaped(&mut out, text);
                assert_eq!(out, expected, "{text:?}");
            }
        }
    }

    #[test]
    fn serialised_urls_pass_as_they_are_and_others_are_parsed() {
        for url in ["https://www.ilo.org/resource/news?topic=coop&lang=en", "http://127.0.0.1:8080/a/b#c"] {
            assert!(matches!(web_url_str(url), Some(Cow::Borrowed(u)) if u == url), "{url}");
        }
        assert_eq!(web_url_str(" https://Example.org/a b ").as_deref(), Some("https://example.org/a%20b"));
        assert_eq!(web_url_str("HTTPS://EXAMPLE.org/x").as_deref(), Some("https://example.org/x"));
        assert_eq!(web_url_str("https://Example.org/").as_deref(), Some("https://example.org/"));
        for bad in ["/relative", "javascript:alert(1)", "data:text/html,x", "", "https://"] {
            assert!(web_url_str(bad).is_none(), "{bad}");
        }
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
