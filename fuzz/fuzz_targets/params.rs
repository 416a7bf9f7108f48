//! Query and form-body decoding never panics; text access never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livecert_core::params::Params;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (query, body) = data.split_at(split);
    if let Ok((params, _)) = Params::from_sources(query, Some(body)) {
        for (name, _) in params.iter() {
            let _ = params.text(name);
        }
    }
});
