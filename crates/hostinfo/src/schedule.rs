//! The schedule files (`booking.csv`, `using.csv`, `used.csv`; docs/file-formats.md): one row type,
//! a reader that names the line and column of anything wrong, and a writer whose output
//! reads back to the same bytes.

use std::path::Path;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use serde::Serialize;

use crate::error::{Error, Result};

/// The header every schedule file carries, in this order.
pub const HEADER: [&str; 9] = [
    "start",
    "end",
    "user_id",
    "cpus",
    "memory",
    "gpus",
    "forward_port",
    "image",
    "extra_command",
];

/// The header line as written.
pub const HEADER_LINE: &str =
    "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n";

/// The column cluster mode adds after [`HEADER`]: the node a booking runs on
/// (docs/cluster.md). A file without it is in the single-host format, every row on the host.
pub const NODE_COLUMN: &str = "node";

/// The header line of a file that carries the node column.
pub const HEADER_LINE_WITH_NODE: &str =
    "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command,node\n";

/// A set of GPU device ids, kept sorted and without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct GpuSet(Vec<u32>);

impl GpuSet {
    pub fn new(mut ids: Vec<u32>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        GpuSet(ids)
    }
    pub fn ids(&self) -> &[u32] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn contains(&self, id: u32) -> bool {
        self.0.binary_search(&id).is_ok()
    }

    /// Parses the Python list literal of the original: `[]`, `[3]`, `[0, 1]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let inner = text
            .trim()
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .ok_or_else(|| format!("`{text}` is not a list of GPU ids like [] or [0, 1]"))?;
        if inner.trim().is_empty() {
            return Ok(GpuSet::default());
        }
        let mut ids = Vec::new();
        for part in inner.split(',') {
            let part = part.trim();
            let id: u32 = part
                .parse()
                .map_err(|_| format!("`{part}` in `{text}` is not a GPU id (a whole number)"))?;
            if ids.contains(&id) {
                return Err(format!("GPU {id} appears twice in `{text}`"));
            }
            ids.push(id);
        }
        Ok(GpuSet::new(ids))
    }
}

impl std::fmt::Display for GpuSet {
    /// The original's list literal: `[0, 1]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[")?;
        for (i, id) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{id}")?;
        }
        f.write_str("]")
    }
}

/// One booking, as a row of any of the three schedule files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Wall-clock time in the host's zone; the interval is `[start, end)`.
    #[serde(serialize_with = "ser_time")]
    pub start: NaiveDateTime,
    #[serde(serialize_with = "ser_time")]
    pub end: NaiveDateTime,
    pub user_id: String,
    pub cpus: f64,
    /// GB.
    pub memory: u32,
    pub gpus: GpuSet,
    pub forward_port: u16,
    pub image: Option<String>,
    pub extra_command: Option<String>,
    /// The cluster node it runs on (cluster mode); `None` on a single host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

fn ser_time<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

impl Row {
    /// Whether `[start, end)` of the two rows share an instant (touching does not).
    pub fn overlaps(&self, start: NaiveDateTime, end: NaiveDateTime) -> bool {
        self.start < end && start < self.end
    }
}

/// A schedule file as read: the rows and, for each, the line it started on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedule {
    pub rows: Vec<Row>,
    pub lines: Vec<u64>,
}

/// The least a booking may take: a container with less than one cpu or one GB of memory is
/// not a booking the tools make, and docker would start it starved or not at all.
pub const MIN_CPUS: f64 = 1.0;
pub const MIN_MEMORY_GB: u32 = 1;

/// Why a row must not be started: what `checker` reports and the monitor logs instead.
/// `booking` never writes such a row; a hand edit or another tool can.
#[derive(Debug, Clone, PartialEq)]
pub enum RowProblem {
    /// `start` or `end` off :00 / :30.
    OffGrid {
        column: &'static str,
        at: NaiveDateTime,
    },
    /// `end <= start`.
    BadWindow {
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
    /// Longer than [`crate::clock::HORIZON_DAYS`] days.
    TooLong {
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
    /// `cpus` below [`MIN_CPUS`] or `memory` below [`MIN_MEMORY_GB`].
    BelowMinimum { column: &'static str, value: f64 },
}

impl RowProblem {
    /// The stable problem code of `checker --json`.
    pub fn code(&self) -> &'static str {
        match self {
            RowProblem::OffGrid { .. } => "off_grid",
            RowProblem::BadWindow { .. } => "bad_window",
            RowProblem::TooLong { .. } => "too_long",
            RowProblem::BelowMinimum { .. } => "below_minimum",
        }
    }

    /// The column the problem is about.
    pub fn column(&self) -> &'static str {
        match self {
            RowProblem::OffGrid { column, .. } | RowProblem::BelowMinimum { column, .. } => column,
            RowProblem::BadWindow { .. } | RowProblem::TooLong { .. } => "end",
        }
    }
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowProblem::OffGrid { at, .. } => write!(
                f,
                "{} is not on the 30-minute grid (:00 or :30)",
                format_time(*at)
            ),
            RowProblem::BadWindow { start, end } => write!(
                f,
                "ends at {}, not after its start {}",
                format_time(*end),
                format_time(*start)
            ),
            RowProblem::TooLong { start, end } => write!(
                f,
                "lasts from {} to {}, longer than the {} days a booking may",
                format_time(*start),
                format_time(*end),
                crate::clock::HORIZON_DAYS
            ),
            RowProblem::BelowMinimum { column, value } => {
                write!(f, "{column} {value} is below the minimum of 1")
            }
        }
    }
}

/// Everything wrong with `row` as a booking to start, in column order; empty for a sound
/// row.
pub fn row_problems(row: &Row) -> Vec<RowProblem> {
    let mut found = Vec::new();
    for (column, at) in [("start", row.start), ("end", row.end)] {
        if !crate::clock::is_on_grid(at) {
            found.push(RowProblem::OffGrid { column, at });
        }
    }
    let (start, end) = (row.start, row.end);
    if end <= start {
        found.push(RowProblem::BadWindow { start, end });
    } else if end - start > chrono::Duration::days(crate::clock::HORIZON_DAYS) {
        found.push(RowProblem::TooLong { start, end });
    }
    // NaN counts as below too: the reader never yields it, but a Row built in code may.
    if row.cpus < MIN_CPUS || row.cpus.is_nan() {
        found.push(RowProblem::BelowMinimum {
            column: "cpus",
            value: row.cpus,
        });
    }
    if row.memory < MIN_MEMORY_GB {
        found.push(RowProblem::BelowMinimum {
            column: "memory",
            value: f64::from(row.memory),
        });
    }
    found
}

impl Schedule {
    /// Checks every row with [`row_problems`]; the first problem is an error naming its line
    /// and column. For `booking.csv` and `using.csv`, whose rows the monitor starts (the
    /// history is only read).
    pub fn check_rows(&self, path: &Path) -> Result<()> {
        for (row, line) in self.rows.iter().zip(&self.lines) {
            if let Some(problem) = row_problems(row).into_iter().next() {
                return Err(Error::invalid(
                    path,
                    Some(*line as usize),
                    Some(problem.column().into()),
                    format!("{problem}; the monitor will not start this booking"),
                ));
            }
        }
        Ok(())
    }

    /// Checks that every row lies on the 30-minute grid; the first that does not is an
    /// error naming its line and column. The booking and monitor tools refuse such files.
    pub fn check_grid(&self, path: &Path) -> Result<()> {
        for (row, line) in self.rows.iter().zip(&self.lines) {
            for (column, t) in [("start", row.start), ("end", row.end)] {
                if !crate::clock::is_on_grid(t) {
                    return Err(Error::invalid(
                        path,
                        Some(*line as usize),
                        Some(column.into()),
                        format!(
                            "{} is not on the 30-minute grid (:00 or :30)",
                            format_time(t)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `YYYY-MM-DD HH:MM:SS`, the form the schedule files use.
pub fn format_time(t: NaiveDateTime) -> String {
    let mut s = String::with_capacity(19);
    push_time(&mut s, t);
    s
}

fn push_time(s: &mut String, t: NaiveDateTime) {
    // Hot in reports and rewrites of large schedules: digits by hand, no format machinery.
    let year = t.year();
    if !(0..=9999).contains(&year) {
        use std::fmt::Write;
        let _ = write!(s, "{}", t.format("%Y-%m-%d %H:%M:%S"));
        return;
    }
    let two = |s: &mut String, n: u32| {
        s.push(char::from(b'0' + (n / 10) as u8));
        s.push(char::from(b'0' + (n % 10) as u8));
    };
    let year = year as u32;
    two(s, year / 100);
    two(s, year % 100);
    s.push('-');
    two(s, t.month());
    s.push('-');
    two(s, t.day());
    s.push(' ');
    two(s, t.hour());
    s.push(':');
    two(s, t.minute());
    s.push(':');
    two(s, t.second());
}

/// Parses `YYYY-MM-DD HH:MM:SS` with an optional `.ffffff` fraction.
pub fn parse_time(text: &str) -> Result<NaiveDateTime, String> {
    let bad = || format!("`{text}` is not a time like 2026-01-31 13:30:00");
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let mut digits_ok = true;
    let mut num = |from: usize, to: usize| -> u32 {
        let mut n = 0u32;
        for &d in &b[from..to] {
            if !d.is_ascii_digit() {
                digits_ok = false;
                return 0;
            }
            n = n * 10 + u32::from(d - b'0');
        }
        n
    };
    let (year, month, day) = (num(0, 4), num(5, 7), num(8, 10));
    let (hour, minute, second) = (num(11, 13), num(14, 16), num(17, 19));
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            num(20, b.len()) * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return Err(bad()),
    };
    if !digits_ok {
        return Err(bad());
    }
    NaiveDate::from_ymd_opt(year as i32, month, day)
        .and_then(|d| d.and_hms_nano_opt(hour, minute, second, nanos))
        .ok_or_else(|| format!("`{text}` is not a real date and time"))
}

/// Formats cpus as the original does: `4.0`, `2.5`.
fn push_cpus(s: &mut String, cpus: f64) {
    use std::fmt::Write;
    if cpus.fract() == 0.0 && cpus.abs() < 1e15 {
        let _ = write!(s, "{cpus:.1}");
    } else {
        let _ = write!(s, "{cpus}");
    }
}

/// Reads a schedule file. Times off the grid are read (the checker reports them); use
/// [`Schedule::check_grid`] where they must be refused.
pub fn read(path: &Path) -> Result<Schedule> {
    let bytes = crate::error::read_text(path)?;
    parse(path, bytes.as_bytes())
}

/// Parses the bytes of a schedule file; `path` is only for messages.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Schedule> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|e| csv_error(path, &e))?
        .clone();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(Error::invalid(
            path,
            Some(1),
            None,
            format!("missing the header line `{}`", HEADER_LINE.trim_end()),
        ));
    }
    // Where each of our columns sits in this file; the node column is optional.
    let mut index = [usize::MAX; 9];
    let mut node_index = None;
    for (i, name) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(name);
        if name == NODE_COLUMN {
            if node_index.replace(i).is_some() {
                return Err(Error::invalid(
                    path,
                    Some(1),
                    Some(name.into()),
                    "column appears twice",
                ));
            }
            continue;
        }
        match HEADER.iter().position(|h| *h == name) {
            Some(k) if index[k] == usize::MAX => index[k] = i,
            Some(_) => {
                return Err(Error::invalid(
                    path,
                    Some(1),
                    Some(name.into()),
                    "column appears twice",
                ))
            }
            None => {
                return Err(Error::invalid(
                    path,
                    Some(1),
                    Some(name.into()),
                    format!("unknown column; the header is `{}`", HEADER_LINE.trim_end()),
                ))
            }
        }
    }
    if let Some(k) = index.iter().position(|&i| i == usize::MAX) {
        return Err(Error::invalid(
            path,
            Some(1),
            Some(HEADER[k].into()),
            format!("missing column; the header is `{}`", HEADER_LINE.trim_end()),
        ));
    }
    // The csv reader takes a quote that is never closed to run to the end of the file: the
    // rest of the file, and any row appended later, would silently become one field.
    if let Some((line, field)) = unclosed_quote(bytes) {
        let column = header
            .get(field)
            .map(|h| String::from_utf8_lossy(h).into_owned());
        return Err(Error::invalid(path, Some(line as usize), column, UNCLOSED));
    }

    let mut schedule = Schedule::default();
    // One UTF-8 check per record (StringRecord), not one per field.
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, &e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        let field = |k: usize| -> &str { &record[index[k]] };
        let fail = |k: usize, message: String| {
            Error::invalid(path, Some(line as usize), Some(HEADER[k].into()), message)
        };
        let required = |k: usize| -> Result<&str> {
            let value = field(k);
            if value.trim().is_empty() {
                return Err(fail(k, "empty, but a value is required".into()));
            }
            Ok(value)
        };
        let optional = |k: usize| -> Result<Option<String>> {
            let value = field(k);
            Ok((!value.is_empty()).then(|| value.to_string()))
        };
        let start = parse_time(required(0)?).map_err(|m| fail(0, m))?;
        let end = parse_time(required(1)?).map_err(|m| fail(1, m))?;
        let user_id = required(2)?.to_string();
        let cpus_text = required(3)?;
        let cpus: f64 = cpus_text
            .trim()
            .parse()
            .ok()
            .filter(|c: &f64| c.is_finite() && *c >= 0.0)
            .ok_or_else(|| fail(3, format!("`{cpus_text}` is not a number of cpus")))?;
        let memory_text = required(4)?;
        let memory: u32 = parse_whole(memory_text)
            .ok_or_else(|| fail(4, format!("`{memory_text}` is not a whole number of GB")))?;
        let gpus = GpuSet::parse(required(5)?).map_err(|m| fail(5, m))?;
        let port_text = required(6)?;
        let forward_port: u16 = parse_whole(port_text)
            .ok_or_else(|| fail(6, format!("`{port_text}` is not a port number")))?;
        let node = match node_index.map(|i| &record[i]) {
            None | Some("") => None,
            Some(name) if crate::cluster::is_node_name(name) => Some(name.to_string()),
            Some(name) => {
                return Err(Error::invalid(
                    path,
                    Some(line as usize),
                    Some(NODE_COLUMN.into()),
                    format!(
                        "`{}` is not a node name (letters, digits, `-` and `_`)",
                        name.escape_debug()
                    ),
                ))
            }
        };
        schedule.rows.push(Row {
            start,
            end,
            user_id,
            cpus,
            memory,
            gpus,
            forward_port,
            image: optional(7)?,
            extra_command: optional(8)?,
            node,
        });
        schedule.lines.push(line);
    }
    Ok(schedule)
}

const UNCLOSED: &str =
    "a quoted field starts here and is never closed (a `\"` without its closing `\"`)";

/// Where a quoted field opens that the text never closes: its line (1-based) and the index
/// of its field in the record. Follows the csv crate's reader: a `"` opens a quoted field
/// only at the start of a field, `""` inside one is a quote, records end at `\n` or `\r`.
pub fn unclosed_quote(bytes: &[u8]) -> Option<(u64, usize)> {
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    if !bytes.contains(&b'"') {
        return None;
    }
    let (mut state, mut line, mut field, mut opened) = (State::FieldStart, 1u64, 0usize, (0, 0));
    for &b in bytes {
        if b == b'\n' {
            line += 1;
        }
        state = match (state, b) {
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::FieldStart, b'"') => {
                opened = (line, field);
                State::Quoted
            }
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (_, b',') => {
                field += 1;
                State::FieldStart
            }
            (_, b'\n' | b'\r') => {
                field = 0;
                State::FieldStart
            }
            _ => State::Unquoted,
        };
    }
    (state == State::Quoted).then_some(opened)
}

/// Refuses to append to `bytes` (a schedule file) when its last field is an open quote:
/// the appended row would become part of that field instead of a row of its own.
pub fn check_appendable(path: &Path, bytes: &[u8]) -> Result<()> {
    match unclosed_quote(bytes) {
        Some((line, _)) => Err(Error::invalid(
            path,
            Some(line as usize),
            None,
            format!("{UNCLOSED}; nothing is appended to it"),
        )),
        None => Ok(()),
    }
}

/// A whole number, also as pandas writes integers that passed through a float (`16.0`).
fn parse_whole<T: TryFrom<u64>>(text: &str) -> Option<T> {
    let text = text.trim();
    let digits = text.strip_suffix(".0").unwrap_or(text);
    digits.parse::<u64>().ok().and_then(|n| T::try_from(n).ok())
}

fn csv_error(path: &Path, e: &csv::Error) -> Error {
    let line = e.position().map(|p| p.line() as usize);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("expected {expected_len} fields, found {len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
        _ => e.to_string(),
    };
    Error::invalid(path, line, None, message)
}

/// Whether rows written for `rows` carry the node column: when any of them has a node.
pub fn needs_node_column(rows: &[Row]) -> bool {
    rows.iter().any(|r| r.node.is_some())
}

/// Whether a schedule file's bytes begin with a header that has the node column.
pub fn has_node_column(bytes: &[u8]) -> bool {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    first
        .split(|&b| b == b',')
        .any(|name| name == NODE_COLUMN.as_bytes())
}

/// The bytes of a schedule file holding `rows`, header first: the single-host header, or
/// the one with the node column when a row has a node.
pub fn to_bytes(rows: &[Row]) -> Vec<u8> {
    let with_node = needs_node_column(rows);
    let header = if with_node {
        HEADER_LINE_WITH_NODE
    } else {
        HEADER_LINE
    };
    let mut out = Vec::with_capacity(header.len() + rows.len() * 64);
    out.extend_from_slice(header.as_bytes());
    append_rows_with(&mut out, rows, with_node);
    out
}

/// Appends the CSV lines of `rows` (no header) to `out`, in the single-host columns, or with
/// the node column when a row has a node. See [`append_rows_with`].
pub fn append_rows_to(out: &mut Vec<u8>, rows: &[Row]) {
    append_rows_with(out, rows, needs_node_column(rows));
}

/// Appends the CSV lines of `rows` (no header) to `out`, with the node column when
/// `with_node` (empty for a row without one). Quoting follows the csv crate's
/// `Necessary` style (and Python's `QUOTE_MINIMAL`): a field is quoted when it holds a
/// comma, a quote or a line break, with quotes doubled.
pub fn append_rows_with(out: &mut Vec<u8>, rows: &[Row], with_node: bool) {
    let mut cell = String::with_capacity(32);
    for row in rows {
        cell.clear();
        push_time(&mut cell, row.start);
        cell.push(',');
        push_time(&mut cell, row.end);
        cell.push(',');
        out.extend_from_slice(cell.as_bytes());
        push_field(out, &row.user_id);
        cell.clear();
        cell.push(',');
        push_cpus(&mut cell, row.cpus);
        {
            use std::fmt::Write;
            let _ = write!(cell, ",{},", row.memory);
        }
        out.extend_from_slice(cell.as_bytes());
        cell.clear();
        {
            use std::fmt::Write;
            let _ = write!(cell, "{}", row.gpus);
        }
        push_field(out, &cell);
        cell.clear();
        {
            use std::fmt::Write;
            let _ = write!(cell, ",{},", row.forward_port);
        }
        out.extend_from_slice(cell.as_bytes());
        push_field(out, row.image.as_deref().unwrap_or(""));
        out.push(b',');
        push_field(out, row.extra_command.as_deref().unwrap_or(""));
        if with_node {
            out.push(b',');
            push_field(out, row.node.as_deref().unwrap_or(""));
        }
        out.push(b'\n');
    }
}

fn push_field(out: &mut Vec<u8>, text: &str) {
    if text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push(b'"');
        for b in text.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_literals_of_the_original_parse_and_print_back() {
        for text in ["[]", "[3]", "[0, 1]", "[2, 5, 7]"] {
            assert_eq!(GpuSet::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(GpuSet::parse("[1,0]").unwrap().ids(), [0, 1]);
    }

    #[test]
    fn refuses_bad_gpu_literals() {
        for text in ["", "0,1", "[a]", "[-1]", "[0, 0]", "[0,]", "[[0]]"] {
            assert!(GpuSet::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn times_read_with_or_without_a_fraction() {
        let t = parse_time("2026-11-23 09:00:00").unwrap();
        assert_eq!(parse_time("2026-11-23 09:00:00.000000").unwrap(), t);
        assert_eq!(format_time(t), "2026-11-23 09:00:00");
        assert!(parse_time("2026-02-30 09:00:00").is_err());
        assert!(parse_time("2026-11-23T09:00:00").is_err());
        assert!(parse_time("2026-11-23 09:00").is_err());
    }

    /// Regression (found by the long fuzz run): nine non-digits after the dot overflowed
    /// the digit accumulator and panicked in debug builds.
    #[test]
    fn a_fraction_of_non_digits_is_an_error_not_a_panic() {
        assert!(parse_time("2026-11-23 09:00:00.zzzzzzzzz").is_err());
        assert!(parse_time("2026-11-23 09:00:00.999999999").is_ok());
    }

    #[test]
    fn a_row_with_quotes_and_commas_in_the_command_round_trips() {
        let text = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n2026-11-23 09:00:00,2026-11-23 11:00:00,u1,2.5,16,\"[0, 1]\",10004,img:1,\"echo \"\"a, b\"\"\"\n";
        let s = parse(Path::new("b.csv"), text.as_bytes()).unwrap();
        assert_eq!(s.rows[0].extra_command.as_deref(), Some("echo \"a, b\""));
        assert_eq!(s.lines, [2]);
        assert_eq!(String::from_utf8(to_bytes(&s.rows)).unwrap(), text);
    }

    const BROKEN: &str = "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command\n2026-11-23 09:00:00,2026-11-23 11:00:00,u1,2.0,16,[],10004,,ok\n2026-11-23 09:00:00,2026-11-23 11:00:00,u2,2.0,16,[],10005,,\"echo open\n";

    fn row(start: &str, end: &str, cpus: f64, memory: u32) -> Row {
        Row {
            start: parse_time(start).unwrap(),
            end: parse_time(end).unwrap(),
            user_id: "u1".into(),
            cpus,
            memory,
            gpus: GpuSet::default(),
            forward_port: 10001,
            image: None,
            extra_command: None,
            node: None,
        }
    }

    /// Regression: the csv reader took a quote that is never closed to run to the end of the
    /// file; `checker validate` passed it, and the next booking appended became part of
    /// that field instead of a row.
    #[test]
    fn an_unterminated_quote_is_refused_naming_line_and_column() {
        let e = parse(Path::new("b.csv"), BROKEN.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "b.csv:3: extra_command: a quoted field starts here and is never closed (a `\"` without its closing `\"`)"
        );
        // Quotes that close, doubled quotes and a literal quote inside a field are fine.
        let fine = BROKEN.replace("\"echo open\n", "\"echo \"\"a,\nb\"\"\"\n");
        assert_eq!(
            parse(Path::new("b.csv"), fine.as_bytes())
                .unwrap()
                .rows
                .len(),
            2
        );
        assert_eq!(unclosed_quote(b"a,b\"c,d\n"), None);
        assert_eq!(unclosed_quote(b"a,\"b\"\"\n"), Some((1, 1)));
    }

    #[test]
    fn nothing_is_appended_onto_an_open_quote() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("jobs")).unwrap();
        let path = dir.path().join("jobs/booking.csv");
        std::fs::write(&path, BROKEN).unwrap();
        let root = crate::Root::at(dir.path());
        let lock = root.lock_exclusive("test").unwrap();
        let new = row("2026-11-24 09:00:00", "2026-11-24 10:00:00", 1.0, 1);
        let e = root
            .add_rows(crate::LiveTable::Booking, &[new], &lock)
            .unwrap_err();
        assert!(
            e.to_string().ends_with("booking.csv:3: a quoted field starts here and is never closed (a `\"` without its closing `\"`); nothing is appended to it"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), BROKEN);
    }

    #[test]
    fn rows_below_the_minimums_backwards_off_grid_or_too_long_are_named() {
        let problems = |start, end, cpus, memory| -> Vec<String> {
            row_problems(&row(start, end, cpus, memory))
                .iter()
                .map(|p| format!("{} {}: {p}", p.code(), p.column()))
                .collect()
        };
        let (a, b) = ("2026-11-23 09:00:00", "2026-11-23 11:00:00");
        assert!(problems(a, b, 1.0, 1).is_empty());
        assert!(
            problems(a, "2026-12-07 09:00:00", 64.0, 512).is_empty(),
            "14 days exactly"
        );
        assert_eq!(
            problems(a, b, 0.5, 0),
            [
                "below_minimum cpus: cpus 0.5 is below the minimum of 1",
                "below_minimum memory: memory 0 is below the minimum of 1"
            ]
        );
        assert_eq!(
            problems(a, a, 1.0, 1),
            ["bad_window end: ends at 2026-11-23 09:00:00, not after its start 2026-11-23 09:00:00"]
        );
        assert_eq!(
            problems(a, "2026-12-07 09:30:00", 1.0, 1),
            ["too_long end: lasts from 2026-11-23 09:00:00 to 2026-12-07 09:30:00, longer than the 14 days a booking may"]
        );
        assert_eq!(
            problems("2026-11-23 09:15:00", b, 1.0, 1),
            ["off_grid start: 2026-11-23 09:15:00 is not on the 30-minute grid (:00 or :30)"]
        );
        let s = Schedule {
            rows: vec![row(a, b, 1.0, 1), row(a, b, 0.0, 1)],
            lines: vec![2, 3],
        };
        assert_eq!(
            s.check_rows(Path::new("b.csv")).unwrap_err().to_string(),
            "b.csv:3: cpus: cpus 0 is below the minimum of 1; the monitor will not start this booking"
        );
    }

    #[test]
    fn columns_in_another_order_are_read_by_name() {
        let text = "user_id,start,end,cpus,memory,gpus,forward_port,image,extra_command\nu1,2026-11-23 09:00:00,2026-11-23 11:00:00,1.0,1,[],10001,,\n";
        let s = parse(Path::new("b.csv"), text.as_bytes()).unwrap();
        assert_eq!(s.rows[0].user_id, "u1");
    }
}
