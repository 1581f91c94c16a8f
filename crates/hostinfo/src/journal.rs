//! The monitor's moves between the schedule files as one redo journal: the new
//! `booking.csv`, the new `using.csv`, and the rows to append to `used.csv` (with its length
//! before), written atomically before any file changes. Applying it is idempotent, so a tick
//! killed at any point is completed by the next one: no row lost, none duplicated, and the
//! history is never read — only its length.

use std::path::Path;

use crate::error::{Error, Result};

const MAGIC: &str = "AIVC-JOURNAL 1";

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

impl Journal {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "{MAGIC}\nused_len {}\nbooking {}\nusing {}\nappend {}\n",
            self.used_len,
            self.booking.len(),
            self.using.len(),
            self.append.len()
        )
        .into_bytes();
        out.extend_from_slice(&self.booking);
        out.extend_from_slice(&self.using);
        out.extend_from_slice(&self.append);
        out.extend_from_slice(b"END\n");
        out
    }

    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid(
                path,
                None,
                None,
                format!("not a monitor journal: {why}; inspect it, then remove it to go on"),
            )
        };
        let mut rest = bytes;
        let mut line = || -> Result<String> {
            let end = rest
                .iter()
                .position(|b| *b == b'\n')
                .ok_or_else(|| bad("header cut short"))?;
            let text = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = &rest[end + 1..];
            Ok(text)
        };
        if line()? != MAGIC {
            return Err(bad("wrong first line"));
        }
        let mut number = |key: &str| -> Result<u64> {
            let l = line()?;
            l.strip_prefix(key)
                .and_then(|n| n.trim().parse().ok())
                .ok_or_else(|| bad(&format!("expected `{key} N`")))
        };
        let used_len = number("used_len")?;
        let lens = [number("booking")?, number("using")?, number("append")?];
        let total: u64 = lens.iter().sum();
        if rest.len() as u64 != total + 4 || &rest[total as usize..] != b"END\n" {
            return Err(bad("length does not match"));
        }
        let (booking, rest) = rest.split_at(lens[0] as usize);
        let (using, rest) = rest.split_at(lens[1] as usize);
        let append = &rest[..lens[2] as usize];
        Ok(Journal {
            booking: booking.to_vec(),
            using: using.to_vec(),
            used_len,
            append: append.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_reads_back_and_refuses_a_cut_one() {
        let j = Journal {
            booking: b"start,end\n".to_vec(),
            using: b"x\ny\n".to_vec(),
            used_len: 77,
            append: b"row\n".to_vec(),
        };
        let bytes = j.to_bytes();
        assert_eq!(Journal::parse(Path::new("j"), &bytes).unwrap(), j);
        assert!(Journal::parse(Path::new("j"), &bytes[..bytes.len() - 2]).is_err());
        assert!(Journal::parse(Path::new("j"), b"hello\n").is_err());
    }
}
