//! The opaque `cursor` of `GET /api/v2/vps`: the id of the last VPS on the previous page,
//! base64url-encoded without padding (RFC 4648 §5). Decoding is strict (canonical encodings
//! only) so that one position has exactly one cursor.

/// The base64url alphabet.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The cursor that resumes after the VPS `last_id`.
pub fn encode(last_id: &str) -> String {
    let bytes = last_id.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // A chunk of k bytes yields k + 1 characters.
        for i in 0..=chunk.len() {
            let sextet = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[sextet as usize]));
        }
    }
    out
}

/// The VPS id a cursor resumes after; `None` for anything that is not the canonical unpadded
/// base64url encoding of a non-empty UTF-8 string.
pub fn decode(cursor: &str) -> Option<String> {
    let chars = cursor.as_bytes();
    if chars.is_empty() || chars.len() % 4 == 1 {
        return None;
    }
    let mut bytes = Vec::with_capacity(chars.len() / 4 * 3 + 2);
    for chunk in chars.chunks(4) {
        let mut n: u32 = 0;
        for &c in chunk {
            let sextet = ALPHABET.iter().position(|&a| a == c)? as u32;
            n = (n << 6) | sextet;
        }
        // Left-align a short final chunk to 24 bits.
        n <<= 6 * (4 - chunk.len() as u32);
        let produced = chunk.len() - 1;
        // Bits below the produced bytes must be zero in a canonical encoding.
        let unused_bits = 24 - 8 * produced as u32;
        if n & ((1 << unused_bits) - 1) != 0 {
            return None;
        }
        for i in 0..produced {
            bytes.push((n >> (16 - 8 * i)) as u8);
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_rfc_4648_base64url_without_padding() {
        assert_eq!(
            encode("vps_01hxa3b4c5d6e7f8g9h0j1k2m3"),
            "dnBzXzAxaHhhM2I0YzVkNmU3ZjhnOWgwajFrMm0z"
        );
        assert_eq!(encode("ab"), "YWI");
        assert_eq!(encode("a"), "YQ");
        assert_eq!(encode("abc"), "YWJj");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn round_trips() {
        for id in [
            "a",
            "ab",
            "abc",
            "abcd",
            "vps_01hxa3b4c5d6e7f8g9h0j1k2m3",
            "vps-é/ü?",
        ] {
            assert_eq!(decode(&encode(id)).as_deref(), Some(id), "{id}");
        }
    }

    #[test]
    fn uses_the_url_safe_alphabet() {
        // 0xfb 0xff 0xfe → "-__-" in base64url ("+//+" in standard base64) and is not UTF-8.
        assert_eq!(decode("-__-"), None);
        assert_eq!(encode("~~~"), "fn5-");
        assert_eq!(decode("fn5-").as_deref(), Some("~~~"));
    }

    #[test]
    fn rejects_non_canonical_and_foreign_input() {
        let cases = [
            "",
            "Y",    // a lone character carries no whole byte
            "YWI=", // padding
            "YR",   // non-zero trailing bits ("YQ" is canonical)
            "YWJ",  // non-zero trailing bits ("YWI" is canonical)
            "YW+j", // standard-alphabet character
            "YW/j",
            "YW j",
            "not a cursor!",
        ];
        for case in cases {
            assert_eq!(decode(case), None, "{case}");
        }
    }
}
