//! Identifiers derived from content: the permanent story id published in
//! every feed ([`story_uid`]), the change-detection fingerprint, and the
//! fallback guid for items whose document gave neither guid nor link.

use chrono::{DateTime, Utc};

/// The permanent id of a story, as published in every output
/// (`urn:uuid:xxxxxxxx-xxxx-5xxx-Vxxx-xxxxxxxxxxxx`).
///
/// Subscribers' readers remember this id to know what they have read, so
/// the algorithm must never change. It is, exactly:
///
/// 1. `h` = BLAKE3 hash (default, unkeyed mode) of the UTF-8 bytes of
///    `story_key`, truncated to its first 16 bytes;
/// 2. `h[6] = (h[6] & 0x0f) | 0x50` — version nibble 5 (name-based);
/// 3. `h[8] = (h[8] & 0x3f) | 0x80` — the RFC 4122 variant bits `10`;
/// 4. the 16 bytes in lower-case hex grouped 8-4-4-4-12, after `urn:uuid:`.
///
/// Strictly, version 5 names SHA-1 as the hash (RFC 9562 would call a
/// custom hash version 8); the version-5 bits were chosen so the id reads
/// as an ordinary name-based UUID to every consumer, and are now fixed.
pub fn story_uid(story_key: &str) -> String {
    let hash = blake3::hash(story_key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_bytes()[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut uid = String::with_capacity(45);
    uid.push_str("urn:uuid:");
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            uid.push('-');
        }
        push_hex(&mut uid, *b);
    }
    uid
}

/// `b` as two lower-case hex digits.
fn push_hex(out: &mut String, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(DIGITS[usize::from(b >> 4)]));
    out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
}

/// Builds a fingerprint: a BLAKE3 hash over fields written in a fixed order,
/// each one length-prefixed (and presence-tagged when optional) so that no
/// two different items encode to the same bytes (`["ab"]` vs `["a", "b"]`).
///
/// Only compared with fingerprints of the same item, so the encoding may
/// change between versions: every item then looks changed once.
///
/// The encoding is gathered in a buffer and hashed once: BLAKE3's per-call
/// overhead made a dozen small updates per item cost more than the hashing.
#[derive(Default)]
pub(crate) struct Fingerprint(Vec<u8>);

impl Fingerprint {
    pub(crate) fn str(&mut self, value: &str) -> &mut Self {
        self.0.extend_from_slice(&(value.len() as u64).to_le_bytes());
        self.0.extend_from_slice(value.as_bytes());
        self
    }

    pub(crate) fn opt_str(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            None => {
                self.0.push(0);
            }
            Some(v) => {
                self.0.push(1);
                self.str(v);
            }
        }
        self
    }

    pub(crate) fn date(&mut self, value: Option<DateTime<Utc>>) -> &mut Self {
        match value {
            None => {
                self.0.push(0);
            }
            Some(d) => {
                self.0.push(1);
                self.0.extend_from_slice(&d.timestamp().to_le_bytes());
                self.0.extend_from_slice(&d.timestamp_subsec_nanos().to_le_bytes());
            }
        }
        self
    }

    pub(crate) fn list(&mut self, values: &[String]) -> &mut Self {
        self.0.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for v in values {
            self.str(v);
        }
        self
    }

    /// The first 16 bytes of the hash, in lower-case hex (32 chars).
    pub(crate) fn finish(&self) -> String {
        hex16(blake3::hash(&self.0))
    }
}

/// The guid of an item that has neither a guid nor a link: `hash:` and 32
/// hex chars of BLAKE3 over its title and date, so refetching the same item
/// gives the same guid.
pub(crate) fn content_guid(title: &str, published: Option<DateTime<Utc>>) -> String {
    let mut fp = Fingerprint::default();
    fp.str(title).date(published);
    format!("hash:{}", fp.finish())
}

fn hex16(hash: blake3::Hash) -> String {
    hash.to_hex()[..32].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the algorithm: these values are published and must never change.
    /// They were computed independently of this code (b3sum + Python's uuid).
    #[test]
    fn story_uid_is_pinned() {
        assert_eq!(
            story_uid("https://www.ilo.org/resource/news/ilo-visited-icoops-natural-dream-park-korea"),
            "urn:uuid:51f2aed8-6deb-5474-a5f3-29513d94f4de"
        );
        assert_eq!(story_uid("untfsse#tag:unsse.org,2023:42"), "urn:uuid:4d8b03d6-1d66-5252-89e6-05fac846d5f3");
        assert_eq!(story_uid(""), "urn:uuid:af1349b9-f5f9-51a6-a040-4dea36dcc949");
    }

    #[test]
    fn story_uid_is_a_version_5_rfc4122_uuid() {
        for key in ["a", "b", "https://e.org/x", "é"] {
            let uid = story_uid(key);
            let hex = uid.strip_prefix("urn:uuid:").unwrap();
            let groups: Vec<&str> = hex.split('-').collect();
            assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
            assert!(hex.chars().all(|c| c == '-' || matches!(c, '0'..='9' | 'a'..='f')));
            assert!(groups[2].starts_with('5'), "version: {uid}");
            assert!(groups[3].starts_with(['8', '9', 'a', 'b']), "variant: {uid}");
        }
        assert_ne!(story_uid("a"), story_uid("b"));
        assert_eq!(story_uid("a"), story_uid("a"));
    }

    #[test]
    fn fingerprint_encoding_is_unambiguous() {
        let of_list = |l: &[&str]| {
            let l: Vec<String> = l.iter().map(|s| s.to_string()).collect();
            Fingerprint::default().list(&l).finish()
        };
        assert_ne!(of_list(&["ab"]), of_list(&["a", "b"]));
        assert_ne!(of_list(&[""]), of_list(&[]));
        let a = Fingerprint::default().opt_str(None).opt_str(Some("")).finish();
        let b = Fingerprint::default().opt_str(Some("")).opt_str(None).finish();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn content_guid_is_stable_and_depends_on_both_fields() {
        let date = DateTime::parse_from_rfc3339("2023-07-25T00:00:00Z").unwrap().with_timezone(&Utc);
        let g = content_guid("Title", Some(date));
        assert_eq!(g, content_guid("Title", Some(date)));
        assert!(g.starts_with("hash:") && g.len() == 37);
        assert_ne!(g, content_guid("Title", None));
        assert_ne!(g, content_guid("Title 2", Some(date)));
    }
}
