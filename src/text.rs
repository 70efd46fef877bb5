//! Small text primitives every stage uses the same way: whitespace
//! collapsing, byte caps on character boundaries, word-boundary truncation.
//! One definition each, so a title cleaned in `normalize`, a field read in
//! `extract` and an excerpt shown by `publish` agree.

/// Runs of whitespace become one space; invisible characters (zero-width
/// spaces, soft hyphens, BOMs, controls) go; the ends are trimmed.
pub fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        // Runs of visible ASCII, most of any text, are copied whole.
        let run = rest.bytes().take_while(|b| (0x21..0x7f).contains(b)).count();
        let (piece, tail) = rest.split_at(if run > 0 { run } else { first.len_utf8() });
        rest = tail;
        if run == 0 && first.is_whitespace() {
            pending_space = true;
            continue;
        }
        if run == 0 && is_invisible(first) {
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push_str(piece);
    }
    out
}

/// Whether `text` has a character [`collapse_whitespace`] would keep: the
/// same answer as `!collapse_whitespace(text).is_empty()`, without building it.
pub fn has_visible(text: &str) -> bool {
    text.chars().any(|c| !c.is_whitespace() && !is_invisible(c))
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}') || (c.is_control() && !c.is_whitespace())
}

/// The longest prefix of `s` of at most `max_bytes` bytes that ends on a
/// char boundary: how untrusted input is bounded before costly work.
pub fn clip(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `text` when it has at most `max_chars` chars; otherwise its start, cut at
/// the last word boundary when one falls in the second half (else mid-word,
/// on a char boundary), without trailing punctuation, plus `…`.
pub fn truncate_words(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    let Some((cut, _)) = text.char_indices().nth(max_chars) else {
        return text.to_owned();
    };
    let head = &text[..cut];
    let at_boundary = text[cut..].starts_with(char::is_whitespace);
    let head = match head.rfind(char::is_whitespace) {
        Some(space) if !at_boundary && space >= head.len() / 2 => &head[..space],
        _ => head,
    };
    let head = head.trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.' | '-' | '–' | '—' | '(' | '[')
    });
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_whitespace_cases() {
        assert_eq!(collapse_whitespace("  Solidarity\n\t economy  "), "Solidarity economy");
        assert_eq!(collapse_whitespace("co\u{00AD}op\u{200B}erative"), "cooperative");
        assert_eq!(collapse_whitespace(""), "");
        assert_eq!(collapse_whitespace("\u{00A0}é\u{2003}ü\u{0007}x\r\ny "), "é üx y");
    }

    /// The ASCII-run fast path gives what a char-by-char collapse gives.
    #[test]
    fn collapse_whitespace_agrees_with_the_char_rule() {
        fn reference(text: &str) -> String {
            let mut out = String::new();
            let mut pending_space = false;
            for c in text.chars() {
                if c.is_whitespace() {
                    pending_space = true;
                } else if !is_invisible(c) {
                    if pending_space && !out.is_empty() {
                        out.push(' ');
                    }
                    pending_space = false;
                    out.push(c);
                }
            }
            out
        }
        let pieces = [
            "a", "bc", " ", "\t", "\n\n", "\u{a0}", "\u{200B}", "\u{00AD}", "é", "\u{1}", "\u{7f}", "\u{85}", "🌍",
            "~", "!",
        ];
        // Every sequence of up to four pieces.
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            texts = texts.iter().flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}"))).collect();
            for text in &texts {
                assert_eq!(collapse_whitespace(text), reference(text), "{text:?}");
                assert_eq!(has_visible(text), !reference(text).is_empty(), "{text:?}");
            }
        }
    }

    #[test]
    fn clip_never_splits_a_character() {
        assert_eq!(clip("économie", 1), "");
        assert_eq!(clip("économie", 2), "é");
        assert_eq!(clip("abc", 10), "abc");
    }

    #[test]
    fn truncate_words_cuts_at_a_word_and_counts_characters() {
        assert_eq!(truncate_words("short", 10), "short");
        assert_eq!(truncate_words("Social and solidarity economy news", 20), "Social and…");
        assert_eq!(truncate_words("ééééééééééé", 5), "ééééé…");
        assert_eq!(truncate_words("Coops, mutuals and more", 7), "Coops…");
        assert_eq!(truncate_words("exactly10!", 10), "exactly10!");
        assert_eq!(truncate_words("the social economy", 12), "the social…");
        assert_eq!(truncate_words("the social, economy", 11), "the social…");
        assert_eq!(truncate_words("the social economy", 10), "the social…");
        assert_eq!(truncate_words("cooperatives", 5), "coope…");
        assert_eq!(truncate_words("ééééé ééééé", 8), "ééééé…");
        assert_eq!(truncate_words("  short  ", 10), "short");
        assert_eq!(truncate_words("Économie sociale et solidaire", 20), "Économie sociale et…");
        assert_eq!(truncate_words(&"🌍".repeat(10), 3), "🌍🌍🌍…");
    }
}
