//! The monitor's moves between the schedule files as one redo journal: the new
//! `booking.csv`, the new `using.csv`, and the rows to append to `used.csv` (with its length
//! before), written atomically before any file changes. Applying it is idempotent, so a tick
//! killed at any point is completed by whoever takes the lock next: no row lost, none
//! duplicated, and the history is never read — only its length.
//!
//! The format (2) is a header of decimal lengths, the three payloads, and an FNV-1a 64-bit
//! checksum of everything before it. Nothing is trusted before the checksum matches, every
//! length is checked against the bytes actually read, and a journal that is damaged, foreign
//! or of the first format is an error naming the file: never applied, never a panic.

use std::path::Path;

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"AIVC-JOURNAL 2\n";
/// The first format, which had no checksum; this version refuses it (docs/decisions.md).
const MAGIC_1: &[u8] = b"AIVC-JOURNAL 1\n";
const SUM_KEY: &[u8] = b"fnv1a64 ";
/// `fnv1a64 ` + 16 hex digits + `\n`.
const TRAILER_LEN: usize = SUM_KEY.len() + 16 + 1;
/// The longest header line: the key and a u64 of 20 digits, with room to spare.
const MAX_HEADER_LINE: usize = 40;

/// The state the three schedule files move to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    pub booking: Vec<u8>,
    pub using: Vec<u8>,
    /// `used.csv`'s length before the append.
    pub used_len: u64,
    /// Bytes appended to `used.csv` (whole lines).
    pub append: Vec<u8>,
}

/// FNV-1a, 64 bits. Written out rather than taken from a crate: eight lines, no dependency,
/// and it only has to catch accidental damage (a torn disk block, an edit, a stray file) —
/// `jobs/` is root's, so whoever could forge a journal could rewrite the schedule directly.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl Journal {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(
            format!(
                "used_len {}\nbooking {}\nusing {}\nappend {}\n",
                self.used_len,
                self.booking.len(),
                self.using.len(),
                self.append.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&self.booking);
        out.extend_from_slice(&self.using);
        out.extend_from_slice(&self.append);
        let sum = fnv1a64(&out);
        out.extend_from_slice(SUM_KEY);
        out.extend_from_slice(format!("{sum:016x}\n").as_bytes());
        out
    }

    /// Reads a journal; `path` is only for messages. Whatever `bytes` hold, the answer is a
    /// journal identical to what [`Journal::to_bytes`] wrote, or an error.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid(
                path,
                None,
                None,
                format!("not a monitor journal: {why}; inspect it, then remove it to go on"),
            )
        };
        if bytes.starts_with(MAGIC_1) {
            return Err(bad(
                "format 1, written by an earlier version of the monitor, which this version does not read (let that version's monitor complete it)",
            ));
        }
        if !bytes.starts_with(MAGIC) {
            return Err(bad("wrong first line"));
        }
        let body_len = bytes
            .len()
            .checked_sub(TRAILER_LEN)
            .filter(|n| *n >= MAGIC.len())
            .ok_or_else(|| bad("cut short"))?;
        let (body, trailer) = bytes.split_at(body_len);
        let sum = trailer
            .strip_prefix(SUM_KEY)
            .and_then(|t| t.strip_suffix(b"\n"))
            .filter(|hex| hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .ok_or_else(|| {
                bad("no checksum line at the end (cut short, or not written by this version)")
            })?;
        if sum != fnv1a64(body) {
            return Err(bad("checksum does not match (damaged)"));
        }

        let mut rest = &body[MAGIC.len()..];
        let mut number = |key: &str| -> Result<u64> {
            let end = rest
                .iter()
                .take(MAX_HEADER_LINE)
                .position(|b| *b == b'\n')
                .ok_or_else(|| bad("header cut short"))?;
            let line = &rest[..end];
            rest = &rest[end + 1..];
            let digits = line
                .strip_prefix(key.as_bytes())
                .and_then(|l| l.strip_prefix(b" "))
                .filter(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit))
                .filter(|d| d.len() == 1 || d[0] != b'0')
                .ok_or_else(|| bad(&format!("expected `{key} N`")))?;
            // Digits only, so this fails only on overflow.
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| bad(&format!("`{key}` is too large")))
        };
        let used_len = number("used_len")?;
        let mut length = |key: &str| {
            usize::try_from(number(key)?).map_err(|_| bad(&format!("`{key}` is too large")))
        };
        let booking = length("booking")?;
        let using = length("using")?;
        let append = length("append")?;
        // The lengths must account for exactly the bytes that were read: no more (a length
        // never makes us reach past the file) and no fewer.
        let total = booking
            .checked_add(using)
            .and_then(|n| n.checked_add(append))
            .ok_or_else(|| bad("lengths too large"))?;
        if total != rest.len() {
            return Err(bad("lengths do not match the file"));
        }
        let (b, rest) = rest.split_at(booking);
        let (u, a) = rest.split_at(using);
        Ok(Journal {
            booking: b.to_vec(),
            using: u.to_vec(),
            used_len,
            append: a.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Journal {
        Journal {
            booking: b"start,end\n".to_vec(),
            using: b"x\ny\n".to_vec(),
            used_len: 77,
            append: b"row\n".to_vec(),
        }
    }

    fn err(bytes: &[u8]) -> String {
        Journal::parse(Path::new("jobs/.monitor-journal"), bytes)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_journal_reads_back_and_refuses_a_cut_one() {
        let j = sample();
        let bytes = j.to_bytes();
        assert_eq!(Journal::parse(Path::new("j"), &bytes).unwrap(), j);
        for n in 0..bytes.len() {
            assert!(Journal::parse(Path::new("j"), &bytes[..n]).is_err(), "{n}");
        }
        assert!(Journal::parse(Path::new("j"), b"hello\n").is_err());
    }

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    /// Before, a payload byte changed on disk was applied as it stood.
    #[test]
    fn any_changed_byte_is_refused() {
        let bytes = sample().to_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x20;
            assert!(Journal::parse(Path::new("j"), &b).is_err(), "byte {i}");
        }
    }

    /// Before, lengths near u64::MAX overflowed their sum (a panic in debug builds).
    #[test]
    fn lengths_that_overflow_or_reach_past_the_file_are_refused_with_the_file_named() {
        let max = u64::MAX;
        for header in [
            format!("used_len 0\nbooking {max}\nusing {max}\nappend 2\n"),
            format!("used_len 0\nbooking {max}\nusing 1\nappend 0\n"),
            "used_len 0\nbooking 99999999999999999999999\nusing 0\nappend 0\n".to_string(),
            "used_len 0\nbooking 100\nusing 0\nappend 0\n".to_string(),
            "used_len 0\nbooking +1\nusing 0\nappend 0\n".to_string(),
            "used_len 0\nbooking 01\nusing 0\nappend 0\n".to_string(),
        ] {
            let mut body = MAGIC.to_vec();
            body.extend_from_slice(header.as_bytes());
            body.extend_from_slice(b"x");
            let sum = fnv1a64(&body);
            body.extend_from_slice(format!("fnv1a64 {sum:016x}\n").as_bytes());
            let e = err(&body);
            assert!(
                e.starts_with("jobs/.monitor-journal: not a monitor journal"),
                "{e}"
            );
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn a_journal_of_the_first_format_is_refused_saying_so() {
        let old = b"AIVC-JOURNAL 1\nused_len 0\nbooking 0\nusing 0\nappend 0\nEND\n";
        let e = err(old);
        assert!(e.contains("format 1"), "{e}");
    }
}
