//! Property tests: `check_upload` never panics, on arbitrary bytes or damaged uploads.

use super::*;

// ---- Never panics ----------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// check_upload never panics on arbitrary bytes.
    #[test]
    fn never_panics_on_arbitrary_bytes(
        p in proptest::collection::vec(any::<u8>(), 0..600),
        k in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let _ = check_upload(Some(&p), Some(&k), 0);
    }

    /// Nor on a good upload with bytes changed, cut or inserted, which reaches the base64,
    /// DER and key layers.
    #[test]
    fn never_panics_on_damaged_uploads(
        at in any::<prop::sample::Index>(),
        cut in 0usize..40,
        insert in "[A-Za-z0-9+/=\\- \n%]{0,6}",
        which in any::<bool>(),
    ) {
        let u = upload();
        let mut p = u.chain();
        let mut k = u.leaf_key_pem.clone();
        let target = if which { &mut p } else { &mut k };
        let i = at.index(target.len());
        let end = (i + cut).min(target.len());
        target.replace_range(i..end, &insert);
        let _ = check_upload(Some(p.as_bytes()), Some(k.as_bytes()), now());
    }
}
