//! The small CSV files of `jobs/` that hold state rather than schedule rows
//! (`auth-failures.csv`, `signup-codes.csv`, `start-failures.csv`): a fixed header, one
//! record a line, every bad line an error naming it.

use std::path::Path;

use crate::error::{Error, Result};

/// Hands each record of a CSV file with exactly `header` to `row`, with its line, in file
/// order: the first bad line, of the file or of `row`'s reading, is the error.
pub(crate) fn each(
    path: &Path,
    text: &str,
    header: &[&str],
    mut row: impl FnMut(usize, Vec<String>) -> Result<()>,
) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let csv_error = |e: csv::Error| {
        let line = e.position().map(|p| p.line() as usize);
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("expected {expected_len} fields, found {len}"),
            _ => e.to_string(),
        };
        Error::invalid(path, line, None, message)
    };
    let found = reader.headers().map_err(csv_error)?.clone();
    if found.iter().ne(header.iter().copied()) {
        return Err(Error::invalid(
            path,
            Some(1),
            None,
            format!("the header must be `{}`", header.join(",")),
        ));
    }
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        row(line, record.iter().map(str::to_string).collect())?;
    }
    Ok(())
}

/// The rows of a CSV file with exactly `header`, each with its line.
pub(crate) fn rows(path: &Path, text: &str, header: &[&str]) -> Result<Vec<(usize, Vec<String>)>> {
    let mut rows = Vec::new();
    each(path, text, header, |line, fields| {
        rows.push((line, fields));
        Ok(())
    })?;
    Ok(rows)
}

pub(crate) fn to_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = writer.write_record(header);
    for row in rows {
        let _ = writer.write_record(&row);
    }
    // Writing into a Vec cannot fail.
    writer.into_inner().unwrap_or_default()
}
