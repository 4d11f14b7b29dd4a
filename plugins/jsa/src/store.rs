//! JSA's conventions over the SDK's host: numeric record ids as document keys, and the
//! host's microseconds as JSA's milliseconds.

/// The document key of a numeric id: 20 zero-padded digits, so key order is id order.
pub fn key_of(id: u64) -> String {
    format!("{id:020}")
}

/// Milliseconds since the epoch from the host's microseconds.
pub fn millis(micros: u64) -> u64 {
    micros / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_like_ids() {
        assert_eq!(key_of(7), "00000000000000000007");
        assert!(key_of(9) < key_of(10));
        assert_eq!(key_of(u64::MAX).len(), 20);
        assert_eq!(millis(1_700_000_000_123_456), 1_700_000_000_123);
    }
}
