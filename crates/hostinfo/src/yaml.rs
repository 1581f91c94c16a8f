//! Shared YAML plumbing: serde errors turned into file/line/key errors, scalars that the
//! original files write either as strings or as numbers, and maps that keep their order.

use std::path::Path;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Parses a YAML document; an empty document (or one of comments only) is `None`.
pub(crate) fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<Option<T>> {
    serde_yaml::from_str::<Option<T>>(text).map_err(|e| from_serde(path, &e))
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
/// a numeric user id). Always held as the text a person would read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScalarString(pub String);

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
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
        d.deserialize_any(V)
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
