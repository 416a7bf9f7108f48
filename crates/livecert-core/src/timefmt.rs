//! Timestamps on the wire: UTC `yyyy-MM-ddTHH:mm:ssZ` (spec/README.md, decision 6; protocol.md §3).
//!
//! Time inside livecert is Unix seconds (`i64`); the clock itself lives in the binary and is passed
//! in, so core stays pure.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Formats Unix seconds as `yyyy-MM-ddTHH:mm:ssZ` (UTC). Out-of-range values clamp to the epoch.
pub fn format_utc(unix: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&fmt).unwrap_or_default()
}

/// Formats Unix seconds as `yyyymmdd` (UTC), as used in generated CertNames (operations.md row 22).
pub fn format_yyyymmdd(unix: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let fmt = format_description!("[year][month][day]");
    t.format(&fmt).unwrap_or_default()
}

/// Parses a request timestamp: `yyyy-MM-ddTHH:mm:ssZ`, also accepting fractional seconds and RFC 3339
/// offsets (some SDKs send them). Returns Unix seconds, or `None` when it does not parse.
pub fn parse_utc(text: &str) -> Option<i64> {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    if let Ok(t) = PrimitiveDateTime::parse(text, &fmt) {
        return Some(t.assume_utc().unix_timestamp());
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_wire_format() {
        let t = parse_utc("2026-11-29T22:37:30Z").unwrap();
        assert_eq!(format_utc(t), "2026-11-29T22:37:30Z");
        assert_eq!(format_yyyymmdd(t), "20261129");
        assert_eq!(parse_utc("2026-11-29T22:37:30.123Z"), Some(t));
        assert_eq!(parse_utc("mock date"), None);
        assert_eq!(parse_utc("2026-13-29T22:37:30Z"), None);
    }
}
