//! JSA's conventions over the SDK's host: numeric record ids as document keys, the host's
//! microseconds as JSA's milliseconds, and how a failed host call is answered.

use backup_gateway_sdk::{Host, HostError};

use crate::errors::ApiError;

/// A failed host call, logged into the host's trace (clients see only JSA's wording) and
/// answered as [`ApiError::from_host`] does: 503/1000 when a backing service is down, else
/// 500/1000.
pub fn failed(store: &impl Host, what: &str, e: &HostError) -> ApiError {
    store.warn(&format!("{what} failed: {e:?}"));
    ApiError::from_host(e)
}

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
