//! HostUp's public ids. The host names jobs, backups and requests with UUIDs (text); HostUp
//! shows `job_…`, `bkp_…` and `req_…` followed by a 26-character lower-case Crockford base32
//! ULID. The ULID form is the UUID's 128 bits re-encoded, so the mapping is a bijection and a
//! public id leads straight back to the host id with no lookup table.

/// Prefix of a public job id.
pub const JOB_PREFIX: &str = "job_";
/// Prefix of a public backup id.
pub const BACKUP_PREFIX: &str = "bkp_";
/// Prefix of a public request id.
pub const REQUEST_PREFIX: &str = "req_";

/// Crockford's base32 alphabet, lower case (no `i`, `l`, `o`, `u`).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Characters in a ULID.
const ULID_LEN: usize = 26;
/// Characters in a hyphenated UUID.
const UUID_LEN: usize = 36;
/// Offsets of the hyphens in a hyphenated UUID.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// The 128 bits of a hyphenated UUID (`8-4-4-4-12` hex digits, either case); `None` for
/// anything else (braces, `urn:uuid:`, missing hyphens).
pub fn parse_uuid(text: &str) -> Option<u128> {
    let bytes = text.as_bytes();
    if bytes.len() != UUID_LEN {
        return None;
    }
    let mut value: u128 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if HYPHENS.contains(&i) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let digit = char::from(b).to_digit(16)?;
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// A UUID's 128 bits as lower-case hyphenated text.
pub fn format_uuid(value: u128) -> String {
    let hex = format!("{value:032x}");
    // The hex string is ASCII and exactly 32 characters, so these slices are in bounds.
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// 128 bits as a lower-case ULID: the first character carries the top 3 bits, the other 25
/// five bits each.
pub fn encode_ulid(value: u128) -> String {
    (0..ULID_LEN)
        .map(|i| {
            let shift = 125 - 5 * i;
            char::from(ALPHABET[((value >> shift) & 31) as usize])
        })
        .collect()
}

/// The 128 bits of a lower-case ULID; `None` unless it is exactly 26 characters of the
/// alphabet with a first character of at most `7` (more would overflow 128 bits).
pub fn decode_ulid(text: &str) -> Option<u128> {
    let bytes = text.as_bytes();
    if bytes.len() != ULID_LEN {
        return None;
    }
    let mut value: u128 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let digit = ALPHABET.iter().position(|&a| a == b)? as u128;
        if i == 0 && digit > 7 {
            return None;
        }
        value = (value << 5) | digit;
    }
    Some(value)
}

/// A host UUID in ULID form.
pub fn uuid_to_ulid(uuid: &str) -> Option<String> {
    parse_uuid(uuid).map(encode_ulid)
}

/// A ULID as the host's lower-case hyphenated UUID.
pub fn ulid_to_uuid(ulid: &str) -> Option<String> {
    decode_ulid(ulid).map(format_uuid)
}

/// The public id (`prefix` + ULID) of a host id; `None` when the host id is not a UUID.
pub fn public_id(prefix: &str, host_id: &str) -> Option<String> {
    uuid_to_ulid(host_id).map(|ulid| format!("{prefix}{ulid}"))
}

/// The host id a public id names; `None` unless it is `prefix` + a ULID.
pub fn host_id(prefix: &str, public: &str) -> Option<String> {
    public.strip_prefix(prefix).and_then(ulid_to_uuid)
}

/// The `requestId` clients see: `req_` + the ULID form of the host's request id when that is
/// a UUID, else the host's id unchanged (so it still matches the `x-request-id` header).
pub fn request_id(host_request_id: &str) -> String {
    public_id(REQUEST_PREFIX, host_request_id).unwrap_or_else(|| host_request_id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ULID specification's example and its UUID twin.
    const SPEC_ULID: &str = "01arz3ndektsv4rrffq69g5fav";
    const SPEC_UUID: &str = "01563e3a-b5d3-d676-4c61-efb99302bd5b";

    #[test]
    fn converts_the_reference_vector_both_ways() {
        assert_eq!(uuid_to_ulid(SPEC_UUID).as_deref(), Some(SPEC_ULID));
        assert_eq!(ulid_to_uuid(SPEC_ULID).as_deref(), Some(SPEC_UUID));
        // Upper-case UUID hex is read too; output is always lower case.
        assert_eq!(
            uuid_to_ulid(&SPEC_UUID.to_uppercase()).as_deref(),
            Some(SPEC_ULID)
        );
    }

    #[test]
    fn the_documented_example_ids_decode() {
        let uuid = ulid_to_uuid("01hxa3b4c5d6e7f8g9h0j1k2m3").expect("valid ULID");
        assert_eq!(uuid, "018f5435-9185-699c-77a2-098824198a83");
        assert_eq!(
            public_id(JOB_PREFIX, &uuid).as_deref(),
            Some("job_01hxa3b4c5d6e7f8g9h0j1k2m3")
        );
    }

    #[test]
    fn extremes_round_trip() {
        for value in [0, 1, u128::MAX, u128::MAX >> 1, 1 << 127] {
            let ulid = encode_ulid(value);
            assert_eq!(ulid.len(), 26);
            assert_eq!(decode_ulid(&ulid), Some(value), "{ulid}");
            assert_eq!(parse_uuid(&format_uuid(value)), Some(value));
        }
        assert_eq!(encode_ulid(0), "00000000000000000000000000");
        assert_eq!(encode_ulid(u128::MAX), "7zzzzzzzzzzzzzzzzzzzzzzzzz");
    }

    #[test]
    fn host_uuidv7_round_trips_through_public_ids() {
        let host = "01934fab-bc33-7890-a1b2-c3d4e5f6a7b8";
        for prefix in [JOB_PREFIX, BACKUP_PREFIX] {
            let public = public_id(prefix, host).expect("UUID");
            assert!(public.starts_with(prefix));
            assert_eq!(public.len(), prefix.len() + 26);
            assert_eq!(host_id(prefix, &public).as_deref(), Some(host));
        }
    }

    #[test]
    fn rejects_malformed_ulids() {
        let cases = [
            "",
            "01arz3ndektsv4rrffq69g5fa",   // 25 characters
            "01arz3ndektsv4rrffq69g5fav0", // 27 characters
            "81arz3ndektsv4rrffq69g5fav",  // overflows 128 bits
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",  // upper case
            "01arz3ndektsv4rrffq69g5fai",  // i is not in the alphabet
            "01arz3ndektsv4rrffq69g5fal",
            "01arz3ndektsv4rrffq69g5fao",
            "01arz3ndektsv4rrffq69g5fau",
            "01arz3ndektsv4rrffq69g5fa-",
            "01arz3ndektsv4rrffq69g5fé", // 26 bytes, not 26 characters of the alphabet
        ];
        for case in cases {
            assert_eq!(decode_ulid(case), None, "{case}");
        }
    }

    #[test]
    fn rejects_malformed_uuids() {
        let cases = [
            "",
            "01563e3ab5d3d6764c61efb99302bd5b",
            "{01563e3a-b5d3-d676-4c61-efb99302bd5b}",
            "01563e3a-b5d3-d676-4c61-efb99302bd5",
            "01563e3a-b5d3-d676-4c61-efb99302bd5g",
            "01563e3a_b5d3-d676-4c61-efb99302bd5b",
            "01563e3ab-5d3-d676-4c61-efb99302bd5b",
            "+1563e3a-b5d3-d676-4c61-efb99302bd5b",
        ];
        for case in cases {
            assert_eq!(parse_uuid(case), None, "{case}");
        }
    }

    #[test]
    fn public_ids_need_their_own_prefix() {
        let job = format!("{JOB_PREFIX}{SPEC_ULID}");
        assert_eq!(host_id(JOB_PREFIX, &job).as_deref(), Some(SPEC_UUID));
        assert_eq!(host_id(BACKUP_PREFIX, &job), None);
        assert_eq!(host_id(JOB_PREFIX, SPEC_ULID), None);
        assert_eq!(host_id(JOB_PREFIX, SPEC_UUID), None);
        assert_eq!(host_id(JOB_PREFIX, &format!("JOB_{SPEC_ULID}")), None);
        assert_eq!(public_id(JOB_PREFIX, "42"), None);
    }

    #[test]
    fn request_ids_are_ulid_form_when_the_host_id_is_a_uuid() {
        assert_eq!(request_id(SPEC_UUID), format!("req_{SPEC_ULID}"));
        assert_eq!(request_id("req-1"), "req-1");
        assert_eq!(request_id(""), "");
    }
}
