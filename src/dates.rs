//! Reading dates as people and feeds write them: "01 August 2023",
//! "Jul 6, 2023", "1er juillet 2023", "lunes, 6 de julio de 2023",
//! RFC 3339 and RFC 2822 (including the broken variants seen in the wild).
//!
//! Scraped listings carry dates in whatever form the partner's CMS prints, in
//! English, French or Spanish (the ILO's three languages; Portuguese, Italian
//! and German month names are understood too). Instead of a regex engine this
//! module has a small tokenizer (numbers, accent-folded lower-case words,
//! punctuation) and a scanner that tries a handful of date shapes at every
//! token, so noise such as "Published on" or "| News" around the date is
//! simply skipped. Weekday names are ignored rather than checked: feeds get
//! them wrong often enough that trusting the day number is the better bet.
//!
//! Choices worth knowing:
//! - Date-only values mean 00:00:00 UTC of that day.
//! - All-numeric dates like `06/07/2023` are ambiguous (6 July or June 7).
//!   Without a `date_format` they are read only when the reading is forced:
//!   one part is greater than 12 (`18/07/2023` is 18 July, `12/25/2023` is
//!   25 December) or both parts are equal. Otherwise the result is `None` and
//!   the editor is expected to give `date_format`. Year-first numeric dates
//!   (`2023-07-06`, `2023/07/06`) are never ambiguous.
//! - Two-digit years are not read.
//! - Impossible dates (31 February) and years outside 1990..=2100 give `None`.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Years outside this range are taken as misreadings rather than dates.
const MIN_YEAR: i32 = 1990;
const MAX_YEAR: i32 = 2100;
/// A date never needs more than this; longer inputs (a selector matching a
/// whole block) are cut so the work stays bounded.
const MAX_INPUT_BYTES: usize = 512;
const MAX_TOKENS: usize = 160;

/// Parses a date as found on a page or in a feed.
///
/// With `format` (a chrono strftime pattern such as `%d/%m/%Y` or
/// `%d %B %Y`; date-only patterns are fine) the pattern is tried first, on the
/// whole text and then on every run of words the size of the pattern, so
/// surrounding noise is tolerated. When it does not match, the human-date
/// reader below still gets a chance (chrono's `%B` only knows English names).
///
/// Without a pattern the text is scanned for the first recognisable date,
/// optionally followed by a time and a zone (`Z`, `+02:00`, `-0400`, `GMT`,
/// `EST`, ...); the offset is honoured and the result is in UTC.
pub fn parse_date(text: &str, format: Option<&str>) -> Option<DateTime<Utc>> {
    let text = crate::text::clip(text.trim(), MAX_INPUT_BYTES);
    if text.is_empty() {
        return None;
    }
    if let Some(fmt) = format.map(str::trim).filter(|f| !f.is_empty())
        && let Some(found) = parse_with_format(text, fmt)
    {
        return Some(found);
    }
    scan(&tokenize(text))
}

fn in_range(instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    (MIN_YEAR..=MAX_YEAR).contains(&instant.year()).then_some(instant)
}

// ---------------------------------------------------------------------------
// Editor-given chrono format
// ---------------------------------------------------------------------------

fn parse_with_format(text: &str, fmt: &str) -> Option<DateTime<Utc>> {
    if let Some(found) = chrono_parse(text, fmt) {
        return Some(found);
    }
    // The format describes the date alone; the text may say more around it.
    // Try every window of words as long as the format (or one longer, for
    // specifiers such as `%v` that print more than one word).
    let words: Vec<&str> = text.split_whitespace().collect();
    let fmt_words = fmt.split_whitespace().count().max(1);
    for len in fmt_words..=fmt_words + 1 {
        for window in words.windows(len) {
            let joined = window.join(" ");
            if let Some(found) = chrono_parse(&joined, fmt) {
                return Some(found);
            }
            let trimmed = joined.trim_matches(|c: char| !c.is_alphanumeric());
            if trimmed.len() != joined.len()
                && let Some(found) = chrono_parse(trimmed, fmt)
            {
                return Some(found);
            }
        }
    }
    None
}

fn chrono_parse(text: &str, fmt: &str) -> Option<DateTime<Utc>> {
    let instant = if let Ok(dt) = DateTime::parse_from_str(text, fmt) {
        dt.with_timezone(&Utc)
    } else if let Ok(dt) = NaiveDateTime::parse_from_str(text, fmt) {
        dt.and_utc()
    } else if let Ok(d) = NaiveDate::parse_from_str(text, fmt) {
        d.and_time(NaiveTime::MIN).and_utc()
    } else {
        return None;
    };
    in_range(instant)
}

// ---------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    /// A run of ASCII digits, as written (leading zeros and length matter).
    Num(&'a str),
    /// A run of letters, lower-cased with accents removed ("Février" → "fevrier").
    Word(String),
    Punct(char),
}

#[derive(Debug, Clone, PartialEq)]
struct Token<'a> {
    tok: Tok<'a>,
    /// Whitespace came right before this token. Matters for suffixes ("6th")
    /// and zone offsets ("-0400"), which must be glued to what they modify.
    spaced: bool,
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut spaced = false;
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if tokens.len() >= MAX_TOKENS {
            break;
        }
        let tok = if c.is_whitespace() {
            spaced = true;
            continue;
        } else if c.is_ascii_digit() {
            let mut end = start + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                if !d.is_ascii_digit() {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
            Tok::Num(&text[start..end])
        } else if c.is_alphabetic() {
            let mut end = start + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                if !(d.is_alphabetic() || is_combining_mark(d)) {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
            Tok::Word(fold(&text[start..end]))
        } else if c == '\u{2212}' {
            // MINUS SIGN, as typographers write negative offsets.
            Tok::Punct('-')
        } else {
            Tok::Punct(c)
        };
        tokens.push(Token { tok, spaced });
        spaced = false;
    }
    tokens
}

/// Lower-cases and strips accents; compatibility decomposition also turns the
/// ordinal indicators of "1º" and "1ª" into plain letters.
fn fold(word: &str) -> String {
    word.nfkd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect()
}

// ---------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------

/// Month names, accent-folded, in English, French, Spanish, Portuguese,
/// Italian and German. Abbreviations are any prefix of three letters or more
/// that all names it starts agree on ("sept", "janv", "juil", "dic"), so only
/// the odd ones out need listing.
const MONTHS: &[(&str, u32)] = &[
    // English
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    // French
    ("janvier", 1),
    ("fevrier", 2),
    ("mars", 3),
    ("avril", 4),
    ("mai", 5),
    ("juin", 6),
    ("juillet", 7),
    ("aout", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("novembre", 11),
    ("decembre", 12),
    // Spanish
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    // Portuguese
    ("janeiro", 1),
    ("fevereiro", 2),
    ("marco", 3),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("setembro", 9),
    ("outubro", 10),
    ("novembro", 11),
    ("dezembro", 12),
    // Italian
    ("gennaio", 1),
    ("febbraio", 2),
    ("aprile", 4),
    ("maggio", 5),
    ("giugno", 6),
    ("luglio", 7),
    ("settembre", 9),
    ("ottobre", 10),
    ("dicembre", 12),
    // German (and Austrian)
    ("januar", 1),
    ("janner", 1),
    ("februar", 2),
    ("marz", 3),
    ("mrz", 3),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("dezember", 12),
];

/// The month a word names, if it names exactly one.
fn month_number(word: &str) -> Option<u32> {
    if word.len() < 3 {
        return None;
    }
    let mut found = None;
    for &(name, number) in MONTHS {
        if name.starts_with(word) {
            match found {
                None => found = Some(number),
                Some(seen) if seen != number => return None, // "jui": juin or juillet
                Some(_) => {}
            }
        }
    }
    found
}

/// Ordinal suffixes glued to a day number: 6th, 1st, 1er, 1re, 1º (→ "o"), 1.ª.
const DAY_SUFFIXES: &[&str] = &["st", "nd", "rd", "th", "er", "re", "e", "o", "a"];

/// Named zones seen in feeds, with their offset from UTC in hours. RFC 2822
/// lists the North American ones; the European ones are common in practice.
const ZONES: &[(&str, i32)] = &[
    ("z", 0),
    ("ut", 0),
    ("utc", 0),
    ("gmt", 0),
    ("est", -5),
    ("edt", -4),
    ("cst", -6),
    ("cdt", -5),
    ("mst", -7),
    ("mdt", -6),
    ("pst", -8),
    ("pdt", -7),
    ("bst", 1),
    ("wet", 0),
    ("west", 1),
    ("cet", 1),
    ("cest", 2),
    ("eet", 2),
    ("eest", 3),
];

// ---------------------------------------------------------------------------
// Scanner
// ---------------------------------------------------------------------------

/// A position in the token list; `Copy` so a failed attempt costs nothing to
/// abandon.
#[derive(Clone, Copy)]
struct Cursor<'t, 'a> {
    toks: &'t [Token<'a>],
    pos: usize,
}

impl<'t, 'a> Cursor<'t, 'a> {
    fn token(&self) -> Option<&'t Token<'a>> {
        self.toks.get(self.pos)
    }

    /// Consumes one of `set` if it comes next.
    fn punct(&mut self, set: &[char]) -> Option<char> {
        match self.token() {
            Some(Token { tok: Tok::Punct(c), .. }) if set.contains(c) => {
                self.pos += 1;
                Some(*c)
            }
            _ => None,
        }
    }

    /// Consumes one of `set` if it comes next.
    fn word(&mut self, set: &[&str]) -> bool {
        match self.token() {
            Some(Token { tok: Tok::Word(w), .. }) if set.contains(&w.as_str()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// Consumes a word from `set` only if no whitespace precedes it.
    fn glued_word(&mut self, set: &[&str]) -> Option<&'t str> {
        match self.token() {
            Some(Token { tok: Tok::Word(w), spaced: false }) if set.contains(&w.as_str()) => {
                self.pos += 1;
                Some(w.as_str())
            }
            _ => None,
        }
    }

    /// Consumes a number whose digit count is within `min..=max`.
    fn num(&mut self, min: usize, max: usize) -> Option<u32> {
        match self.token() {
            Some(Token { tok: Tok::Num(digits), .. }) if (min..=max).contains(&digits.len()) => {
                let value = digits.parse().ok()?;
                self.pos += 1;
                Some(value)
            }
            _ => None,
        }
    }

    /// Like [`Cursor::num`] but the number must be glued to what precedes it.
    fn glued_num(&mut self, min: usize, max: usize) -> Option<&'t str> {
        match self.token() {
            Some(Token { tok: Tok::Num(digits), spaced: false }) if (min..=max).contains(&digits.len()) => {
                self.pos += 1;
                Some(digits)
            }
            _ => None,
        }
    }

    fn month(&mut self) -> Option<u32> {
        match self.token() {
            Some(Token { tok: Tok::Word(w), .. }) => {
                let month = month_number(w)?;
                self.pos += 1;
                Some(month)
            }
            _ => None,
        }
    }
}

/// The first date in the tokens, with the time and zone that follow it.
fn scan(toks: &[Token<'_>]) -> Option<DateTime<Utc>> {
    (0..toks.len()).find_map(|pos| {
        let start = Cursor { toks, pos };
        let (date, after) = date_at(start)?;
        let (time, offset) = match time_at(after) {
            Some((time, after_time)) => (time, zone_at(after_time).unwrap_or(0)),
            None => (NaiveTime::MIN, 0),
        };
        let offset = FixedOffset::east_opt(offset)?;
        let instant = offset.from_local_datetime(&date.and_time(time)).single()?;
        in_range(instant.with_timezone(&Utc))
    })
}

fn date_at<'t, 'a>(c: Cursor<'t, 'a>) -> Option<(NaiveDate, Cursor<'t, 'a>)> {
    year_first_numeric(c).or_else(|| day_first_numeric(c)).or_else(|| day_month_year(c)).or_else(|| month_day_year(c))
}

fn make_date(year: u32, month: u32, day: u32) -> Option<NaiveDate> {
    let year = i32::try_from(year).ok()?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

/// 2023-07-06, 2023/07/06, 2023.07.06.
fn year_first_numeric<'t, 'a>(mut c: Cursor<'t, 'a>) -> Option<(NaiveDate, Cursor<'t, 'a>)> {
    let year = c.num(4, 4)?;
    let sep = c.punct(&['-', '/', '.'])?;
    let month = c.num(1, 2)?;
    c.punct(&[sep])?;
    let day = c.num(1, 2)?;
    Some((make_date(year, month, day)?, c))
}

/// 18/07/2023, 07-18-2023: read only when day and month cannot be confused.
fn day_first_numeric<'t, 'a>(mut c: Cursor<'t, 'a>) -> Option<(NaiveDate, Cursor<'t, 'a>)> {
    let a = c.num(1, 2)?;
    let sep = c.punct(&['-', '/', '.'])?;
    let b = c.num(1, 2)?;
    c.punct(&[sep])?;
    let year = c.num(4, 4)?;
    let (day, month) = if a == b || (a > 12 && b <= 12) {
        (a, b)
    } else if b > 12 && a <= 12 {
        (b, a)
    } else {
        return None; // 06/07/2023: the editor must say which (date_format)
    };
    Some((make_date(year, month, day)?, c))
}

/// 01 August 2023, 6th July 2023, 1er juillet 2023, 6 de julio de 2023,
/// 6. Juli 2023, 06-Jul-2023, the 6th of July, 2023.
fn day_month_year<'t, 'a>(mut c: Cursor<'t, 'a>) -> Option<(NaiveDate, Cursor<'t, 'a>)> {
    let day = c.num(1, 2)?;
    c.punct(&['.']);
    c.glued_word(DAY_SUFFIXES);
    c.punct(&['.']);
    c.punct(&['-', '/']);
    c.word(&["de", "of"]);
    let month = c.month()?;
    c.punct(&['.']);
    c.punct(&[',', '-', '/']);
    c.word(&["de", "del"]);
    let year = c.num(4, 4)?;
    Some((make_date(year, month, day)?, c))
}

/// Jul 6, 2023, July 6th, 2023, Sept. 6 2023.
fn month_day_year<'t, 'a>(mut c: Cursor<'t, 'a>) -> Option<(NaiveDate, Cursor<'t, 'a>)> {
    let month = c.month()?;
    c.punct(&['.']);
    let day = c.num(1, 2)?;
    c.glued_word(DAY_SUFFIXES);
    c.punct(&[',']);
    let year = c.num(4, 4)?;
    Some((make_date(year, month, day)?, c))
}

/// A time of day after a date: 09:30, 09:30:00.123, 9:30 pm, 14h30, T09:30.
fn time_at<'t, 'a>(mut c: Cursor<'t, 'a>) -> Option<(NaiveTime, Cursor<'t, 'a>)> {
    // What may sit between a date and its time: "T", "at", "à", "um",
    // "a las", a comma or a dash.
    for _ in 0..2 {
        if !(c.word(&["t", "at", "a", "las", "um"]) || c.punct(&[',', '-', '@']).is_some()) {
            break;
        }
    }
    let hour = c.num(1, 2)?;
    let (minute, second, nanos) = if c.punct(&[':']).is_some() {
        let minute = c.num(2, 2)?;
        let (second, nanos) = if c.punct(&[':']).is_some() {
            let second = c.num(2, 2)?;
            let mut probe = c;
            let nanos = match (probe.punct(&['.', ',']), probe.glued_num(1, 64)) {
                (Some(_), Some(frac)) => {
                    c = probe;
                    fraction_nanos(frac)
                }
                _ => 0,
            };
            (second, nanos)
        } else {
            (0, 0)
        };
        (minute, second, nanos)
    } else if c.glued_word(&["h"]).is_some() {
        // French style: 14h30, or 14h alone.
        (c.glued_num(2, 2).and_then(|m| m.parse().ok()).unwrap_or(0), 0, 0)
    } else {
        return None;
    };
    let hour = match meridiem(&mut c) {
        Some(pm) if (1..=12).contains(&hour) => hour % 12 + if pm { 12 } else { 0 },
        Some(_) => return None,
        None => hour,
    };
    // A leap second (":60") is read as the last second of the minute.
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second.min(59), nanos)?;
    Some((time, c))
}

/// The first nine digits of a fraction of a second, as nanoseconds.
fn fraction_nanos(digits: &str) -> u32 {
    let mut nanos = 0u32;
    for (i, d) in digits.bytes().take(9).enumerate() {
        nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
    }
    nanos
}

/// "am"/"pm", "a.m."/"p.m."; `Some(true)` for afternoon.
fn meridiem(c: &mut Cursor<'_, '_>) -> Option<bool> {
    let mut probe = *c;
    let pm = if probe.word(&["am"]) {
        false
    } else if probe.word(&["pm"]) {
        true
    } else if probe.word(&["a", "p"]) {
        let pm = matches!(c.token(), Some(Token { tok: Tok::Word(w), .. }) if w == "p");
        probe.punct(&['.'])?;
        if !probe.word(&["m"]) {
            return None;
        }
        probe.punct(&['.']);
        pm
    } else {
        return None;
    };
    *c = probe;
    Some(pm)
}

/// The zone after a time, as seconds east of UTC: Z, +02:00, -0400, +02,
/// GMT, EST, UTC+2, GMT+01:00.
fn zone_at(mut c: Cursor<'_, '_>) -> Option<i32> {
    let named = match c.token() {
        Some(Token { tok: Tok::Word(w), .. }) => {
            ZONES.iter().find(|&&(name, _)| name == w.as_str()).map(|&(_, hours)| hours * 3600)
        }
        _ => None,
    };
    if named.is_some() {
        c.pos += 1;
    }
    let numeric = numeric_offset(c);
    match (named, numeric) {
        (None, None) => None,
        (named, numeric) => Some(named.unwrap_or(0) + numeric.unwrap_or(0)),
    }
}

/// +02:00, -0400, +02, +2: a sign glued to its digits, so that a range such
/// as "09:30 - 10:30" is not taken for an offset.
fn numeric_offset(mut c: Cursor<'_, '_>) -> Option<i32> {
    let sign = match c.punct(&['+', '-'])? {
        '-' => -1,
        _ => 1,
    };
    let digits = c.glued_num(1, 4)?;
    let (hours, minutes): (i32, i32) = match digits.len() {
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => {
            let hours = digits.parse().ok()?;
            let mut probe = c;
            let minutes = match (probe.punct(&[':']), probe.glued_num(2, 2)) {
                (Some(_), Some(m)) => m.parse().ok()?,
                _ => 0,
            };
            (hours, minutes)
        }
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        utc(y, m, d, 0, 0, 0)
    }

    #[track_caller]
    fn check(cases: &[(&str, Option<DateTime<Utc>>)]) {
        for (text, expected) in cases {
            assert_eq!(parse_date(text, None), *expected, "input {text:?}");
        }
    }

    #[test]
    fn english_day_month_year() {
        check(&[
            ("01 August 2023", Some(day(2023, 8, 1))),
            ("18 December 2025", Some(day(2025, 12, 18))),
            ("6th July 2023", Some(day(2023, 7, 6))),
            ("1st May 2024", Some(day(2024, 5, 1))),
            ("the 6th of July, 2023", Some(day(2023, 7, 6))),
            ("06-Jul-2023", Some(day(2023, 7, 6))),
            ("6 Sept. 2023", Some(day(2023, 9, 6))),
            ("6 sep 2023", Some(day(2023, 9, 6))),
            ("  01   AUGUST   2023 ", Some(day(2023, 8, 1))),
        ]);
    }

    #[test]
    fn english_month_day_year() {
        check(&[
            ("Jul 6, 2023", Some(day(2023, 7, 6))),
            ("July 6th, 2023", Some(day(2023, 7, 6))),
            ("July 6 2023", Some(day(2023, 7, 6))),
            ("Thursday, July 6, 2023", Some(day(2023, 7, 6))),
            ("Sept 6, 2023", Some(day(2023, 9, 6))),
            ("Sept. 6, 2023", Some(day(2023, 9, 6))),
            ("Feb 29, 2024", Some(day(2024, 2, 29))),
            ("Jul 6, 2023 9:30 PM", Some(utc(2023, 7, 6, 21, 30, 0))),
            ("Jul 6, 2023 at 12:15 a.m.", Some(utc(2023, 7, 6, 0, 15, 0))),
            ("Jul 6, 2023, 12:15 pm", Some(utc(2023, 7, 6, 12, 15, 0))),
        ]);
    }

    #[test]
    fn french() {
        check(&[
            ("6 juillet 2023", Some(day(2023, 7, 6))),
            ("1er juillet 2023", Some(day(2023, 7, 1))),
            ("1er août 2023", Some(day(2023, 8, 1))),
            ("1er aout 2023", Some(day(2023, 8, 1))),
            ("lundi 6 juillet 2023", Some(day(2023, 7, 6))),
            ("3 février 2023", Some(day(2023, 2, 3))),
            ("3 fevrier 2023", Some(day(2023, 2, 3))),
            ("3 FÉVRIER 2023", Some(day(2023, 2, 3))),
            ("6 janv. 2023", Some(day(2023, 1, 6))),
            ("6 sept. 2023", Some(day(2023, 9, 6))),
            ("12 déc. 2023", Some(day(2023, 12, 12))),
            ("6 juil. 2023", Some(day(2023, 7, 6))),
            ("Publié le 6 juillet 2023 à 14h30", Some(utc(2023, 7, 6, 14, 30, 0))),
            ("6 juillet 2023 à 9h", Some(utc(2023, 7, 6, 9, 0, 0))),
        ]);
    }

    #[test]
    fn spanish() {
        check(&[
            ("6 de julio de 2023", Some(day(2023, 7, 6))),
            ("lunes, 6 de julio de 2023", Some(day(2023, 7, 6))),
            ("1º de agosto de 2023", Some(day(2023, 8, 1))),
            ("1.º de agosto de 2023", Some(day(2023, 8, 1))),
            ("6 de julio del 2023", Some(day(2023, 7, 6))),
            ("miércoles 12 de septiembre de 2023", Some(day(2023, 9, 12))),
            ("12 setiembre 2023", Some(day(2023, 9, 12))),
            ("6 ene. 2023", Some(day(2023, 1, 6))),
            ("6 dic 2023", Some(day(2023, 12, 6))),
            ("6 de julio de 2023 a las 14:30", Some(utc(2023, 7, 6, 14, 30, 0))),
        ]);
    }

    #[test]
    fn portuguese_italian_german() {
        check(&[
            ("6 de julho de 2023", Some(day(2023, 7, 6))),
            ("6 de março de 2023", Some(day(2023, 3, 6))),
            ("6 luglio 2023", Some(day(2023, 7, 6))),
            ("6 gennaio 2023", Some(day(2023, 1, 6))),
            ("6. Juli 2023", Some(day(2023, 7, 6))),
            ("6. März 2023", Some(day(2023, 3, 6))),
            ("6. Dezember 2023, 14:30 Uhr", Some(utc(2023, 12, 6, 14, 30, 0))),
        ]);
    }

    #[test]
    fn surrounding_noise() {
        check(&[
            ("Published on 01 August 2023", Some(day(2023, 8, 1))),
            ("Date: 01 August 2023 | News", Some(day(2023, 8, 1))),
            ("News | 25 July 2023 | 3 min read", Some(day(2023, 7, 25))),
            ("Posted by Jane on Jul 6, 2023 in Cooperatives", Some(day(2023, 7, 6))),
            ("From 4 to 6 July 2023", Some(day(2023, 7, 6))),
            ("Updated: 2023-07-06.", Some(day(2023, 7, 6))),
        ]);
    }

    #[test]
    fn iso_8601_and_rfc_3339() {
        check(&[
            ("2023-07-06", Some(day(2023, 7, 6))),
            ("2023/07/06", Some(day(2023, 7, 6))),
            ("2023-07-18T09:30:00-04:00", Some(utc(2023, 7, 18, 13, 30, 0))),
            ("2023-07-18T09:30:00Z", Some(utc(2023, 7, 18, 9, 30, 0))),
            ("2023-07-18T09:30:00+02:00", Some(utc(2023, 7, 18, 7, 30, 0))),
            ("2023-07-18T09:30:00+0200", Some(utc(2023, 7, 18, 7, 30, 0))),
            ("2023-07-18T09:30+02", Some(utc(2023, 7, 18, 7, 30, 0))),
            ("2023-07-18 09:30:00", Some(utc(2023, 7, 18, 9, 30, 0))),
            ("2023-07-18t09:30:00z", Some(utc(2023, 7, 18, 9, 30, 0))),
            ("2023-07-18T23:30:00-04:00", Some(utc(2023, 7, 19, 3, 30, 0))),
            ("2023-07-18T09:30:00 - 10:30", Some(utc(2023, 7, 18, 9, 30, 0))),
        ]);
        let with_fraction = parse_date("2023-07-18T09:30:00.250Z", None).unwrap();
        assert_eq!(with_fraction.timestamp_subsec_millis(), 250);
        assert_eq!(with_fraction.timestamp(), utc(2023, 7, 18, 9, 30, 0).timestamp());
    }

    #[test]
    fn rfc_2822_and_broken_variants() {
        check(&[
            ("Tue, 18 Jul 2023 09:30:00 -0400", Some(utc(2023, 7, 18, 13, 30, 0))),
            ("18 Jul 2023 09:30:00 -0400", Some(utc(2023, 7, 18, 13, 30, 0))),
            ("Tue, 18 Jul 2023 09:30:00 GMT", Some(utc(2023, 7, 18, 9, 30, 0))),
            ("Tue, 18 Jul 2023 09:30:00 UTC", Some(utc(2023, 7, 18, 9, 30, 0))),
            ("Tue, 18 Jul 2023 09:30:00 EST", Some(utc(2023, 7, 18, 14, 30, 0))),
            ("Tue, 18 Jul 2023 09:30:00 EDT", Some(utc(2023, 7, 18, 13, 30, 0))),
            ("Tue, 18 Jul 2023 09:30 +0000", Some(utc(2023, 7, 18, 9, 30, 0))),
            // Wrong weekday: the day number wins.
            ("Mon, 18 Jul 2023 09:30:00 +0000", Some(utc(2023, 7, 18, 9, 30, 0))),
            ("Tue, 18 July 2023 09:30:00 GMT+2", Some(utc(2023, 7, 18, 7, 30, 0))),
            ("Tue, 18 Jul 2023 09:30:00", Some(utc(2023, 7, 18, 9, 30, 0))),
            ("Tue, 18 Jul 2023 09:30:00 CEST", Some(utc(2023, 7, 18, 7, 30, 0))),
        ]);
    }

    #[test]
    fn numeric_day_month_needs_a_format_unless_forced() {
        check(&[
            ("06/07/2023", None),
            ("6.7.2023", None),
            ("18/07/2023", Some(day(2023, 7, 18))),
            ("07/18/2023", Some(day(2023, 7, 18))),
            ("18.07.2023", Some(day(2023, 7, 18))),
            ("06/06/2023", Some(day(2023, 6, 6))),
        ]);
    }

    #[test]
    fn rejects_impossible_and_absurd() {
        check(&[
            ("31 February 2023", None),
            ("29 February 2023", None),
            ("2023-02-30", None),
            ("2023-13-01", None),
            ("01 August 1890", None),
            ("01 August 2101", None),
            ("1989-12-31", None),
            ("32 July 2023", None),
            ("", None),
            ("   ", None),
            ("August 2023", None),
            ("July 2023", None),
            ("Read more", None),
            ("2023", None),
            ("12:30", None),
            ("jui 6 2023", None),
            ("18 Jul 23", None),
        ]);
    }

    #[test]
    fn bounds_are_inclusive() {
        check(&[("1990-01-01", Some(day(1990, 1, 1))), ("31 December 2100", Some(day(2100, 12, 31)))]);
    }

    #[test]
    fn explicit_format_comes_first() {
        let cases: &[(&str, &str, Option<DateTime<Utc>>)] = &[
            ("06/07/2023", "%d/%m/%Y", Some(day(2023, 7, 6))),
            ("06/07/2023", "%m/%d/%Y", Some(day(2023, 6, 7))),
            ("Posted 06/07/2023 | News", "%d/%m/%Y", Some(day(2023, 7, 6))),
            ("(06/07/2023)", "%d/%m/%Y", Some(day(2023, 7, 6))),
            ("01 August 2023", "%d %B %Y", Some(day(2023, 8, 1))),
            ("Published on 1 August 2023 in News", "%d %B %Y", Some(day(2023, 8, 1))),
            ("06.07.2023 14:30", "%d.%m.%Y %H:%M", Some(utc(2023, 7, 6, 14, 30, 0))),
            ("2023-07-18 09:30 -0400", "%Y-%m-%d %H:%M %z", Some(utc(2023, 7, 18, 13, 30, 0))),
            // chrono's %B is English-only: the human reader takes over.
            ("6 juillet 2023", "%d %B %Y", Some(day(2023, 7, 6))),
            // The format does not fit; the text is still unambiguous.
            ("2023-07-06", "%d/%m/%Y", Some(day(2023, 7, 6))),
            ("31/02/2023", "%d/%m/%Y", None),
            ("06/07/1890", "%d/%m/%Y", None),
            ("06/07/2023", "", None),
        ];
        for (text, fmt, expected) in cases {
            assert_eq!(parse_date(text, Some(fmt)), *expected, "{text:?} with {fmt:?}");
        }
    }

    #[test]
    fn month_names_and_abbreviations() {
        let cases: &[(&str, Option<u32>)] = &[
            ("jan", Some(1)),
            ("janv", Some(1)),
            ("fev", Some(2)),
            ("feb", Some(2)),
            ("mar", Some(3)),
            ("marc", Some(3)),
            ("avr", Some(4)),
            ("abr", Some(4)),
            ("mai", Some(5)),
            ("may", Some(5)),
            ("mag", Some(5)),
            ("jun", Some(6)),
            ("juin", Some(6)),
            ("jui", None),
            ("juil", Some(7)),
            ("jul", Some(7)),
            ("aou", Some(8)),
            ("ago", Some(8)),
            ("aug", Some(8)),
            ("sep", Some(9)),
            ("sept", Some(9)),
            ("set", Some(9)),
            ("oct", Some(10)),
            ("okt", Some(10)),
            ("out", Some(10)),
            ("ott", Some(10)),
            ("nov", Some(11)),
            ("dec", Some(12)),
            ("dic", Some(12)),
            ("dez", Some(12)),
            ("ju", None),
            ("de", None),
            ("augusta", None),
            ("monday", None),
            ("lundi", None),
        ];
        for (word, expected) in cases {
            assert_eq!(month_number(word), *expected, "{word:?}");
        }
    }

    #[test]
    fn asctime_is_not_mistaken() {
        // Month, day, then a time before the year: not a supported shape, and
        // it must not be read as some other date either.
        assert_eq!(parse_date("Tue Jul 18 09:30:00 2023", None), None);
    }

    #[test]
    fn hostile_input_stays_bounded() {
        let long = "9".repeat(100_000);
        assert_eq!(parse_date(&long, None), None);
        let many = "1 ".repeat(50_000) + "6 July 2023";
        assert_eq!(parse_date(&many, None), None, "dates past the cap are not searched for");
        let noisy = format!("{} 6 July 2023", "é".repeat(100));
        assert_eq!(parse_date(&noisy, None), Some(day(2023, 7, 6)));
        assert_eq!(parse_date("6 July 2023", Some(&"%d ".repeat(10_000))), Some(day(2023, 7, 6)));
        assert_eq!(parse_date("\u{0}\u{feff}6 July 2023\u{200b}", None), Some(day(2023, 7, 6)));
    }
}
