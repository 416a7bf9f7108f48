//! Certificate and key parsing never panics: SSLPub and SSLPri are split at the first NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livecert_core::cert;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (ssl_pub, ssl_pri) = data.split_at(split);
    let ssl_pri = ssl_pri.get(1..).unwrap_or_default();
    let _ = cert::check_upload(Some(ssl_pub), Some(ssl_pri), 1_795_991_850);
});
