//! What the quick-xml fast paths ([`super::rss_fast`], [`super::atom_fast`])
//! share: one streaming `quick_xml::Reader` set up as feed-rs sets up its own,
//! and the pieces of feed-rs's reading that do not depend on the format (see
//! `feed-rs/src/xml/mod.rs` and `parser/util.rs`): the prologue, namespace
//! prefixes, text coalescing (text, CDATA and references joined, comments
//! skipped), attribute unescaping, link resolution against the response URL
//! and the date forms both parsers provably read alike.
//!
//! Every function here returns [`Decline`] for anything whose feed-rs reading
//! it does not reproduce exactly; the caller then hands the document to feed-rs.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use url::Url;

use crate::normalize::is_serialised_http_url;

/// The document is outside what the fast path reproduces exactly; feed-rs reads it.
#[derive(Debug)]
pub(super) struct Decline;

pub(super) type Fast<T> = Result<T, Decline>;

/// feed-rs looks for the first `<` in the first buffer its `BufReader` fills
/// (8 KiB); leading whitespace is only accepted well within that.
const MAX_LEADING_WHITESPACE: usize = 1024;

/// Namespaces by URI, as feed-rs's `NS::parse` tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ns {
    /// Unprefixed RSS 2.0 elements (feed-rs's default namespace for `<rss>`).
    Rss,
    Content,
    DublinCore,
    Atom,
    /// RSS 1.0, Media RSS, iTunes: feed-rs reads these and the fast paths do not, so any use declines.
    Unhandled,
    /// Any other URI: feed-rs ignores its elements wherever they are, and so do the fast paths.
    Foreign,
}

pub(super) const ATOM_URI: &[u8] = b"http://www.w3.org/2005/Atom";

impl Ns {
    fn from_uri(uri: &[u8]) -> Ns {
        match uri {
            b"http://purl.org/rss/1.0/modules/content/" => Ns::Content,
            b"http://purl.org/dc/elements/1.1/" => Ns::DublinCore,
            ATOM_URI => Ns::Atom,
            b"http://purl.org/rss/1.0/"
            | b"http://search.yahoo.com/mrss/"
            | b"http://www.itunes.com/dtds/podcast-1.0.dtd" => Ns::Unhandled,
            _ => Ns::Foreign,
        }
    }
}

/// More attributes on one element than a feed's elements carry; more decline.
const MAX_ATTRIBUTES: usize = 8;

/// More declarations than a feed plausibly needs; quick-xml's own limit (which
/// would fail feed-rs) is far above it.
const MAX_PREFIXES: usize = 32;

/// Namespace URIs quick-xml refuses to bind to an ordinary prefix (feed-rs then fails).
const RESERVED_URIS: [&[u8]; 2] = [b"http://www.w3.org/XML/1998/namespace", b"http://www.w3.org/2000/xmlns/"];

pub(super) struct Doc<'a> {
    reader: Reader<&'a [u8]>,
    /// The document the reader reads: its events borrow slices of it.
    src: &'a str,
    /// Prefixes declared on the root; declarations anywhere else decline.
    prefixes: Vec<(Vec<u8>, Ns)>,
    /// The namespace of unprefixed elements (the root may only declare this one as default).
    unprefixed: Ns,
    /// Whether `xml:lang` may appear on any element (feed-rs ignores it there).
    xml_lang: bool,
    /// The response URL links are resolved against (owned: items borrow only the text).
    pub(super) base: Url,
}

impl<'a> Doc<'a> {
    /// A reader over `text`, or `None` when feed-rs would not find the root as this reader does.
    pub(super) fn new(text: &'a str, base: &Url, unprefixed: Ns, xml_lang: bool) -> Option<Doc<'a>> {
        let leading = text.len() - text.trim_start_matches(is_xml_space).len();
        if leading > MAX_LEADING_WHITESPACE {
            return None;
        }
        let mut reader = Reader::from_str(text);
        // The reader settings feed-rs uses, so that both see the same events.
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.trim_markup_names_in_closing_tags = true;
        config.trim_text(false);
        Some(Doc { reader, src: text, prefixes: Vec::new(), unprefixed, xml_lang, base: base.clone() })
    }

    /// The next event that matters: comments and processing instructions are
    /// skipped everywhere, as feed-rs skips them (even inside text).
    #[inline(always)]
    pub(super) fn next(&mut self) -> Fast<Event<'a>> {
        loop {
            match self.reader.read_event().map_err(|_| Decline)? {
                Event::Comment(_) | Event::PI(_) => {}
                Event::DocType(_) => return Err(Decline),
                event => return Ok(event),
            }
        }
    }

    /// The next child element of the element being read, or `None` at its
    /// end tag. Text between elements is ignored, as feed-rs ignores it, but
    /// a bad reference in it is an error there too; any other event declines.
    #[inline(always)]
    pub(super) fn child(&mut self) -> Fast<Option<BytesStart<'a>>> {
        loop {
            match self.next()? {
                Event::Text(_) | Event::CData(_) => {}
                Event::GeneralRef(r) => check_reference(&r)?,
                Event::End(_) => return Ok(None),
                Event::Start(start) => return Ok(Some(start)),
                _ => return Err(Decline),
            }
        }
    }

    /// The prologue up to the root's start tag.
    pub(super) fn root(&mut self) -> Fast<BytesStart<'a>> {
        loop {
            match self.next()? {
                Event::Decl(decl) => {
                    // XML 1.1 changes how quick-xml reads some text; not verified here.
                    if decl.version().map_err(|_| Decline)?.as_ref() != b"1.0" {
                        return Err(Decline);
                    }
                    match decl.encoding() {
                        None => {}
                        // The text is UTF-8 already; feed-rs would decode by the declared label.
                        Some(Ok(label)) if label.eq_ignore_ascii_case(b"utf-8") => {}
                        Some(_) => return Err(Decline),
                    }
                }
                Event::Text(t) if is_blank(&t) => {}
                Event::Start(start) => return Ok(start),
                _ => return Err(Decline),
            }
        }
    }

    /// Records `xmlns:prefix="uri"` from the root.
    pub(super) fn declare(&mut self, prefix: &[u8], uri: &[u8]) -> Fast<()> {
        // An empty or escaped URI, a reserved prefix or URI: quick-xml's
        // namespace handling (which feed-rs uses) is not mirrored for those.
        let reserved_prefix = prefix.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(b"xml"));
        if prefix.is_empty()
            || reserved_prefix
            || uri.is_empty()
            || uri.contains(&b'&')
            || RESERVED_URIS.contains(&uri)
            || self.prefixes.len() == MAX_PREFIXES
        {
            return Err(Decline);
        }
        self.prefixes.push((prefix.to_vec(), Ns::from_uri(uri)));
        Ok(())
    }

    /// Resolves a start tag's name; declines on anything feed-rs could read
    /// differently: unknown prefixes, namespace declarations, `xml:*`
    /// attributes (`xml:base` among them; `xml:lang` where allowed) or other
    /// prefixed attributes.
    pub(super) fn open<'s>(&self, start: &'s BytesStart<'a>) -> Fast<(Ns, &'s [u8])> {
        // Most elements of a feed have no attributes: nothing to iterate then.
        if !is_blank(start.attributes_raw()) {
            self.check_attributes(start)?;
        }
        let name = start.name().into_inner();
        match name.iter().position(|&b| b == b':') {
            None => Ok((self.unprefixed, name)),
            Some(colon) => {
                let (prefix, local) = (name.get(..colon).ok_or(Decline)?, name.get(colon + 1..).ok_or(Decline)?);
                if local.is_empty() || local.contains(&b':') {
                    return Err(Decline);
                }
                match self.prefixes.iter().find(|(p, _)| p.as_slice() == prefix) {
                    Some(&(_, ns)) if ns != Ns::Unhandled => Ok((ns, local)),
                    _ => Err(Decline),
                }
            }
        }
    }

    /// Declines on a prefixed attribute (but `xml:lang` where allowed), a
    /// namespace declaration, or a duplicate name (which fails quick-xml's
    /// checked iterator, and so feed-rs). Duplicates are looked for among the
    /// first few names here rather than by quick-xml, whose check allocates
    /// a list per element; more attributes than that decline.
    fn check_attributes(&self, start: &BytesStart<'_>) -> Fast<()> {
        let mut keys: [&[u8]; MAX_ATTRIBUTES] = [&[]; MAX_ATTRIBUTES];
        for (count, attr) in start.attributes().with_checks(false).enumerate() {
            let attr = attr.map_err(|_| Decline)?;
            let key = attr.key.into_inner();
            if (key.contains(&b':') && !(self.xml_lang && key == b"xml:lang")) || key == b"xmlns" {
                return Err(Decline);
            }
            if keys.get(..count).ok_or(Decline)?.contains(&key) {
                return Err(Decline);
            }
            *keys.get_mut(count).ok_or(Decline)? = key;
        }
        Ok(())
    }

    /// The values of the named attributes, unescaped as feed-rs unescapes them,
    /// borrowed from the document when they hold no reference. `start` is a
    /// tag [`Doc::open`] accepted (or the root, whose attributes the caller
    /// reads with quick-xml's checks), so its names are known to be unique.
    pub(super) fn attrs<const N: usize>(
        &self,
        start: &BytesStart<'_>,
        names: [&[u8]; N],
    ) -> Fast<[Option<Cow<'a, str>>; N]> {
        let mut values = [const { None }; N];
        for attr in start.attributes().with_checks(false) {
            let attr = attr.map_err(|_| Decline)?;
            if let Some(slot) = names.iter().position(|n| *n == attr.key.as_ref()).and_then(|i| values.get_mut(i)) {
                // feed-rs falls back to the raw value on a bad escape; the fast paths decline instead.
                let value = match in_src(self.src, &attr.value) {
                    Some(raw) => quick_xml::escape::unescape(raw).map_err(|_| Decline)?,
                    None => {
                        Cow::Owned(quick_xml::escape::unescape(utf8(&attr.value)?).map_err(|_| Decline)?.into_owned())
                    }
                };
                *slot = Some(value);
            }
        }
        Ok(values)
    }

    /// The text of an element that must hold text only, up to its end tag,
    /// coalesced as feed-rs does; `None` when there was no text event at all
    /// (feed-rs's `child_as_text` is `None` then, `children_as_string` "").
    /// A single run of text without references is borrowed from the document.
    pub(super) fn text(&mut self) -> Fast<Option<Cow<'a, str>>> {
        if let Some(text) = self.plain_text()? {
            return Ok(text);
        }
        let mut text: Option<Cow<'a, str>> = None;
        loop {
            match self.next()? {
                Event::Text(t) if !t.is_empty() => push_text(&mut text, self.src, t.into_inner())?,
                Event::CData(t) if !t.is_empty() => push_text(&mut text, self.src, t.into_inner())?,
                Event::Text(_) | Event::CData(_) => {}
                Event::GeneralRef(r) => push_reference(text.get_or_insert_with(Cow::default).to_mut(), &r)?,
                Event::End(_) => return Ok(text),
                _ => return Err(Decline),
            }
        }
    }

    /// [`Doc::text`] for the common case, text straight up to the end tag
    /// (no CDATA, comment or child): read from the input in one pass, with
    /// the references the event path would resolve, and the reader moved to
    /// its end tag, which it then reads and checks as usual. `None` leaves
    /// the reader where it was, for the event path. Driving the reader
    /// through every `&lt;` of an escaped summary cost a third of parsing.
    fn plain_text(&mut self) -> Fast<Option<Option<Cow<'a, str>>>> {
        let rest: &'a [u8] = self.reader.get_ref();
        // After `<x/>` (quick-xml's test: `/` right before `>`) the reader
        // owes the expanded end tag; what follows is not the element's text.
        let at = (rest.as_ptr() as usize).wrapping_sub(self.src.as_ptr() as usize);
        if at.checked_sub(2).and_then(|i| self.src.as_bytes().get(i)) == Some(&b'/') {
            return Ok(None);
        }
        // One search finds the end of plain text and whether it has a
        // reference at all (most titles and links have none).
        let (lt, first_amp) = match memchr::memchr2(b'<', b'&', rest) {
            None => return Ok(None),
            Some(i) if rest.get(i) == Some(&b'<') => (i, None),
            Some(amp) => match memchr::memchr(b'<', rest.get(amp..).unwrap_or_default()) {
                Some(i) => (amp + i, Some(amp)),
                None => return Ok(None),
            },
        };
        if rest.get(lt + 1) != Some(&b'/') {
            return Ok(None);
        }
        let raw = sub_str(self.src, &rest[..lt])?;
        let text = match first_amp {
            _ if raw.is_empty() => None,
            None => Some(Cow::Borrowed(raw)),
            Some(amp) => Some(unescape_text(raw, amp)?),
        };
        // The reader is in its text state: from the `<` it reads the end tag
        // and checks its name (only its error offsets, which the fast paths
        // never report, drift).
        *self.reader.get_mut() = &rest[lt..];
        match self.reader.read_event() {
            Ok(Event::End(_)) => Ok(Some(text)),
            _ => Err(Decline),
        }
    }

    /// Skips the rest of an element feed-rs ignores, still declining on
    /// anything that would make feed-rs fail or read differently.
    pub(super) fn skip(&mut self) -> Fast<()> {
        let mut depth = 1_usize;
        loop {
            match self.next()? {
                Event::Start(start) => {
                    self.open(&start)?;
                    depth += 1;
                }
                Event::End(_) => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Event::Text(_) | Event::CData(_) => {}
                Event::GeneralRef(r) => check_reference(&r)?,
                _ => return Err(Decline),
            }
        }
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

pub(super) fn is_blank(text: &[u8]) -> bool {
    text.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

fn utf8(bytes: &[u8]) -> Fast<&str> {
    std::str::from_utf8(bytes).map_err(|_| Decline)
}

/// `bytes` as the slice of `src` it is, when it is one: the reader splits
/// the document only at ASCII delimiters, so such a slice needs no second
/// UTF-8 validation (which was a tenth of parsing), only the O(1) check
/// that it starts and ends on character boundaries.
fn sub_str<'a>(src: &'a str, bytes: &'a [u8]) -> Fast<&'a str> {
    match in_src(src, bytes) {
        Some(text) => Ok(text),
        None => utf8(bytes),
    }
}

/// `bytes` as the slice of `src` it is, or `None` when it lies elsewhere (or
/// does not start and end on character boundaries).
fn in_src<'a>(src: &'a str, bytes: &[u8]) -> Option<&'a str> {
    let offset = (bytes.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize);
    let end = offset.checked_add(bytes.len()).filter(|&end| end <= src.len())?;
    src.get(offset..end)
}

/// Appends a run of text (borrowed while it is the only one).
fn push_text<'a>(text: &mut Option<Cow<'a, str>>, src: &'a str, bytes: Cow<'a, [u8]>) -> Fast<()> {
    let piece = match bytes {
        Cow::Borrowed(bytes) => Cow::Borrowed(sub_str(src, bytes)?),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8(bytes).map_err(|_| Decline)?),
    };
    match text {
        None => *text = Some(piece),
        Some(text) => text.to_mut().push_str(&piece),
    }
    Ok(())
}

/// Text without markup whose first `&` is at `amp`, with its references
/// resolved as the event path resolves them. A `&` not closed by `;` before
/// the next `&` is an error there (and so declines here).
fn unescape_text(raw: &str, mut amp: usize) -> Fast<Cow<'_, str>> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut clean_from = 0;
    loop {
        out.push_str(raw.get(clean_from..amp).ok_or(Decline)?);
        let after = &bytes[amp + 1..];
        let end = memchr::memchr2(b';', b'&', after).filter(|&i| after[i] == b';').ok_or(Decline)?;
        // The five predefined entities of every escaped summary are matched
        // here: quick-xml's resolver cost ~260 instructions a reference.
        match &after[..end] {
            b"lt" => out.push('<'),
            b"gt" => out.push('>'),
            b"amp" => out.push('&'),
            b"quot" => out.push('"'),
            b"apos" => out.push('\''),
            name => push_reference(&mut out, &BytesRef::new(sub_str(raw, name)?))?,
        }
        clean_from = amp + end + 2;
        match memchr::memchr(b'&', &bytes[clean_from..]) {
            Some(next) => amp = clean_from + next,
            None => break,
        }
    }
    out.push_str(raw.get(clean_from..).ok_or(Decline)?);
    Ok(Cow::Owned(out))
}

/// A character reference or one of the five predefined entities; feed-rs
/// keeps other entities as `&name;` text, which the fast paths leave to it.
fn push_reference(out: &mut String, reference: &BytesRef<'_>) -> Fast<()> {
    if let Some(ch) = reference.resolve_char_ref().map_err(|_| Decline)? {
        out.push(ch);
        return Ok(());
    }
    let entity = quick_xml::escape::resolve_predefined_entity(utf8(reference)?).ok_or(Decline)?;
    out.push_str(entity);
    Ok(())
}

/// A reference in text feed-rs reads but does not keep: still an error there when invalid.
fn check_reference(reference: &BytesRef<'_>) -> Fast<()> {
    if reference.resolve_char_ref().map_err(|_| Decline)?.is_some() {
        return Ok(());
    }
    quick_xml::escape::resolve_predefined_entity(utf8(reference)?).map(drop).ok_or(Decline)
}

/// feed-rs's `Link::new` with the response URL as base: absolute links are
/// normalised by `url`, relative ones joined, the rest kept as written. A
/// link `url` would write as it is stays borrowed.
pub(super) fn resolve_link<'t>(href: Cow<'t, str>, base: &Url) -> Cow<'t, str> {
    if is_serialised_http_url(&href) {
        return href;
    }
    let resolved = match Url::parse(&href) {
        // `String::from` hands over the serialisation `to_string` would format anew.
        Ok(url) => String::from(url),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            base.join(&href).map(String::from).unwrap_or_else(|_| href.into_owned())
        }
        Err(_) => href.into_owned(),
    };
    trimmed(resolved)
}

/// `text.trim()`, copied only when owned text needs trimming.
pub(super) fn trimmed<'t>(text: impl Into<Cow<'t, str>>) -> Cow<'t, str> {
    match text.into() {
        Cow::Borrowed(text) => Cow::Borrowed(trim(text)),
        Cow::Owned(owned) if trim(&owned).len() == owned.len() => Cow::Owned(owned),
        Cow::Owned(owned) => Cow::Owned(trim(&owned).to_owned()),
    }
}

/// `str::trim` (Unicode white space, as feed-rs trims), decided byte by byte
/// when both ends are ASCII: `trim_ascii` removes all of Unicode's ASCII
/// white space but vertical tab, so once its ends are other ASCII bytes,
/// there is nothing more `trim` would remove.
pub(super) fn trim(text: &str) -> &str {
    let ascii = text.trim_ascii();
    match (ascii.as_bytes().first(), ascii.as_bytes().last()) {
        (Some(&first), Some(&last)) if first.is_ascii() && last.is_ascii() && first != 0x0B && last != 0x0B => ascii,
        (None, _) => ascii,
        _ => text.trim(),
    }
}

/// The two date forms for which feed-rs's lenient parser provably gives what
/// chrono's strict one gives (none of its regex rewrites change them but
/// `-0000` → `+0000`, the same offset; a wrong weekday, which feed-rs would
/// drop, fails chrono and declines). Anything else declines.
pub(super) fn parse_date(text: &str) -> Fast<DateTime<Utc>> {
    let text = trim(text);
    // The common, clearly valid dates are computed from their digits
    // (chrono's general parser was a seventh of parsing); the rest, out of
    // range values included, go through chrono as before.
    match from_rfc2822_digits(text.as_bytes()).or_else(|| from_rfc3339_digits(text.as_bytes())) {
        Some(date) => Ok(date),
        None => parse_date_with_chrono(text),
    }
}

/// What chrono's strict parsers read in the two forms (see [`parse_date`]).
fn parse_date_with_chrono(text: &str) -> Fast<DateTime<Utc>> {
    let parsed = if is_plain_rfc2822(text) {
        DateTime::parse_from_rfc2822(text)
    } else if is_plain_rfc3339(text) {
        DateTime::parse_from_rfc3339(text)
    } else {
        return Err(Decline);
    };
    parsed.map(|t| t.with_timezone(&Utc)).map_err(|_| Decline)
}

/// `Tue, 18 Jul 2023 09:30:00 +0200` (or `GMT`), single spaces, two-digit hour.
fn is_plain_rfc2822(text: &str) -> bool {
    const WEEKDAYS: [&str; 7] = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mut parts = text.split(' ');
    let mut next = || parts.next().unwrap_or_default();
    let (weekday, day, month, year, time, zone) = (next(), next(), next(), next(), next(), next());
    WEEKDAYS.contains(&weekday)
        && (1..=2).contains(&day.len())
        && digits(day)
        && MONTHS.contains(&month)
        && year.len() == 4
        && digits(year)
        && shape(time, b"00:00:00")
        && (zone == "GMT" || shape(zone, b"+0000") || shape(zone, b"-0000"))
        && parts.next().is_none()
}

/// `2023-07-18T09:30:00Z`, optionally with up to nine fraction digits and a `±hh:mm` offset.
fn is_plain_rfc3339(text: &str) -> bool {
    let (Some(head), Some(rest)) = (text.get(..19), text.get(19..)) else { return false };
    if !shape(head, b"0000-00-00T00:00:00") {
        return false;
    }
    let rest = match rest.strip_prefix('.') {
        Some(fraction) => {
            let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if !(1..=9).contains(&n) {
                return false;
            }
            fraction.get(n..).unwrap_or_default()
        }
        None => rest,
    };
    rest == "Z" || shape(rest, b"+00:00") || shape(rest, b"-00:00")
}

/// `Tue, 18 Jul 2023 09:30:00 +0200` (or `GMT`) with every field in range
/// and the weekday right: what chrono would give, or `None`.
fn from_rfc2822_digits(b: &[u8]) -> Option<DateTime<Utc>> {
    const WEEKDAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let weekday = WEEKDAYS.iter().position(|w| b.get(..3) == Some(&w[..]))?;
    if b.get(3..5)? != b", " {
        return None;
    }
    // One or two day digits.
    let (day, rest) = match (number(b, 5, 2), number(b, 5, 1)) {
        (Some(day), _) => (day, b.get(7..)?),
        (None, Some(day)) => (day, b.get(6..)?),
        _ => return None,
    };
    if rest.len() < 22 || rest[0] != b' ' || rest[4] != b' ' || rest[9] != b' ' || rest[18] != b' ' {
        return None;
    }
    let month = MONTHS.iter().position(|m| rest.get(1..4) == Some(&m[..]))? as u32 + 1;
    let year = number(rest, 5, 4)?;
    let (hour, minute, second) = hms(rest.get(10..18)?)?;
    let offset = match rest.get(19..)? {
        b"GMT" => 0,
        [sign @ (b'+' | b'-'), h1, h2, m1, m2] => offset_secs(*sign, [*h1, *h2], [*m1, *m2])?,
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, month, day)?;
    if date.weekday().num_days_from_monday() as usize != weekday {
        return None;
    }
    utc(date, hour, minute, second, 0, offset)
}

/// `2023-07-18T09:30:00Z`, with up to nine fraction digits and a `±hh:mm`
/// offset, every field in range: what chrono would give, or `None`.
fn from_rfc3339_digits(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let (year, month, day) = (number(b, 0, 4)?, number(b, 5, 2)?, number(b, 8, 2)?);
    let (hour, minute, second) = hms(&b[11..19])?;
    let mut rest = &b[19..];
    let mut nanos = 0;
    if let [b'.', fraction @ ..] = rest {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return None;
        }
        nanos = number(fraction, 0, n)? * 10_u32.pow(9 - n as u32);
        rest = &fraction[n..];
    }
    let offset = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => offset_secs(*sign, [*h1, *h2], [*m1, *m2])?,
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, month, day)?;
    utc(date, hour, minute, second, nanos, offset)
}

/// A `±hhmm` or `±hh:mm` offset in seconds east of UTC, when in range.
fn offset_secs(sign: u8, hours: [u8; 2], minutes: [u8; 2]) -> Option<i64> {
    let (h, m) = (number(&hours, 0, 2)?, number(&minutes, 0, 2)?);
    let secs = i64::from(h * 3600 + m * 60);
    (h < 24 && m < 60).then_some(if sign == b'-' { -secs } else { secs })
}

/// `HH:MM:SS` in range (a leap second is left to chrono).
fn hms(b: &[u8]) -> Option<(u32, u32, u32)> {
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (number(b, 0, 2)?, number(b, 3, 2)?, number(b, 6, 2)?);
    (h < 24 && m < 60 && s < 60).then_some((h, m, s))
}

/// The `len` ASCII digits at `at` as a number.
fn number(b: &[u8], at: usize, len: usize) -> Option<u32> {
    b.get(at..at + len)?.iter().try_fold(0_u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}

fn utc(date: chrono::NaiveDate, h: u32, m: u32, s: u32, nanos: u32, offset_secs: i64) -> Option<DateTime<Utc>> {
    let local = date.and_hms_nano_opt(h, m, s, nanos)?;
    Some(local.checked_sub_signed(chrono::TimeDelta::seconds(offset_secs))?.and_utc())
}

fn digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

/// `text` matches `pattern`, where `0` stands for any ASCII digit.
fn shape(text: &str, pattern: &[u8]) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern).all(|(b, &p)| if p == b'0' { b.is_ascii_digit() } else { b == p })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-wise trim agrees with `str::trim` around every kind of white space.
    #[test]
    fn trim_is_str_trim() {
        let pieces =
            ["", " ", "\t", "\n", "\r", "\x0B", "\x0C", "\u{85}", "\u{A0}", "\u{3000}", "a", "é", "a b", "\u{1F600}"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let text = format!("{a}{b}{c}");
                    assert_eq!(trim(&text), text.trim(), "{text:?}");
                }
            }
        }
    }

    /// The dates computed from their digits are chrono's, on the forms the
    /// workloads use and on near misses of every field.
    #[test]
    fn dates_from_digits_are_what_chrono_gives() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Tues", "mon"];
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Sept"];
        let zones = ["GMT", "UT", "+0000", "-0000", "+0530", "-0800", "+2400", "+0060", "+9999", "Z", "+05:30"];
        let (mut computed, mut total) = (0, 0);
        for _ in 0..40_000 {
            let (y, mo, d) = (1899 + next(240), 1 + next(13), next(33));
            let (h, mi, s) = (next(26), next(62), next(62));
            let rfc2822 = format!(
                "{}, {} {} {y} {h:02}:{mi:02}:{s:02} {}",
                weekdays[next(9) as usize],
                if next(2) == 0 { format!("{d}") } else { format!("{d:02}") },
                months[(mo as usize - 1).min(12)],
                zones[next(11) as usize],
            );
            let fraction = match next(4) {
                0 => String::new(),
                1 => format!(".{}", next(1000)),
                2 => format!(".{:09}", next(1_000_000_000)),
                _ => ".1234567890".to_owned(),
            };
            let offset =
                ["Z", "+00:00", "-00:00", "+05:30", "-08:00", "+24:00", "+01:60", "z", "+0100"][next(9) as usize];
            let rfc3339 = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}{offset}");
            for text in [rfc2822, rfc3339] {
                total += 1;
                let fast = from_rfc2822_digits(text.as_bytes()).or_else(|| from_rfc3339_digits(text.as_bytes()));
                computed += usize::from(fast.is_some());
                let reference = parse_date_with_chrono(&text).ok();
                assert_eq!(parse_date(&text).ok(), reference, "{text}");
                if fast.is_some() {
                    assert_eq!(fast, reference, "{text}");
                }
            }
        }
        // Both paths are exercised, and the forms feeds use take the fast one.
        assert!(computed > total / 10 && computed < total, "{computed} of {total}");
        for common in ["Wed, 31 Dec 2025 17:59:00 +0000", "Tue, 1 Aug 2023 09:30:00 GMT", "2025-12-31T16:44:00Z"] {
            assert!(
                from_rfc2822_digits(common.as_bytes()).or_else(|| from_rfc3339_digits(common.as_bytes())).is_some()
            );
        }
    }
}

/// The differential harness both fast paths' tests use: every reading the
/// fast path accepts is compared with the feed-rs path's.
#[cfg(test)]
pub(super) mod testing {
    use std::path::{Path, PathBuf};

    use url::Url;

    use crate::extract::RawFeed;
    use crate::extract::encoding;
    use crate::extract::feed::parse_with_feed_rs;

    pub(in crate::extract) type Parse = for<'a> fn(&'a str, &Url) -> Option<RawFeed<'a>>;

    pub(in crate::extract) fn base() -> Url {
        Url::parse("https://partner.example/feed/rss.xml").unwrap()
    }

    /// The fast path's reading of `text`, checked against feed-rs's whenever it accepts.
    pub(in crate::extract) fn differential<'a>(parse: Parse, label: &str, text: &'a str) -> Option<RawFeed<'a>> {
        let fast = parse(text, &base())?;
        let reference = parse_with_feed_rs(text, &base())
            .unwrap_or_else(|e| panic!("{label}: fast path accepted what feed-rs rejects ({e})"));
        assert_eq!(fast, reference, "{label}: fast path and feed-rs disagree");
        Some(fast)
    }

    fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                fixtures(&path, out);
            } else if path.extension().is_some_and(|e| e == "xml" || e == "rss") {
                out.push(path);
            }
        }
    }

    /// Every XML fixture the fast path accepts (each checked against feed-rs), by path.
    pub(in crate::extract) fn accepted_fixtures(parse: Parse) -> Vec<String> {
        let mut paths = Vec::new();
        fixtures(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"), &mut paths);
        let mut accepted = Vec::new();
        for path in &paths {
            let bytes = std::fs::read(path).unwrap();
            let (text, _) = encoding::decode(&bytes, None);
            let name = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().display().to_string();
            if differential(parse, &name, &text).is_some() {
                accepted.push(name);
            }
        }
        accepted
    }

    /// Whether a mutation must stay on the fast path, must leave it, or may do either.
    #[derive(Debug, PartialEq)]
    pub(in crate::extract) enum Expect {
        Fast,
        FeedRs,
        Either,
    }

    pub(in crate::extract) fn check_mutations(parse: Parse, mutations: Vec<(&str, String, Expect)>) {
        for (label, doc, expect) in mutations {
            let accepted = differential(parse, label, &doc).is_some();
            match expect {
                Expect::Fast => assert!(accepted, "{label}: expected the fast path to accept"),
                Expect::FeedRs => assert!(!accepted, "{label}: expected the fast path to decline"),
                Expect::Either => {}
            }
        }
    }
}
