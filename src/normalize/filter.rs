//! Editors' keyword filters (`include` / `exclude` in sources.toml), matched
//! case- and accent-insensitively through [`fold`].
//!
//! Matching is a *substring* test of the folded keyword in the folded text,
//! not a whole-word test, so editors can write stems: `vacanc` matches
//! "vacancy" and "Vacancies", `coop` matches "cooperative" and
//! "Coopérative". The price is that a short keyword also matches inside a
//! longer word (`coop` in "scoop"); an editor avoids that with a longer stem
//! or a multi-word keyword (`"coop news"`). Keywords are folded like the text,
//! so their surrounding spaces are trimmed and inner runs of spaces count as
//! one.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::html::plain_text;

/// Text folded for matching: lower-cased, compatibility-decomposed (NFKD)
/// with combining marks dropped (so `É` → `e`, `ﬁ` → `fi`, full-width
/// letters → ASCII), a few letters that do not decompose spelled out
/// (`œ` → `oe`, `æ` → `ae`, `ß` → `ss`, `ø` → `o`, `ł` → `l`, `đ` → `d`),
/// invisible characters dropped, whitespace collapsed and trimmed.
///
/// NFKD rather than NFD: the compatibility forms are the same letters to a
/// reader, and keywords must match what a reader sees.
pub fn fold(text: &str) -> String {
    // ASCII is its own decomposition and has no combining marks.
    if text.is_ascii() {
        return crate::text::collapse_whitespace(&text.to_ascii_lowercase());
    }
    fold_unicode(text)
}

fn fold_unicode(text: &str) -> String {
    let mut decomposed = String::with_capacity(text.len());
    // Lower-case first: some lower-case mappings produce combining marks
    // (`İ` → `i̇`) that the next step then removes.
    for c in text.to_lowercase().nfkd() {
        match c {
            'œ' => decomposed.push_str("oe"),
            'æ' => decomposed.push_str("ae"),
            'ß' => decomposed.push_str("ss"),
            'ø' => decomposed.push('o'),
            'ł' => decomposed.push('l'),
            'đ' => decomposed.push('d'),
            c if is_combining_mark(c) => {}
            c => decomposed.push(c),
        }
    }
    crate::text::collapse_whitespace(&decomposed)
}

/// A source's include/exclude keywords, folded once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl Filter {
    /// Folds the keywords; keywords that fold to nothing are ignored (an
    /// empty include keyword would otherwise match everything).
    pub fn new(include: &[String], exclude: &[String]) -> Self {
        let fold_all = |keywords: &[String]| keywords.iter().map(|k| fold(k)).filter(|k| !k.is_empty()).collect();
        Filter { include: fold_all(include), exclude: fold_all(exclude) }
    }

    /// True when no keyword is set: every item is allowed.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether an item passes: at least one include keyword appears (when
    /// any is set) and no exclude keyword appears, in the title, the summary
    /// (HTML, read as plain text) or any category.
    pub fn allows(&self, title: &str, summary: Option<&str>, categories: &[String]) -> bool {
        if self.is_empty() {
            return true;
        }
        // Fields are folded separately and joined by a newline, which no
        // folded keyword contains, so a multi-word keyword never matches
        // across the end of one field and the start of the next.
        let mut haystack = fold(title);
        if let Some(summary) = summary {
            haystack.push('\n');
            haystack.push_str(&fold(&plain_text(summary)));
        }
        for category in categories {
            haystack.push('\n');
            haystack.push_str(&fold(category));
        }
        let found = |keyword: &String| haystack.contains(keyword.as_str());
        (self.include.is_empty() || self.include.iter().any(found)) && !self.exclude.iter().any(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn fold_of_ascii_takes_the_short_way_to_the_same_result() {
        let ascii: String = (0u8..0x80).map(char::from).collect();
        for window in ascii.as_bytes().windows(7) {
            let text = std::str::from_utf8(window).unwrap_or_default();
            assert_eq!(fold(text), fold_unicode(text), "{text:?}");
        }
        assert_eq!(fold(" Co-OP\tNews "), fold_unicode(" Co-OP\tNews "));
    }

    #[test]
    fn fold_cases() {
        let cases: &[(&str, &str)] = &[
            ("Économie Sociale", "economie sociale"),
            ("  COOPÉRATIVES\n\tet  mutuelles ", "cooperatives et mutuelles"),
            ("Œuvre du cœur", "oeuvre du coeur"),
            ("Straße", "strasse"),
            ("ﬁnance", "finance"),
            ("ＳＳＥ", "sse"),
            ("İstanbul", "istanbul"),
            ("Łódź", "lodz"),
            ("Ñandú", "nandu"),
            ("zero\u{200B}width", "zerowidth"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(fold(input), *expected, "input: {input:?}");
        }
    }

    #[test]
    fn filter_cases() {
        struct Case {
            include: &'static [&'static str],
            exclude: &'static [&'static str],
            title: &'static str,
            summary: Option<&'static str>,
            categories: &'static [&'static str],
            allowed: bool,
        }
        let cases = [
            // No keywords: everything passes.
            Case { include: &[], exclude: &[], title: "Anything", summary: None, categories: &[], allowed: true },
            // Accent- and case-insensitive include.
            Case {
                include: &["economie"],
                exclude: &[],
                title: "Économie sociale",
                summary: None,
                categories: &[],
                allowed: true,
            },
            Case {
                include: &["ÉCONOMIE"],
                exclude: &[],
                title: "economie sociale",
                summary: None,
                categories: &[],
                allowed: true,
            },
            Case {
                include: &["economie"],
                exclude: &[],
                title: "Cooperatives",
                summary: None,
                categories: &[],
                allowed: false,
            },
            // Exclusion, case-insensitive.
            Case {
                include: &[],
                exclude: &["vacancy"],
                title: "VACANCY: Programme officer",
                summary: None,
                categories: &[],
                allowed: false,
            },
            Case {
                include: &[],
                exclude: &["vacancy"],
                title: "Coop news",
                summary: None,
                categories: &[],
                allowed: true,
            },
            // Substring: a stem matches longer words.
            Case {
                include: &[],
                exclude: &["vacanc"],
                title: "Vacancies at the ILO",
                summary: None,
                categories: &[],
                allowed: false,
            },
            // Include found in summary (read as plain text) or categories.
            Case {
                include: &["solidarity"],
                exclude: &[],
                title: "News",
                summary: Some("<p>The <b>solidarity</b> economy</p>"),
                categories: &[],
                allowed: true,
            },
            Case {
                include: &["solidarity"],
                exclude: &[],
                title: "News",
                summary: None,
                categories: &["Solidarity"],
                allowed: true,
            },
            // Markup in the summary does not split or hide words.
            Case {
                include: &["social economy"],
                exclude: &[],
                title: "News",
                summary: Some("social <em>economy</em>"),
                categories: &[],
                allowed: true,
            },
            // Attribute values and scripts are not text.
            Case {
                include: &["solidarity"],
                exclude: &[],
                title: "News",
                summary: Some("<a title=\"solidarity\">x</a><script>solidarity</script>"),
                categories: &[],
                allowed: false,
            },
            // Multi-word keywords, whitespace-insensitive, not across fields.
            Case {
                include: &["social  economy"],
                exclude: &[],
                title: "The Social\n Economy",
                summary: None,
                categories: &[],
                allowed: true,
            },
            Case {
                include: &["economy news"],
                exclude: &[],
                title: "Social economy",
                summary: Some("news"),
                categories: &[],
                allowed: false,
            },
            // Exclude wins over include.
            Case {
                include: &["coop"],
                exclude: &["vacancy"],
                title: "Coop vacancy",
                summary: None,
                categories: &[],
                allowed: false,
            },
            // Any include suffices.
            Case {
                include: &["mutual", "coop"],
                exclude: &[],
                title: "Coop day",
                summary: None,
                categories: &[],
                allowed: true,
            },
            // Blank keywords are ignored rather than matching everything.
            Case {
                include: &["  ", ""],
                exclude: &[" "],
                title: "Anything",
                summary: None,
                categories: &[],
                allowed: true,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let filter = Filter::new(&strings(case.include), &strings(case.exclude));
            let categories = strings(case.categories);
            assert_eq!(
                filter.allows(case.title, case.summary, &categories),
                case.allowed,
                "case {i}: include {:?} exclude {:?} title {:?}",
                case.include,
                case.exclude,
                case.title
            );
        }
    }

    #[test]
    fn is_empty_ignores_blank_keywords() {
        assert!(Filter::new(&[], &[]).is_empty());
        assert!(Filter::new(&strings(&[" "]), &strings(&[""])).is_empty());
        assert!(!Filter::new(&strings(&["coop"]), &[]).is_empty());
        assert!(!Filter::new(&[], &strings(&["vacancy"])).is_empty());
    }
}
