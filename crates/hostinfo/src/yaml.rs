//! Shared YAML plumbing: the size and nesting bounds every `cfg/` file is held to before the
//! YAML parser sees it, serde errors turned into file/line/key errors, scalars read as
//! written, and maps that keep their order.

use std::path::Path;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The largest YAML file read from `cfg/`: the real ones are a few KiB; a users file of a
/// thousand users is about 300 KiB.
pub const MAX_YAML_BYTES: usize = 1 << 20;

/// The deepest a YAML file may nest (block collections and flow `[`/`{` together); ours
/// need 3. libyaml spends time quadratic in the depth of `[[[[...` (256 KiB of them took
/// 113 s), and serde_yaml only counts levels after libyaml has read the whole file.
pub const MAX_YAML_NESTING: usize = 64;

/// Parses a YAML document; an empty document (or one of comments only) is `None`.
pub(crate) fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<Option<T>> {
    check_bounds(path, text)?;
    serde_yaml::from_str::<Option<T>>(text).map_err(|e| from_serde(path, &e))
}

/// Refuses text over [`MAX_YAML_BYTES`] or nesting deeper than [`MAX_YAML_NESTING`], in
/// time linear in its length, before serde_yaml sees it.
pub(crate) fn check_bounds(path: &Path, text: &str) -> Result<()> {
    if text.len() > MAX_YAML_BYTES {
        return Err(too_large(path, text.len() as u64));
    }
    if let Err(line) = nesting(text, MAX_YAML_NESTING) {
        return Err(Error::invalid(
            path,
            Some(line),
            None,
            format!("nests deeper than {MAX_YAML_NESTING} levels (indentation and `[`/`{{` together); a configuration file needs a handful"),
        ));
    }
    Ok(())
}

/// [`read`] of an optional file: `None` when it is missing.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>> {
    match read(path) {
        Ok(text) => Ok(Some(text)),
        Err(Error::Missing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads a `cfg/` YAML file, at most [`MAX_YAML_BYTES`] of it: a larger one is refused
/// without being read whole.
pub(crate) fn read(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| crate::error::read_error(path, e))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::new();
    file.take(MAX_YAML_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| crate::error::read_error(path, e))?;
    if bytes.len() > MAX_YAML_BYTES {
        return Err(too_large(path, len.max(bytes.len() as u64)));
    }
    String::from_utf8(bytes).map_err(|_| Error::Read {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ),
    })
}

fn too_large(path: &Path, len: u64) -> Error {
    Error::invalid(
        path,
        None,
        None,
        format!(
            "is {len} bytes, more than the {MAX_YAML_BYTES} (1 MiB) a configuration file may hold"
        ),
    )
}

/// How deep `text` nests as serde_yaml's scanner (libyaml) reads it: `Ok(deepest)`, or
/// `Err(line)` (1-based) where it first nests deeper than `limit`.
///
/// A count of brackets is not enough: a quote, a comment or a block scalar decides whether
/// a `[` opens anything, and a bound fooled by a stray quote would let the quadratic case
/// through. So this follows libyaml's scanner token by token (`scanner.rs` of
/// unsafe-libyaml 0.2: the same indentation stack, simple keys and scalar ends), keeping
/// only what decides nesting. Where libyaml would stop with an error this reading goes on
/// as if it had not: libyaml does no more work there, so going on can only overstate.
pub fn nesting(text: &str, limit: usize) -> Result<usize, usize> {
    let mut s = Scan {
        b: text.as_bytes(),
        pos: 0,
        line: 0,
        column: 0,
        flow: 0,
        indent: -1,
        indents: Vec::new(),
        allowed: true,
        keys: vec![Key::NONE],
        deepest: 0,
        limit,
    };
    s.run().map(|()| s.deepest)
}

/// A place where a simple key (`key:` without `?`) may begin: libyaml's `yaml_simple_key_t`.
#[derive(Debug, Clone, Copy)]
struct Key {
    possible: bool,
    line: usize,
    index: usize,
    column: isize,
}

impl Key {
    const NONE: Key = Key {
        possible: false,
        line: 0,
        index: 0,
        column: 0,
    };
}

/// libyaml's scanner state, less the tokens: byte position (libyaml's `mark.index`), line
/// and column (in characters), flow level, block indentation stack.
struct Scan<'t> {
    b: &'t [u8],
    pos: usize,
    line: usize,
    column: isize,
    flow: usize,
    indent: isize,
    indents: Vec<isize>,
    allowed: bool,
    keys: Vec<Key>,
    deepest: usize,
    limit: usize,
}

impl Scan<'_> {
    /// The byte `k` ahead; 0 past the end (libyaml's buffer ends in NUL, and a NUL inside
    /// the text is a reader error that stops libyaml there).
    fn at(&self, k: usize) -> u8 {
        self.b.get(self.pos + k).copied().unwrap_or(0)
    }
    fn z(&self, k: usize) -> bool {
        self.at(k) == 0
    }
    fn blank(&self, k: usize) -> bool {
        matches!(self.at(k), b' ' | b'\t')
    }
    fn brk(&self, k: usize) -> bool {
        match self.at(k) {
            b'\r' | b'\n' => true,
            0xC2 => self.at(k + 1) == 0x85,
            0xE2 => self.at(k + 1) == 0x80 && matches!(self.at(k + 2), 0xA8 | 0xA9),
            _ => false,
        }
    }
    fn breakz(&self, k: usize) -> bool {
        self.brk(k) || self.z(k)
    }
    fn blankz(&self, k: usize) -> bool {
        self.blank(k) || self.breakz(k)
    }
    fn alpha(&self, k: usize) -> bool {
        let c = self.at(k);
        c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
    }
    fn skip(&mut self) {
        if self.pos >= self.b.len() {
            return;
        }
        let c = self.b[self.pos];
        let width = match c {
            _ if c < 0x80 => 1,
            _ if c & 0xE0 == 0xC0 => 2,
            _ if c & 0xF0 == 0xE0 => 3,
            _ => 4,
        };
        self.pos = (self.pos + width).min(self.b.len());
        self.column += 1;
    }
    fn skip_line(&mut self) {
        if self.at(0) == b'\r' && self.at(1) == b'\n' {
            self.pos += 2;
        } else if self.brk(0) {
            self.skip();
        } else {
            return;
        }
        self.column = 0;
        self.line += 1;
    }
    fn document_marker(&self) -> bool {
        self.column == 0
            && ((self.at(0) == b'-' && self.at(1) == b'-' && self.at(2) == b'-')
                || (self.at(0) == b'.' && self.at(1) == b'.' && self.at(2) == b'.'))
            && self.blankz(3)
    }

    fn deeper(&mut self) -> Result<(), usize> {
        let depth = self.indents.len() + self.flow;
        self.deepest = self.deepest.max(depth);
        if depth > self.limit {
            return Err(self.line + 1);
        }
        Ok(())
    }
    fn roll(&mut self, column: isize) -> Result<(), usize> {
        if self.flow == 0 && self.indent < column {
            self.indents.push(self.indent);
            self.indent = column;
            self.deeper()?;
        }
        Ok(())
    }
    fn unroll(&mut self, column: isize) {
        if self.flow == 0 {
            while self.indent > column {
                self.indent = self.indents.pop().unwrap_or(-1);
            }
        }
    }
    fn top(&mut self) -> &mut Key {
        if self.keys.is_empty() {
            self.keys.push(Key::NONE);
        }
        let last = self.keys.len() - 1;
        &mut self.keys[last]
    }
    fn save_key(&mut self) {
        if self.allowed {
            *self.top() = Key {
                possible: true,
                line: self.line,
                index: self.pos,
                column: self.column,
            };
        }
    }
    fn remove_key(&mut self) {
        self.top().possible = false;
    }
    fn stale_keys(&mut self) {
        let (line, pos) = (self.line, self.pos);
        for key in &mut self.keys {
            if key.possible && (key.line < line || key.index + 1024 < pos) {
                key.possible = false;
            }
        }
    }

    fn run(&mut self) -> Result<(), usize> {
        loop {
            let before = self.pos;
            self.skip_to_next_token();
            self.stale_keys();
            self.unroll(self.column);
            if self.z(0) {
                return Ok(());
            }
            let c = self.at(0);
            let flow = self.flow > 0;
            if self.column == 0 && c == b'%' {
                // A directive takes its line.
                self.unroll(-1);
                self.remove_key();
                self.allowed = false;
                while !self.breakz(0) {
                    self.skip();
                }
                self.skip_line();
            } else if self.document_marker() {
                self.unroll(-1);
                self.remove_key();
                self.allowed = false;
                for _ in 0..3 {
                    self.skip();
                }
            } else if c == b'[' || c == b'{' {
                self.save_key();
                self.flow += 1;
                self.keys.push(Key::NONE);
                self.allowed = true;
                self.skip();
                self.deeper()?;
            } else if c == b']' || c == b'}' {
                self.remove_key();
                if self.flow > 0 {
                    self.flow -= 1;
                    self.keys.pop();
                }
                self.allowed = false;
                self.skip();
            } else if c == b',' {
                self.remove_key();
                self.allowed = true;
                self.skip();
            } else if c == b'-' && self.blankz(1) {
                self.roll(self.column)?;
                self.remove_key();
                self.allowed = true;
                self.skip();
            } else if c == b'?' && (flow || self.blankz(1)) {
                self.roll(self.column)?;
                self.remove_key();
                self.allowed = !flow;
                self.skip();
            } else if c == b':' && (flow || self.blankz(1)) {
                let key = *self.top();
                if key.possible {
                    self.roll(key.column)?;
                    self.top().possible = false;
                    self.allowed = false;
                } else {
                    self.roll(self.column)?;
                    self.allowed = !flow;
                }
                self.skip();
            } else if c == b'*' || c == b'&' {
                self.save_key();
                self.allowed = false;
                self.skip();
                while self.alpha(0) {
                    self.skip();
                }
            } else if c == b'!' {
                self.save_key();
                self.allowed = false;
                self.tag();
            } else if (c == b'|' || c == b'>') && !flow {
                self.remove_key();
                self.allowed = true;
                self.block_scalar();
            } else if c == b'\'' || c == b'"' {
                self.save_key();
                self.allowed = false;
                self.quoted(c);
            } else if self.plain_start() {
                self.save_key();
                self.allowed = false;
                self.plain();
            } else {
                // libyaml: "found character that cannot start any token".
                self.skip();
            }
            if self.pos == before {
                self.skip();
            }
        }
    }

    fn skip_to_next_token(&mut self) {
        loop {
            if self.column == 0 && self.at(0) == 0xEF && self.at(1) == 0xBB && self.at(2) == 0xBF {
                self.skip();
            }
            while self.at(0) == b' ' || ((self.flow > 0 || !self.allowed) && self.at(0) == b'\t') {
                self.skip();
            }
            if self.at(0) == b'#' {
                while !self.breakz(0) {
                    self.skip();
                }
            }
            if !self.brk(0) {
                return;
            }
            self.skip_line();
            if self.flow == 0 {
                self.allowed = true;
            }
        }
    }

    fn plain_start(&self) -> bool {
        let c = self.at(0);
        !(self.blankz(0) || b"-?:,[]{}#&*!|>'\"%@`".contains(&c))
            || (c == b'-' && !self.blank(1))
            || (self.flow == 0 && (c == b'?' || c == b':') && !self.blankz(1))
    }

    fn tag(&mut self) {
        let verbatim = self.at(1) == b'<';
        self.skip();
        if verbatim {
            self.skip();
        }
        while self.alpha(0)
            || b";/?:@&=+$.%!~*'()".contains(&self.at(0)) && !self.z(0)
            || (verbatim && b",[]".contains(&self.at(0)) && !self.z(0))
        {
            self.skip();
        }
        if verbatim && self.at(0) == b'>' {
            self.skip();
        }
    }

    fn block_scalar(&mut self) {
        self.skip();
        let mut increment: isize = 0;
        if matches!(self.at(0), b'+' | b'-') {
            self.skip();
            if self.at(0).is_ascii_digit() {
                increment = isize::from(self.at(0) - b'0');
                self.skip();
            }
        } else if self.at(0).is_ascii_digit() {
            increment = isize::from(self.at(0) - b'0');
            self.skip();
            if matches!(self.at(0), b'+' | b'-') {
                self.skip();
            }
        }
        while self.blank(0) {
            self.skip();
        }
        if self.at(0) == b'#' {
            while !self.breakz(0) {
                self.skip();
            }
        }
        if !self.breakz(0) {
            // libyaml: "did not find expected comment or line break"; read on as tokens.
            return;
        }
        self.skip_line();
        let mut indent = if increment > 0 {
            if self.indent >= 0 {
                self.indent + increment
            } else {
                increment
            }
        } else {
            0
        };
        self.block_breaks(&mut indent);
        while self.column == indent && !self.z(0) {
            while !self.breakz(0) {
                self.skip();
            }
            if self.z(0) {
                break;
            }
            self.skip_line();
            self.block_breaks(&mut indent);
        }
    }

    fn block_breaks(&mut self, indent: &mut isize) {
        let mut max_indent = 0;
        loop {
            while (*indent == 0 || self.column < *indent) && self.at(0) == b' ' {
                self.skip();
            }
            max_indent = max_indent.max(self.column);
            if (*indent == 0 || self.column < *indent) && self.at(0) == b'\t' {
                // libyaml: "found a tab character where an indentation space is expected".
                break;
            }
            if !self.brk(0) {
                break;
            }
            self.skip_line();
        }
        if *indent == 0 {
            *indent = max_indent.max(self.indent + 1).max(1);
        }
    }

    fn quoted(&mut self, quote: u8) {
        let single = quote == b'\'';
        self.skip();
        loop {
            if self.document_marker() || self.z(0) {
                // libyaml: "unexpected document indicator" / "unexpected end of stream".
                return;
            }
            while !self.blankz(0) {
                if single && self.at(0) == b'\'' && self.at(1) == b'\'' {
                    self.skip();
                    self.skip();
                } else if self.at(0) == quote {
                    break;
                } else if !single && self.at(0) == b'\\' && self.brk(1) {
                    self.skip();
                    self.skip_line();
                    break;
                } else if !single && self.at(0) == b'\\' {
                    self.skip();
                    self.skip();
                } else {
                    self.skip();
                }
            }
            if self.at(0) == quote {
                self.skip();
                return;
            }
            while self.blank(0) || self.brk(0) {
                if self.blank(0) {
                    self.skip();
                } else {
                    self.skip_line();
                }
            }
        }
    }

    fn plain(&mut self) {
        let indent = self.indent + 1;
        let mut leading_blanks = false;
        loop {
            if self.document_marker() || self.at(0) == b'#' {
                break;
            }
            while !self.blankz(0) {
                let c = self.at(0);
                if self.flow > 0 && c == b':' && b",?[]{}".contains(&self.at(1)) {
                    // libyaml: "found unexpected ':'"; read on as tokens.
                    break;
                }
                if (c == b':' && self.blankz(1)) || (self.flow > 0 && b",[]{}".contains(&c)) {
                    break;
                }
                leading_blanks = false;
                self.skip();
            }
            if !(self.blank(0) || self.brk(0)) {
                break;
            }
            while self.blank(0) || self.brk(0) {
                if self.blank(0) {
                    self.skip();
                } else {
                    self.skip_line();
                    leading_blanks = true;
                }
            }
            if self.flow == 0 && self.column < indent {
                break;
            }
        }
        if leading_blanks {
            self.allowed = true;
        }
    }
}

/// Turns `max.ram: invalid type: ... at line 3 column 8` into file, line, key and message.
pub(crate) fn from_serde(path: &Path, e: &serde_yaml::Error) -> Error {
    let mut line = e.location().map(|l| l.line());
    let text = e.to_string();
    // A scanner error reads `found X at line 25 column 1, while scanning Y at line 2
    // column 9`: the line where Y began is the one to fix.
    if let Some((_, context)) = text.split_once(", while ") {
        if let Some(n) = context
            .rsplit_once(" at line ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
        {
            line = Some(n);
        }
    }
    let text = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    let (field, message) = match text.split_once(": ") {
        Some((key, rest)) if !key.contains(' ') && !key.is_empty() => {
            (Some(key.to_string()), rest.to_string())
        }
        _ => (None, text.to_string()),
    };
    Error::invalid(path, line, field, plain_words(&message))
}

/// serde names Rust types (`expected u16`); an admin reads plain words.
fn plain_words(message: &str) -> String {
    message
        .replace("expected f64", "expected a number")
        .replace("expected u32", "expected a whole number")
        .replace("expected u16", "expected a port number (1..65535)")
}

/// The line (1-based) where `key:` first appears inside the top-level `section:`
/// (or at top level when `section` is empty). For errors found after deserializing.
pub(crate) fn line_of_key(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut inside = section.is_empty();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let top_level = !line.starts_with([' ', '\t']) && !line.trim().is_empty();
        if !section.is_empty() && top_level {
            inside = line.trim_end().strip_suffix(':') == Some(section)
                || line.starts_with(&format!("{section}:"));
            if line.starts_with(&format!("{section}:")) && key.is_empty() {
                return Some(i + 1);
            }
            continue;
        }
        if inside && line.trim_start().starts_with(&format!("{key}:")) {
            return Some(i + 1);
        }
    }
    None
}

/// A scalar the original files may write as a string or as a number (`password: 1234`,
/// a numeric user id), held exactly as written: `7.10`, `1e3`, `0o17` and `0x1F` are
/// those four characters, not the numbers 7.1, 1000, 15 and 31 (which name other users).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScalarString(pub String);

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde_yaml hands `deserialize_str` the scalar's source text, before it resolves
        // plain scalars to numbers; `deserialize_any` would give the number. The number
        // visitors stay for other formats.
        struct V;
        impl Visitor<'_> for V {
            type Value = ScalarString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A YAML mapping with string keys that keeps the file's order (users stay where the
/// admin put them when the file is written back).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<V> OrderedMap<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, V)> = Vec::new();
                while let Some(key) = map.next_key::<ScalarString>()? {
                    if entries.iter().any(|(k, _)| *k == key.0) {
                        return Err(de::Error::custom(format!("duplicate key `{}`", key.0)));
                    }
                    let value = map.next_value()?;
                    entries.push((key.0, value));
                }
                Ok(OrderedMap(entries))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OrderedMap(Vec::new()))
            }
        }
        d.deserialize_any(MapVisitor(std::marker::PhantomData))
    }
}

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_line_of_a_key_inside_its_section() {
        let text = "max:\n  cpus: 1 # c\n  ram: 2\nother:\n  ram: 3\n";
        assert_eq!(line_of_key(text, "max", "ram"), Some(3));
        assert_eq!(line_of_key(text, "other", "ram"), Some(5));
        assert_eq!(line_of_key(text, "", "other"), Some(4));
        assert_eq!(line_of_key(text, "max", "gpus"), None);
    }

    #[test]
    fn serde_errors_keep_line_and_key() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct S {
            a: u32,
        }
        let e = serde_yaml::from_str::<S>("a: x\n").unwrap_err();
        let err = from_serde(Path::new("f.yaml"), &e);
        let text = err.to_string();
        assert!(text.starts_with("f.yaml:1: a: invalid type"), "{text}");
    }

    #[test]
    fn ordered_map_keeps_order_and_refuses_duplicate_keys() {
        let m: OrderedMap<u32> = serde_yaml::from_str("b: 1\na: 2\n7: 3\n").unwrap();
        let keys: Vec<_> = m.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "7"]);
        assert!(serde_yaml::from_str::<OrderedMap<u32>>("a: 1\na: 2\n").is_err());
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;

    fn deep(text: &str) -> bool {
        nesting(text, MAX_YAML_NESTING).is_err()
    }

    #[test]
    fn deep_flow_and_block_nesting_is_refused_with_its_line() {
        assert_eq!(nesting(&"[".repeat(100_000), 64), Err(1));
        assert_eq!(nesting(&format!("a: {}", "{".repeat(100_000)), 64), Err(1));
        assert_eq!(nesting(&"[\n".repeat(100_000), 64), Err(65));
        assert!(deep(&"- ".repeat(100)));
        assert!(deep(&"? ".repeat(100)));
        let indented: String = (0..100).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
        assert!(deep(&indented));
    }

    #[test]
    fn real_files_nest_a_few_levels() {
        let capability = "max:\n  cpus: 62 # cores\n  shm_rate: ram / (ram + swap_size)\nallow_userIDs:\n  - alice\n  -  # nobody\nmax_custom_capability:\n  alice:\n    cpus: max\n";
        assert_eq!(nesting(capability, 64), Ok(3));
        let backup = "Dir:\n  - - .home/.ssh\n    - /root/.ssh\nFile: [[a, /b], [c, /d]]\n";
        assert_eq!(nesting(backup, 64), Ok(3));
        assert_eq!(nesting("", 64), Ok(0));
    }

    #[test]
    fn brackets_inside_scalars_and_comments_open_nothing() {
        let many = "[".repeat(100);
        for text in [
            format!("a: \"{many}\"\n"),
            format!("a: '{many}'\n"),
            format!("a: 'it''s {many}'\n"),
            format!("a: \"x\\\" {many}\"\n"),
            format!("a: x{many}\n"),
            format!("a: it's {many}\n"),
            format!("a: x # {many}\n"),
            format!("# {many}\n"),
            format!("a: |\n  {many}\n  {many}\nb: 1\n"),
            format!("a: >-\n\n   {many}\nb: 1\n"),
            format!("a: x\n  {many}\n"),
        ] {
            assert!(nesting(&text, 64).is_ok_and(|d| d <= 1), "{text}");
        }
    }

    /// Quotes, comments and block scalars that would hide the brackets from a looser scan
    /// (one that took every quote for a string) do not hide them from this one.
    #[test]
    fn a_stray_quote_does_not_hide_deep_nesting() {
        let many = "[".repeat(100);
        for text in [
            format!("a: foo\n  \"bar\nb: {many} \"\n"),
            format!("a: |\n  [\"\nb: {many} \"\n"),
            format!("a: x # \"\nb: {many} \"\n"),
            format!("[it's, {many}\n"),
            format!("a: it's\nb: {many}'\n"),
            format!("a: x#\"\nb: {many}\"\n"),
            format!("a: !t'ag {many}'\n"),
        ] {
            assert!(deep(&text), "{text}");
        }
    }
}
