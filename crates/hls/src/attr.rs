//! Attribute lists (RFC 8216 section 4.2): `NAME=VALUE,NAME="quoted",...`.
//!
//! Kept as an ordered list of (name, value) so that every attribute, known or not, is written
//! back in the order it was read. Typed access goes through getters that parse on demand.

use std::fmt::{self, Write};

/// One attribute value, as it appeared: quoted-string or anything unquoted (decimal-integer,
/// hexadecimal-sequence, decimal-floating-point, enumerated-string, decimal-resolution).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrValue {
    Quoted(String),
    Unquoted(String),
}

impl AttrValue {
    /// The value's text without quotes.
    pub fn as_str(&self) -> &str {
        match self {
            AttrValue::Quoted(s) | AttrValue::Unquoted(s) => s,
        }
    }
}

/// An ordered attribute list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct AttributeList(pub Vec<(String, AttrValue)>);

/// Why an attribute list could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrSyntaxError(pub String);

impl AttributeList {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Parse `NAME=VALUE,...`. Names are any run of characters other than `=` and `,`
    /// (RFC 8216 limits them to `[A-Z0-9-]`; the validator reports others, the parser keeps them).
    pub fn parse(input: &str) -> Result<Self, AttrSyntaxError> {
        let mut list = Vec::new();
        let mut rest = input.trim();
        while !rest.is_empty() {
            let eq = rest.find('=').ok_or_else(|| {
                AttrSyntaxError(format!("attribute '{}' has no '=VALUE'", until_comma(rest)))
            })?;
            let name = rest[..eq].trim();
            if name.is_empty() || name.contains(',') {
                return Err(AttrSyntaxError(format!(
                    "attribute name missing before '=' in '{}'",
                    until_comma(rest)
                )));
            }
            let after = &rest[eq + 1..];
            let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"').ok_or_else(|| {
                    AttrSyntaxError(format!(
                        "attribute {name} has an unterminated quoted string"
                    ))
                })?;
                let value = AttrValue::Quoted(quoted[..end].to_string());
                let remainder = quoted[end + 1..].trim_start();
                let remainder = if remainder.is_empty() {
                    remainder
                } else if let Some(r) = remainder.strip_prefix(',') {
                    r
                } else {
                    return Err(AttrSyntaxError(format!(
                        "unexpected '{}' after the quoted value of {name}",
                        until_comma(remainder)
                    )));
                };
                (value, remainder)
            } else {
                let end = after.find(',').unwrap_or(after.len());
                let raw = after[..end].trim();
                if raw.contains('"') {
                    return Err(AttrSyntaxError(format!(
                        "attribute {name} has a stray quote in '{raw}'"
                    )));
                }
                let remainder = if end < after.len() {
                    &after[end + 1..]
                } else {
                    ""
                };
                (AttrValue::Unquoted(raw.to_string()), remainder)
            };
            list.push((name.to_string(), value));
            rest = remainder.trim_start();
        }
        Ok(Self(list))
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn get_value(&self, name: &str) -> Option<&AttrValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// A decimal-integer attribute. `None` if absent or not a number.
    pub fn get_u64(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|v| v.parse().ok())
    }

    /// A decimal-floating-point attribute. `None` if absent or not a number.
    pub fn get_f64(&self, name: &str) -> Option<f64> {
        self.get(name)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
    }

    /// An enumerated `YES`/`NO` attribute (absent = false).
    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == Some("YES")
    }

    /// A decimal-resolution (`1280x720`).
    pub fn get_resolution(&self, name: &str) -> Option<(u32, u32)> {
        let v = self.get(name)?;
        let (w, h) = v.split_once(['x', 'X'])?;
        Some((w.parse().ok()?, h.parse().ok()?))
    }

    /// Set (replace in place, or append) a value.
    pub fn set(&mut self, name: &str, value: AttrValue) -> &mut Self {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name.to_string(), value)),
        }
        self
    }

    pub fn set_quoted(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.set(name, AttrValue::Quoted(value.into()))
    }

    pub fn set_unquoted(&mut self, name: &str, value: impl ToString) -> &mut Self {
        self.set(name, AttrValue::Unquoted(value.to_string()))
    }

    /// Builder form of [`set_quoted`](Self::set_quoted).
    pub fn quoted(mut self, name: &str, value: impl Into<String>) -> Self {
        self.set_quoted(name, value);
        self
    }

    /// Builder form of [`set_unquoted`](Self::set_unquoted).
    pub fn unquoted(mut self, name: &str, value: impl ToString) -> Self {
        self.set_unquoted(name, value);
        self
    }

    pub fn remove(&mut self, name: &str) -> Option<AttrValue> {
        let i = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(i).1)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn write_to(&self, out: &mut String) {
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(name);
            out.push('=');
            match value {
                AttrValue::Quoted(s) => {
                    out.push('"');
                    out.push_str(s);
                    out.push('"');
                }
                AttrValue::Unquoted(s) => out.push_str(s),
            }
        }
    }
}

impl fmt::Display for AttributeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

fn until_comma(s: &str) -> &str {
    let end = s.find(',').unwrap_or(s.len());
    let mut end = end.min(40);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Write a float the shortest way that reads back to the same value.
pub(crate) fn write_f64(out: &mut String, v: f64) {
    let _ = write!(out, "{v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mixed_values_in_order() {
        let a = AttributeList::parse(
            r#"BANDWIDTH=1280000,CODECS="avc1.4d401f,mp4a.40.2",RESOLUTION=640x360,X-CUSTOM="a=b""#,
        )
        .unwrap();
        assert_eq!(a.get_u64("BANDWIDTH"), Some(1_280_000));
        assert_eq!(a.get("CODECS"), Some("avc1.4d401f,mp4a.40.2"));
        assert_eq!(a.get_resolution("RESOLUTION"), Some((640, 360)));
        assert_eq!(a.get("X-CUSTOM"), Some("a=b"));
        assert_eq!(
            a.to_string(),
            r#"BANDWIDTH=1280000,CODECS="avc1.4d401f,mp4a.40.2",RESOLUTION=640x360,X-CUSTOM="a=b""#
        );
    }

    #[test]
    fn rejects_bad_syntax() {
        assert!(AttributeList::parse(r#"URI="abc"#).is_err());
        assert!(AttributeList::parse("BANDWIDTH").is_err());
        assert!(AttributeList::parse(r#"A="x"B=1"#).is_err());
        assert!(AttributeList::parse("=1").is_err());
    }
}
