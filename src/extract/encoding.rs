//! Character encodings: response bytes → UTF-8 text.
//!
//! Partners still publish windows-1252 and ISO-8859-1 feeds, and some servers
//! announce one charset while the document declares another. The precedence
//! follows the WHATWG and XML rules: a byte-order mark wins, then the
//! document's own declaration (XML prolog or HTML `<meta charset>`), then the
//! HTTP `charset`, then UTF-8. Invalid sequences become U+FFFD rather than
//! failing the whole document.

use std::borrow::Cow;

use encoding_rs::Encoding;

/// How much of a document is searched for its own declaration.
const SNIFF_BYTES: usize = 1024;

/// Decodes `bytes` to UTF-8 and returns the text with the encoding used.
///
/// When the document's XML prolog declares any encoding other than UTF-8, the
/// declaration in the returned text is rewritten to `UTF-8`, so that an XML
/// parser reading the (now UTF-8) text neither decodes it a second time nor
/// rejects a label it does not know.
pub fn decode<'a>(bytes: &'a [u8], http_charset: Option<&str>) -> (Cow<'a, str>, &'static Encoding) {
    let (encoding, bom_len) = match Encoding::for_bom(bytes) {
        Some((enc, len)) => (enc, len),
        None => (
            declared_encoding(bytes)
                .or_else(|| http_charset.and_then(|c| Encoding::for_label(c.trim().as_bytes())))
                .unwrap_or(encoding_rs::UTF_8),
            0,
        ),
    };
    // UTF-16 declared in an ASCII-compatible prolog is a lie; ignore it.
    let encoding = if bom_len == 0 && (encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE) {
        encoding_rs::UTF_8
    } else {
        encoding
    };
    let body = &bytes[bom_len..];
    let (text, _had_errors) = encoding.decode_without_bom_handling(body);
    (rewrite_xml_declaration(text), encoding)
}

/// The encoding the document declares in its first bytes: the XML prolog's
/// `encoding="..."`, or an HTML `<meta charset>` / `http-equiv` content type.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    // The declarations are ASCII; a lossy view is enough to find them.
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let head = head.trim_start();
    if head.starts_with("<?xml") {
        let prolog = &head[..head.find("?>").unwrap_or(head.len())];
        return attribute_value(prolog, "encoding").and_then(|l| Encoding::for_label(l.as_bytes()));
    }
    let mut rest: &str = head;
    while let Some(pos) = rest.find("<meta") {
        rest = &rest[pos + 5..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        if let Some(encoding) = attribute_value(tag, "charset").and_then(|l| Encoding::for_label(l.as_bytes())) {
            return Some(encoding);
        }
        if let Some(content) = attribute_value(tag, "content")
            && let Some(idx) = content.find("charset=")
        {
            let label = content[idx + 8..].trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
            let label = label.split(';').next().unwrap_or(label);
            if let Some(encoding) = Encoding::for_label(label.as_bytes()) {
                return Some(encoding);
            }
        }
    }
    None
}

/// Value of `name="value"` (or single-quoted, or bare) inside a tag's text.
fn attribute_value<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let mut search = tag;
    while let Some(pos) = search.find(name) {
        let before_ok = pos == 0 || !search.as_bytes()[pos - 1].is_ascii_alphanumeric();
        let after = search[pos + name.len()..].trim_start();
        search = &search[pos + name.len()..];
        if !before_ok {
            continue;
        }
        let Some(value) = after.strip_prefix('=') else { continue };
        let value = value.trim_start();
        let (quote, value) = match value.chars().next() {
            Some(q @ ('"' | '\'')) => (Some(q), &value[1..]),
            _ => (None, value),
        };
        let end = match quote {
            Some(q) => value.find(q),
            None => value.find(|c: char| c.is_whitespace() || matches!(c, '>' | '/' | '?' | '"' | '\'' | ';')),
        }
        .unwrap_or(value.len());
        return Some(value[..end].trim());
    }
    None
}

fn rewrite_xml_declaration(text: Cow<'_, str>) -> Cow<'_, str> {
    let trimmed = text.trim_start();
    if !trimmed.starts_with("<?xml") {
        return text;
    }
    let offset = text.len() - trimmed.len();
    let Some(end) = trimmed.find("?>") else { return text };
    let prolog = &trimmed[..end];
    let lower = prolog.to_ascii_lowercase();
    let Some(pos) = lower.find("encoding") else { return text };
    let after = &prolog[pos + "encoding".len()..];
    let Some(eq) = after.find('=') else { return text };
    let value = after[eq + 1..].trim_start();
    let Some(quote) = value.chars().next().filter(|c| *c == '"' || *c == '\'') else { return text };
    let Some(close) = value[1..].find(quote) else { return text };
    if value[1..=close].eq_ignore_ascii_case("utf-8") {
        return text;
    }
    let value_start = offset + prolog.len() - value.len();
    let value_end = value_start + close + 2;
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..value_start]);
    out.push_str("\"UTF-8\"");
    out.push_str(&text[value_end..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_prolog_is_honoured_and_rewritten() {
        let bytes =
            b"<?xml version=\"1.0\" encoding=\"windows-1252\"?><rss><t>Coop\xe9rative \x93Solidarit\xe9\x94</t></rss>";
        let (text, enc) = decode(bytes, Some("utf-8"));
        assert_eq!(enc, encoding_rs::WINDOWS_1252);
        assert!(text.contains("Coopérative “Solidarité”"), "{text}");
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{text}");
    }

    #[test]
    fn iso_8859_1_single_quoted_prolog() {
        let bytes = b"<?xml version='1.0' encoding='ISO-8859-1' ?>\n<feed>\xc9conomie sociale</feed>";
        let (text, _) = decode(bytes, None);
        assert!(text.contains("Économie sociale"));
        assert!(text.contains("encoding=\"UTF-8\""));
    }

    #[test]
    fn http_charset_used_when_document_is_silent() {
        let (text, enc) = decode(b"<rss>caf\xe9</rss>", Some("ISO-8859-1"));
        assert_eq!(enc, encoding_rs::WINDOWS_1252); // WHATWG maps latin1 to windows-1252
        assert_eq!(text, "<rss>café</rss>");
    }

    #[test]
    fn bom_wins_over_everything() {
        let (text, enc) =
            decode(b"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"windows-1252\"?><a>\xc3\xa9</a>", Some("latin1"));
        assert_eq!(enc, encoding_rs::UTF_8);
        assert!(text.ends_with("<a>é</a>"));
    }

    #[test]
    fn html_meta_charset() {
        let html = b"<!doctype html><html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"></head><body>\xe9t\xe9</body></html>";
        let (text, _) = decode(html, None);
        assert!(text.contains("été"));
        let html = b"<html><head><meta charset=windows-1252></head><body>\x80</body></html>";
        assert!(decode(html, None).0.contains('€'));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let (text, _) = decode(b"<a>ok \xff end</a>", None);
        assert_eq!(text, "<a>ok \u{fffd} end</a>");
    }

    #[test]
    fn bogus_labels_fall_back_to_utf8() {
        let (text, enc) = decode("<?xml version=\"1.0\" encoding=\"klingon\"?><a>é</a>".as_bytes(), Some("nope"));
        assert_eq!(enc, encoding_rs::UTF_8);
        assert!(text.contains('é'));
    }
}
