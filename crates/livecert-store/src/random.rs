//! Generated identifiers and secrets, all drawn from the system CSPRNG (aws-lc-rs
//! `SystemRandom`) with rejection sampling, so that every value in a range is equally likely.
//!
//! - account ids: 16 decimal digits (spec/access.md);
//! - AccessKeyIds: `LTAI` + 20 letters and digits (24 characters); secrets: 30 letters and digits;
//! - temporary AccessKeyIds: `STS.` + 24 letters and digits; SecurityTokens: 64 characters of the
//!   base64url alphabet (384 bits);
//! - the first CertId: a 7-digit number (spec/operations.md, Domains).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::StoreError;

/// The prefix of generated AccessKeyIds.
pub(crate) const ACCESS_KEY_ID_PREFIX: &str = "LTAI";
/// Random characters after the prefix of a generated AccessKeyId.
const ACCESS_KEY_ID_RANDOM_CHARS: usize = 20;
/// Characters of a generated AccessKey secret.
const ACCESS_KEY_SECRET_CHARS: usize = 30;

/// The prefix of temporary (STS) AccessKeyIds.
pub(crate) const STS_ACCESS_KEY_ID_PREFIX: &str = "STS.";
/// Random characters after the prefix of a temporary AccessKeyId.
const STS_ACCESS_KEY_ID_RANDOM_CHARS: usize = 24;
/// Characters of a SecurityToken.
const SECURITY_TOKEN_CHARS: usize = 64;

const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A random account id in `10^15 ..= 10^16 − 1` (16 digits).
pub(crate) fn account_id() -> Result<u64, StoreError> {
    uniform(1_000_000_000_000_000, 9_999_999_999_999_999)
}

/// The first value of the CertId sequence: a random number in `1_000_000 ..= 8_999_999`, which
/// leaves at least a million ids before the sequence grows an eighth digit.
pub(crate) fn cert_id_start() -> Result<i64, StoreError> {
    Ok(uniform(1_000_000, 8_999_999)? as i64)
}

/// A generated AccessKeyId: `LTAI` + 20 letters and digits.
pub(crate) fn access_key_id() -> Result<String, StoreError> {
    let tail = alphanumeric(ACCESS_KEY_ID_RANDOM_CHARS)?;
    let mut id = String::with_capacity(ACCESS_KEY_ID_PREFIX.len() + tail.len());
    id.push_str(ACCESS_KEY_ID_PREFIX);
    id.push_str(std::str::from_utf8(&tail).map_err(|_| rng_failed())?);
    Ok(id)
}

/// A temporary AccessKeyId: `STS.` + 24 letters and digits.
pub(crate) fn sts_access_key_id() -> Result<String, StoreError> {
    let tail = alphanumeric(STS_ACCESS_KEY_ID_RANDOM_CHARS)?;
    let mut id = String::with_capacity(STS_ACCESS_KEY_ID_PREFIX.len() + tail.len());
    id.push_str(STS_ACCESS_KEY_ID_PREFIX);
    id.push_str(std::str::from_utf8(&tail).map_err(|_| rng_failed())?);
    Ok(id)
}

/// A SecurityToken: 64 characters of the base64url alphabet, in zeroised memory.
pub(crate) fn security_token() -> Result<Zeroizing<Vec<u8>>, StoreError> {
    const BASE64URL: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut raw = Zeroizing::new([0u8; SECURITY_TOKEN_CHARS]);
    SystemRandom::new()
        .fill(raw.as_mut())
        .map_err(|_| rng_failed())?;
    // 64 divides 256: the low six bits of a uniform byte are uniform.
    Ok(Zeroizing::new(
        raw.iter().map(|b| BASE64URL[usize::from(b & 63)]).collect(),
    ))
}

/// A generated AccessKey secret: 30 letters and digits, in zeroised memory.
pub(crate) fn access_key_secret() -> Result<Zeroizing<Vec<u8>>, StoreError> {
    alphanumeric(ACCESS_KEY_SECRET_CHARS)
}

/// `n` characters drawn uniformly from `[0-9A-Za-z]`.
fn alphanumeric(n: usize) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    // 248 = 4 × 62: bytes at or above it are discarded so that every character is equally likely.
    const ZONE: u8 = 248;
    let rng = SystemRandom::new();
    let mut out = Zeroizing::new(Vec::with_capacity(n));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < n {
        rng.fill(buf.as_mut()).map_err(|_| rng_failed())?;
        for &b in buf.iter() {
            if out.len() == n {
                break;
            }
            if b < ZONE {
                out.push(ALPHANUMERIC[usize::from(b % 62)]);
            }
        }
    }
    Ok(out)
}

/// A uniform integer in `lo ..= hi` (`lo < hi`).
fn uniform(lo: u64, hi: u64) -> Result<u64, StoreError> {
    let span = hi - lo + 1;
    let zone = u64::MAX - (u64::MAX % span);
    let rng = SystemRandom::new();
    loop {
        let mut b = [0u8; 8];
        rng.fill(&mut b).map_err(|_| rng_failed())?;
        let r = u64::from_le_bytes(b);
        if r < zone {
            return Ok(lo + r % span);
        }
    }
}

fn rng_failed() -> StoreError {
    StoreError::Failed("the system random source failed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_have_their_documented_shapes() {
        for _ in 0..100 {
            let id = account_id().unwrap();
            assert_eq!(id.to_string().len(), 16);
            let start = cert_id_start().unwrap();
            assert_eq!(start.to_string().len(), 7);
            let key = access_key_id().unwrap();
            assert_eq!(key.len(), 24);
            assert!(key.starts_with("LTAI"));
            assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));
            let secret = access_key_secret().unwrap();
            assert_eq!(secret.len(), 30);
            assert!(secret.iter().all(u8::is_ascii_alphanumeric));
        }
        assert_ne!(access_key_id().unwrap(), access_key_id().unwrap());
        for _ in 0..100 {
            let id = sts_access_key_id().unwrap();
            assert_eq!(id.len(), 28);
            let tail = id.strip_prefix("STS.").unwrap();
            assert!(tail.bytes().all(|b| b.is_ascii_alphanumeric()));
            let token = security_token().unwrap();
            assert_eq!(token.len(), 64);
            assert!(token
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'));
        }
        assert_ne!(*security_token().unwrap(), *security_token().unwrap());
    }
}
