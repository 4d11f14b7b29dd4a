//! `ids`, `clock` and `log`: identifiers (UUIDv4, UUIDv7, ULID, per-org sequences), the
//! time, and the plugin's log lines tagged with its name and the request id.

use super::InstanceState;
use crate::plugins::bindings::{clock, ids, log, types};
use crate::store::now_micros;

impl ids::Host for InstanceState {
    fn uuid_v4(&mut self) -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn uuid_v7(&mut self) -> String {
        uuid::Uuid::now_v7().to_string()
    }

    fn ulid(&mut self) -> String {
        ulid_from(uuid::Uuid::now_v7())
    }

    fn next_in_sequence(&mut self, name: String) -> Result<u64, types::HostError> {
        self.with_db(async |s| s.next_in_sequence(&name).await)
            .map(|v| u64::try_from(v).unwrap_or(0))
    }
}

/// A ULID from a UUIDv7's bits: 48-bit millisecond time then randomness, in Crockford base32.
pub fn ulid_from(u: uuid::Uuid) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let n = u.as_u128();
    (0..26)
        .rev()
        .map(|i| ALPHABET[((n >> (i * 5)) & 0x1f) as usize] as char)
        .collect()
}

impl clock::Host for InstanceState {
    fn now(&mut self) -> u64 {
        u64::try_from(now_micros()).unwrap_or(0)
    }
}

impl log::Host for InstanceState {
    fn log(&mut self, level: log::Level, message: String) {
        let mut message = message;
        if message.len() > 2048 {
            let mut cut = 2048;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let plugin = self.plugin();
        let rid = &self.ctx.request_id;
        match level {
            log::Level::Debug => tracing::debug!(plugin, request_id = %rid, "{message}"),
            log::Level::Info => tracing::info!(plugin, request_id = %rid, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, request_id = %rid, "{message}"),
            log::Level::Error => tracing::error!(plugin, request_id = %rid, "{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulid_is_26_crockford_chars_and_time_ordered() {
        let a = ulid_from(uuid::Uuid::now_v7());
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ulid_from(uuid::Uuid::now_v7());
        assert_eq!(a.len(), 26);
        assert!(
            a.chars()
                .all(|c| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c))
        );
        assert!(a < b);
    }
}
