//! A small text-level PEM tokenizer (certificates.md §1 and §2).
//!
//! Line-based PEM readers stop at the first oddity and cannot say why. This one reads what people
//! actually paste: [`normalise`] silently removes the differences of form (a BOM, CR and CRLF line
//! ends, literal `\n` escapes), and [`tokenize`] finds every `-----BEGIN …-----` / `-----END …-----`
//! pair wherever it stands — on its own line or with the whole PEM on one line — ignoring text
//! outside the blocks. Each [`Block`] keeps its label, its RFC 1421 header lines and its base64
//! body with the line breaks removed, and notes what the early refusals of §2 need to know (white
//! space between base64 characters). Base64 is never decoded here, and nothing here panics: the
//! scanning uses `split_once` and checked slices only.

use std::fmt;

use base64::Engine as _;
use zeroize::Zeroize;

/// The length of a base64 line in normalised PEM (RFC 7468 §2).
pub const PEM_LINE_LEN: usize = 64;

/// One PEM block as found in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The label between `BEGIN` and the dashes, upper case, single-spaced (`CERTIFICATE`).
    pub label: String,
    /// RFC 1421 header lines (`Proc-Type: 4,ENCRYPTED`), name and value trimmed, in order.
    pub headers: Vec<(String, String)>,
    /// The base64 body: every line trimmed and joined, inner white space removed.
    pub body: String,
    /// Whether a body line had white space between its base64 characters (§2).
    pub spaces_in_body: bool,
}

impl Zeroize for Block {
    /// Blocks of SSLPri hold the private key: wipe every part.
    fn zeroize(&mut self) {
        self.label.zeroize();
        for (name, value) in &mut self.headers {
            name.zeroize();
            value.zeroize();
        }
        self.headers.clear();
        self.body.zeroize();
    }
}

/// What a block holds, by its label (certificates.md §3, second layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `CERTIFICATE`, `X509 CERTIFICATE`, or OpenSSL's `TRUSTED CERTIFICATE` (`trusted`: the DER
    /// carries trust settings after the certificate).
    Certificate {
        /// Whether the label was `TRUSTED CERTIFICATE`.
        trusted: bool,
    },
    /// One of the private-key labels of §3, supported or not.
    PrivateKey,
    /// `EC PARAMETERS`, printed by `openssl ecparam -genkey` before the key: skipped.
    EcParameters,
    /// Any other label (`CERTIFICATE REQUEST`, `PUBLIC KEY`, `PKCS7`, …).
    Other,
}

/// The private-key labels of certificates.md §3.
pub const PRIVATE_KEY_LABELS: &[&str] = &[
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "DSA PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
];

impl Block {
    /// What the block holds, by its label.
    pub fn kind(&self) -> Kind {
        match self.label.as_str() {
            "CERTIFICATE" | "X509 CERTIFICATE" => Kind::Certificate { trusted: false },
            "TRUSTED CERTIFICATE" => Kind::Certificate { trusted: true },
            "EC PARAMETERS" => Kind::EcParameters,
            label if PRIVATE_KEY_LABELS.contains(&label) => Kind::PrivateKey,
            _ => Kind::Other,
        }
    }

    /// Whether the block is an encrypted private key: the `ENCRYPTED PRIVATE KEY` label (PKCS#8
    /// encryption) or a `Proc-Type: 4,ENCRYPTED` header (OpenSSL's traditional encryption).
    pub fn is_encrypted(&self) -> bool {
        self.label == "ENCRYPTED PRIVATE KEY"
            || self.headers.iter().any(|(name, value)| {
                name.eq_ignore_ascii_case("Proc-Type")
                    && value.to_ascii_uppercase().contains("ENCRYPTED")
            })
    }
}

/// Why the armour of a text does not form PEM blocks. `Display` is the middle of a sentence
/// ("SSLPub is not well-formed PEM: …").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemError {
    /// `-----BEGIN` not followed by a label and `-----` on the same line.
    UnclosedBegin,
    /// A block whose `-----END …-----` line is missing.
    MissingEnd {
        /// The BEGIN line's label.
        label: String,
    },
    /// A `-----BEGIN` inside a block, before that block's END line.
    NestedBegin {
        /// The label of the block left open.
        label: String,
    },
    /// An END line whose label is not the BEGIN line's.
    MismatchedEnd {
        /// The BEGIN line's label.
        begin: String,
        /// The END line's label.
        end: String,
    },
    /// An `-----END` line with no BEGIN line before it.
    StrayEnd,
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnclosedBegin => {
                f.write_str("a \"-----BEGIN\" line is not closed by \"-----\" on the same line")
            }
            Self::MissingEnd { label } => {
                write!(
                    f,
                    "the {label} block has no \"-----END {label}-----\" line; it was probably cut \
                     off"
                )
            }
            Self::NestedBegin { label } => {
                write!(
                    f,
                    "the {label} block is not ended by \"-----END {label}-----\" before the next \
                     BEGIN line"
                )
            }
            Self::MismatchedEnd { begin, end } => {
                write!(f, "a block begins as {begin} but ends as {end}")
            }
            Self::StrayEnd => f.write_str(
                "an \"-----END\" line has no BEGIN line before it; the start of a block is missing",
            ),
        }
    }
}

/// Removes the differences of form of certificates.md §1 that are not about blocks: a leading
/// UTF-8 BOM, CR and CRLF line ends, and the literal two-character escapes `\n`, `\r` (read as line
/// breaks) and `\/` (read as `/`) that a JSON-escaping mistake leaves behind. Base64 and the PEM
/// armour never contain a backslash, so the escapes cannot be mistaken for content.
pub fn normalise(text: &str) -> String {
    let mut rest = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = String::with_capacity(rest.len());
    // Text between the characters that change is copied whole.
    while let Some(at) = rest.find(['\r', '\\']) {
        let (run, from) = rest.split_at(at);
        out.push_str(run);
        let mut chars = from.chars();
        let changed = chars.next();
        let after = chars.as_str();
        rest = match (changed, after.as_bytes().first()) {
            (Some('\r'), Some(b'\n')) | (Some('\\'), Some(b'n' | b'r')) => {
                out.push('\n');
                after.get(1..).unwrap_or_default()
            }
            (Some('\r'), _) => {
                out.push('\n');
                after
            }
            (Some('\\'), Some(b'/')) => {
                out.push('/');
                after.get(1..).unwrap_or_default()
            }
            _ => {
                out.push('\\');
                after
            }
        };
    }
    out.push_str(rest);
    out
}

/// Splits normalised text into its PEM blocks, in order. Text outside blocks is ignored.
///
/// Errors only on armour that does not pair up: a BEGIN line without END, an END without BEGIN,
/// labels that differ. A block's content is never an error here (that is for later layers).
pub fn tokenize(text: &str) -> Result<Vec<Block>, PemError> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some((outside, after_begin)) = rest.split_once("-----BEGIN") {
        if outside.contains("-----END") {
            return Err(PemError::StrayEnd);
        }
        let (label_raw, after_label) = after_begin
            .split_once("-----")
            .ok_or(PemError::UnclosedBegin)?;
        if label_raw.contains('\n') {
            return Err(PemError::UnclosedBegin);
        }
        let label = clean_label(label_raw);
        let Some((body_text, after_end)) = after_label.split_once("-----END") else {
            return Err(if after_label.contains("-----BEGIN") {
                PemError::NestedBegin { label }
            } else {
                PemError::MissingEnd { label }
            });
        };
        if body_text.contains("-----BEGIN") {
            return Err(PemError::NestedBegin { label });
        }
        let Some((end_raw, after)) = after_end.split_once("-----") else {
            return Err(PemError::MissingEnd { label });
        };
        if end_raw.contains('\n') {
            return Err(PemError::MissingEnd { label });
        }
        let end = clean_label(end_raw);
        if end != label {
            return Err(PemError::MismatchedEnd { begin: label, end });
        }
        blocks.push(parse_body(label, body_text));
        rest = after;
    }
    if rest.contains("-----END") {
        return Err(PemError::StrayEnd);
    }
    Ok(blocks)
}

/// Counts the PEM blocks of a raw parameter for operations.md row 20: every `-----BEGIN`, before
/// any decoding or de-duplication.
pub fn count_blocks(raw: &[u8]) -> usize {
    raw.windows(b"-----BEGIN".len())
        .filter(|w| *w == b"-----BEGIN")
        .count()
}

/// Whether the text was percent-encoded twice (certificates.md §2): a `%XX` sequence in or next to
/// the PEM armour — inside a block, or within three characters before a BEGIN line or after an END
/// line — or percent-encoded dashes (`%2D%2D%2D%2D%2D`) anywhere. Percent signs in the text around
/// the blocks (a preamble, `Bag Attributes` between certificates) do not count.
pub fn looks_double_encoded(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Both signs need a `%`; most texts have none.
    if !bytes.contains(&b'%') {
        return false;
    }
    if bytes
        .windows(15)
        .any(|w| w.eq_ignore_ascii_case(b"%2D%2D%2D%2D%2D"))
    {
        return true;
    }
    let mut from = 0;
    while let Some(begin) = find_from(bytes, b"-----BEGIN", from) {
        let start = begin.saturating_sub(3);
        let end = find_from(bytes, b"-----END", begin)
            .and_then(|end| find_from(bytes, b"-----", end + 8))
            .map_or(bytes.len(), |close| (close + 5 + 3).min(bytes.len()));
        if bytes.get(start..end).is_some_and(has_percent_sequence) {
            return true;
        }
        from = end.max(begin + 1);
    }
    false
}

/// Encodes DER as standard PEM: the label, base64 in 64-character lines, `\n` line ends.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out =
        String::with_capacity(b64.len() + b64.len() / PEM_LINE_LEN + 2 * label.len() + 34);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    // Base64 output is ASCII, so every byte boundary is a character boundary.
    for line in b64.as_bytes().chunks(PEM_LINE_LEN) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Upper case, trimmed, single-spaced.
fn clean_label(raw: &str) -> String {
    raw.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

/// Reads a block body: leading `Name: value` header lines (a blank line or the first base64 line
/// ends them), then base64 lines of any length.
fn parse_body(label: String, body_text: &str) -> Block {
    let mut headers = Vec::new();
    let mut body = String::with_capacity(body_text.len());
    let mut spaces_in_body = false;
    let mut in_headers = true;
    for line in body_text.split('\n') {
        let line = line.trim_matches([' ', '\t']);
        if line.is_empty() {
            if !headers.is_empty() {
                in_headers = false;
            }
            continue;
        }
        if in_headers {
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
                continue;
            }
        }
        in_headers = false;
        // Base64 lines are ASCII without spaces: copied whole.
        if line.bytes().all(|b| b.is_ascii_graphic()) {
            body.push_str(line);
            continue;
        }
        if line.contains(char::is_whitespace) {
            spaces_in_body = true;
        }
        for piece in line.split(char::is_whitespace) {
            body.push_str(piece);
        }
    }
    Block {
        label,
        headers,
        body,
        spaces_in_body,
    }
}

/// The first position of `needle` in `bytes` at or after `from`.
fn find_from(bytes: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Whether the bytes hold `%` followed by two hexadecimal digits.
fn has_percent_sequence(bytes: &[u8]) -> bool {
    bytes
        .windows(3)
        .any(|w| matches!(w, [b'%', a, b] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const B64: &str = "MIIBszCCAVmgAwIBAgIUQm9keUJvZHlCb2R5Qm9keUJvZHkwCgYIKoZIzj0EAwIw";

    fn one(text: &str) -> Block {
        let blocks = tokenize(&normalise(text)).unwrap();
        assert_eq!(blocks.len(), 1, "{text:?}");
        blocks.into_iter().next().unwrap()
    }

    /// §1: every form below is the same block.
    #[test]
    fn forms_of_one_block_are_equal() {
        let plain =
            format!("-----BEGIN CERTIFICATE-----\n{B64}\nAAAA\n-----END CERTIFICATE-----\n");
        let expected = one(&plain);
        assert_eq!(expected.body, format!("{B64}AAAA"));
        let forms = [
            plain.replace('\n', "\r\n"),
            plain.replace('\n', "\r"),
            format!("\u{feff}{plain}"),
            plain.trim_end().to_owned(),
            plain.replace('\n', "\\n"),
            plain.replace('\n', "\\r\\n"),
            format!("Bag Attributes\n    localKeyID: 01\nsubject=/CN=x\n{plain}trailing words"),
            format!(
                "-----BEGIN CERTIFICATE-----   \n\t{B64}\t \n\n   AAAA\n  -----END \
                 CERTIFICATE-----"
            ),
            format!("-----BEGIN CERTIFICATE-----{B64}AAAA-----END CERTIFICATE-----"),
            format!("-----BEGIN CERTIFICATE-----\n{B64}AAAA\n-----END CERTIFICATE-----"),
            format!("-----BEGIN  certificate -----\n{B64}\nAAAA\n-----END CERTIFICATE-----"),
        ];
        for form in forms {
            assert_eq!(one(&form), expected, "{form:?}");
        }
    }

    #[test]
    fn json_escaped_slash_is_read_as_slash() {
        let b = one("-----BEGIN CERTIFICATE-----\\nAB\\/C\\n-----END CERTIFICATE-----\\n");
        assert_eq!(b.body, "AB/C");
    }

    #[test]
    fn several_blocks_back_to_back_and_kinds() {
        let text = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC \
                    PARAMETERS----------BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE \
                    KEY-----\n-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n-----END TRUSTED \
                    CERTIFICATE-----\n-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END \
                    CERTIFICATE REQUEST-----\n";
        let kinds: Vec<Kind> = tokenize(text).unwrap().iter().map(Block::kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::EcParameters,
                Kind::PrivateKey,
                Kind::Certificate { trusted: true },
                Kind::Other
            ]
        );
    }

    #[test]
    fn headers_are_not_base64_and_mark_encryption() {
        let b = one(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: \
             AES-128-CBC,00FF\n\nAAAA\nBBBB\n-----END RSA PRIVATE KEY-----\n",
        );
        assert_eq!(b.headers.len(), 2);
        assert_eq!(b.body, "AAAABBBB");
        assert!(!b.spaces_in_body);
        assert!(b.is_encrypted());
        assert!(one(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----"
        )
        .is_encrypted());
        assert!(
            !one("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_encrypted()
        );
    }

    /// §2: spaces between base64 characters are noted (a `+` sent as a space, or line breaks
    /// replaced by spaces); spaces at line ends are not.
    #[test]
    fn spaces_inside_base64_are_noted() {
        assert!(
            one("-----BEGIN CERTIFICATE-----\nMIIB CCAV\n-----END CERTIFICATE-----").spaces_in_body
        );
        assert!(
            one("-----BEGIN CERTIFICATE----- MIIB CCAV -----END CERTIFICATE-----").spaces_in_body
        );
        assert!(
            !one("-----BEGIN CERTIFICATE----- MIIBCCAV -----END CERTIFICATE-----").spaces_in_body
        );
    }

    #[test]
    fn unpaired_armour_is_an_error() {
        let cases = [
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n",
                PemError::MissingEnd {
                    label: "CERTIFICATE".into(),
                },
            ),
            (
                "-----BEGIN CERTIFICATE\nAAAA\n-----END CERTIFICATE-----",
                PemError::UnclosedBegin,
            ),
            ("-----BEGIN CERTIFICATE", PemError::UnclosedBegin),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END \
                 CERTIFICATE-----",
                PemError::NestedBegin {
                    label: "CERTIFICATE".into(),
                },
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----",
                PemError::MismatchedEnd {
                    begin: "CERTIFICATE".into(),
                    end: "PRIVATE KEY".into(),
                },
            ),
            ("AAAA\n-----END CERTIFICATE-----\n", PemError::StrayEnd),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----END \
                 CERTIFICATE-----",
                PemError::StrayEnd,
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE",
                PemError::MissingEnd {
                    label: "CERTIFICATE".into(),
                },
            ),
        ];
        for (text, err) in cases {
            assert_eq!(tokenize(text), Err(err), "{text:?}");
        }
        assert_eq!(tokenize("no blocks at all"), Ok(vec![]));
    }

    /// §2: percent sequences in or next to the armour mean the value was encoded twice.
    #[test]
    fn double_encoding_is_recognised() {
        let yes = [
            "-----BEGIN%20CERTIFICATE-----%0AMIIB%2BCCAV%0A-----END%20CERTIFICATE-----%0A",
            "%2D%2D%2D%2D%2DBEGIN%20CERTIFICATE%2D%2D%2D%2D%2D%0AMIIB",
            "%2d%2d%2d%2d%2dBEGIN",
            "%0A-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----%0A",
            "-----BEGIN CERTIFICATE-----\nAA%2BA\n-----END CERTIFICATE-----",
        ];
        for text in yes {
            assert!(looks_double_encoded(text), "{text:?}");
        }
        let no = [
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "discount 100%25 preamble\n\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END \
             CERTIFICATE-----\n",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n\nafterwards: 50%20 off",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\nBag Attributes\n    \
             friendlyName: 100%25 live\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "100% sure",
        ];
        for text in no {
            assert!(!looks_double_encoded(text), "{text:?}");
        }
    }

    #[test]
    fn encode_writes_standard_pem() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = encode("CERTIFICATE", &der);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        assert!(lines[1..lines.len() - 2]
            .iter()
            .all(|l| l.len() == PEM_LINE_LEN));
        assert!(pem.ends_with("-----\n") && !pem.contains('\r'));
        let b = one(&pem);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(b.body)
                .unwrap(),
            der
        );
    }

    #[test]
    fn count_blocks_counts_every_begin() {
        assert_eq!(
            count_blocks(b"-----BEGIN A-----x-----END A----------BEGIN B-----"),
            2
        );
        assert_eq!(count_blocks(b"-----BEGI"), 0);
    }

    /// Pieces of PEM armour and of its usual damage, for the property tests.
    const ARMOUR_FRAGMENTS: &[&str] = &[
        "-----BEGIN ",
        "-----END ",
        "CERTIFICATE",
        "PRIVATE KEY",
        "-----",
        "\n",
        "\r",
        "\\n",
        "\\",
        "%0A",
        "%2D",
        "Proc-Type: 4,ENCRYPTED",
        " ",
        "MIIB",
        "é",
        "\u{feff}",
        ":",
        "%",
    ];

    /// §1's rule one character at a time: what [`normalise`] must give.
    fn normalise_by_chars(text: &str) -> String {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('\r', Some('\n')) | ('\\', Some('n' | 'r')) => {
                    chars.next();
                    out.push('\n');
                }
                ('\r', _) => out.push('\n'),
                ('\\', Some('/')) => {
                    chars.next();
                    out.push('/');
                }
                (other, _) => out.push(other),
            }
        }
        out
    }

    proptest! {
        /// Normalising copies runs whole and changes exactly what the rule changes.
        #[test]
        fn normalise_follows_the_rule(text in "\u{feff}?[ab\\\\/nr\r\né-]{0,40}") {
            prop_assert_eq!(normalise(&text), normalise_by_chars(&text));
        }

        /// The tokenizer never panics, whatever the text.
        #[test]
        fn tokenizer_never_panics(text in "\\PC*") {
            let normalised = normalise(&text);
            let _ = tokenize(&normalised);
            let _ = looks_double_encoded(&normalised);
            let _ = count_blocks(text.as_bytes());
        }

        /// Nor on texts built from armour fragments, which reach the deeper paths.
        #[test]
        fn tokenizer_never_panics_on_armour_fragments(parts in proptest::collection::vec(
            proptest::sample::select(ARMOUR_FRAGMENTS), 0..40,
        )) {
            let text: String = parts.concat();
            let normalised = normalise(&text);
            if let Ok(blocks) = tokenize(&normalised) {
                for b in blocks {
                    let _ = (b.kind(), b.is_encrypted());
                }
            }
            let _ = looks_double_encoded(&normalised);
        }
    }
}
