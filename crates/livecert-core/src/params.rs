//! Request parameters: the union of the URL query and an `application/x-www-form-urlencoded` body
//! (spec/protocol.md §1).
//!
//! Values are decoded form-style (`+` is a space, `%XY` a byte) into **bytes**; a name in both
//! sources takes the body's value; a name twice in one source is `InvalidParameter`. Text access
//! ([`Params::text`]) requires UTF-8 without NUL, naming the parameter when it is not.

use std::collections::BTreeMap;

use crate::error::ApiError;

/// Decoded request parameters, by name (byte order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    entries: BTreeMap<String, Vec<u8>>,
}

/// One decoded `name=value` pair of a source, in wire order.
pub type Pair = (String, Vec<u8>);

impl Params {
    /// Decodes the raw query (without `?`) and, when given, the raw form body, and takes their union.
    ///
    /// Returns the union and the query's own pairs (V3 signs the query alone).
    /// Errors: `InvalidParameter` for a malformed `%` sequence, a non-UTF-8 name, or a name that
    /// appears twice in the same source.
    pub fn from_sources(
        raw_query: &[u8],
        raw_body: Option<&[u8]>,
    ) -> Result<(Self, Vec<Pair>), ApiError> {
        let query = decode_unique(raw_query)?;
        let mut entries: BTreeMap<String, Vec<u8>> = query.iter().cloned().collect();
        if let Some(body) = raw_body {
            for (name, value) in decode_unique(body)? {
                entries.insert(name, value);
            }
        }
        Ok((Self { entries }, query))
    }

    /// Builds parameters from decoded pairs (later pairs win); used by clients and tests.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        Self {
            entries: pairs.into_iter().collect(),
        }
    }

    /// The raw decoded bytes of a parameter.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.entries.get(name).map(Vec::as_slice)
    }

    /// A parameter as text. Errors: `InvalidParameter` naming it when it is not UTF-8 or holds NUL.
    pub fn text(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.entries.get(name) {
            None => Ok(None),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(s) if !s.contains('\0') => Ok(Some(s)),
                _ => Err(ApiError::invalid(
                    name,
                    "The value must be UTF-8 text without NUL characters.",
                )),
            },
        }
    }

    /// A parameter as text, treating an empty value as absent.
    pub fn non_empty_text(&self, name: &str) -> Result<Option<&str>, ApiError> {
        Ok(self.text(name)?.filter(|s| !s.is_empty()))
    }

    /// Whether the parameter is present (even empty).
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Every parameter, sorted by name (byte order).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Decodes `application/x-www-form-urlencoded` text into pairs, in order (WHATWG URL, "urlencoded
/// parsing", but strict: a `%` not followed by two hex digits is an error, not a literal).
///
/// Empty segments (`a=1&&b=2`) are skipped; a segment without `=` is a name with an empty value.
/// Errors: `InvalidParameter` for a malformed `%` sequence or a non-UTF-8 name.
pub fn decode_form(raw: &[u8]) -> Result<Vec<Pair>, ApiError> {
    let mut out = Vec::new();
    for segment in raw.split(|&b| b == b'&') {
        if segment.is_empty() {
            continue;
        }
        let (name, value) = match segment.iter().position(|&b| b == b'=') {
            Some(i) => (&segment[..i], &segment[i + 1..]),
            None => (segment, &segment[..0]),
        };
        let name_bytes = percent_decode(name).map_err(|()| {
            ApiError::invalid(
                String::from_utf8_lossy(name).into_owned(),
                "It holds a malformed percent-encoding (% must be followed by two hex digits).",
            )
        })?;
        let name = String::from_utf8(name_bytes).map_err(|e| {
            ApiError::invalid(
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
                "Parameter names must be UTF-8.",
            )
        })?;
        let value = percent_decode(value).map_err(|()| {
            ApiError::invalid(
                name.clone(),
                "It holds a malformed percent-encoding (% must be followed by two hex digits).",
            )
        })?;
        out.push((name, value));
    }
    Ok(out)
}

/// Like [`decode_form`], refusing a name that appears twice.
fn decode_unique(raw: &[u8]) -> Result<Vec<Pair>, ApiError> {
    let pairs = decode_form(raw)?;
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in &pairs {
        if !seen.insert(name.as_str()) {
            return Err(ApiError::invalid(
                name.clone(),
                "The parameter appears more than once; send it once.",
            ));
        }
    }
    Ok(pairs)
}

/// Form-style percent-decoding: `+` is a space, `%XY` is the byte 0xXY.
fn percent_decode(input: &[u8]) -> Result<Vec<u8>, ()> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    // Runs without `+` or `%` are copied whole.
    while let Some(at) = rest.iter().position(|&b| b == b'+' || b == b'%') {
        out.extend_from_slice(&rest[..at]);
        if rest[at] == b'+' {
            out.push(b' ');
            rest = &rest[at + 1..];
        } else {
            let hi = rest.get(at + 1).and_then(|&b| hex_value(b)).ok_or(())?;
            let lo = rest.get(at + 2).and_then(|&b| hex_value(b)).ok_or(())?;
            out.push(hi << 4 | lo);
            rest = &rest[at + 3..];
        }
    }
    out.extend_from_slice(rest);
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn plus_is_space_and_percent_is_a_byte() {
        let pairs = decode_form(b"a=x+y%2Bz&b=%E4%BD%A0&c&d=").unwrap();
        assert_eq!(pairs[0], ("a".to_owned(), b"x y+z".to_vec()));
        assert_eq!(pairs[1].1, "你".as_bytes());
        assert_eq!(pairs[2], ("c".to_owned(), Vec::new()));
        assert_eq!(pairs[3], ("d".to_owned(), Vec::new()));
    }

    #[test]
    fn malformed_percent_names_the_parameter() {
        let e = decode_form(b"SSLPub=%zz").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert_eq!(e.name.as_deref(), Some("SSLPub"));
        assert!(decode_form(b"a=%4").is_err());
    }

    #[test]
    fn body_wins_and_duplicates_in_one_source_are_refused() {
        let (p, q) = Params::from_sources(b"a=1&b=2", Some(b"b=3")).unwrap();
        assert_eq!(p.bytes("b"), Some(&b"3"[..]));
        assert_eq!(q.len(), 2);
        assert!(Params::from_sources(b"a=1&a=2", None).is_err());
        assert!(Params::from_sources(b"a=1", Some(b"b=1&b=2")).is_err());
    }

    #[test]
    fn text_refuses_nul_and_invalid_utf8() {
        let (p, _) = Params::from_sources(b"a=%00&b=%FF&c=ok", None).unwrap();
        assert_eq!(p.text("a").unwrap_err().name.as_deref(), Some("a"));
        assert!(p.text("b").is_err());
        assert_eq!(p.text("c").unwrap(), Some("ok"));
    }
}
