//! How a backup appears to clients: the `BackupFile` object (`filename`, human-readable `size`,
//! `date`, `time`, `created_at`), and the rules behind each field.

use backup_gateway_sdk::{backups::Backup, civil, rfc3339};
use serde_json::{Map, Value};

/// Units of [`human_size`], each 1024 times the one before.
const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];

/// A byte count as the legacy API shows it: base 1024, one decimal, units B/KB/MB/GB.
///
/// The rule: take the largest unit not larger than the size (bytes below 1 KiB stay in `B`),
/// divide, round half up to one decimal; if that rounds to 1024.0 move to the next unit
/// (`1048575` is `1.0MB`, not `1024.0KB`). `GB` is the largest unit (`5120.0GB` for 5 TiB).
/// Sizes below 1 KiB keep the decimal too (`3.0B`), like the legacy `"3.1B"` examples.
pub fn human_size(bytes: u64) -> String {
    let bytes = u128::from(bytes);
    let mut unit = 0;
    while unit + 1 < UNITS.len() && bytes >= 1024u128.pow(unit as u32 + 1) {
        unit += 1;
    }
    let tenths = |unit: usize| {
        let divisor = 1024u128.pow(unit as u32);
        // round half up: (bytes * 10 / divisor) + 0.5, in integers.
        (bytes * 20 + divisor) / (2 * divisor)
    };
    let mut t = tenths(unit);
    if t >= 10_240 && unit + 1 < UNITS.len() {
        unit += 1;
        t = tenths(unit);
    }
    format!("{}.{}{}", t / 10, t % 10, UNITS[unit])
}

/// `DD/MM/YYYY` of a timestamp (µs since the epoch), UTC.
pub fn date(micros: u64) -> String {
    let (y, mo, d, ..) = civil(micros / 1_000_000);
    format!("{d:02}/{mo:02}/{y:04}")
}

/// `HH:MM:SS` of a timestamp (µs since the epoch), UTC.
pub fn time(micros: u64) -> String {
    let (.., h, mi, s) = civil(micros / 1_000_000);
    format!("{h:02}:{mi:02}:{s:02}")
}

/// The `BackupFile` object of a backup: its filename (the id clients use), size, date and
/// time (UTC) and `created_at` (RFC 3339 with microseconds and `Z`).
pub fn backup_file(backup: &Backup) -> Map<String, Value> {
    let mut file = Map::new();
    file.insert("filename".into(), backup.filename.clone().into());
    file.insert("size".into(), human_size(backup.size).into());
    file.insert("date".into(), date(backup.created_at).into());
    file.insert("time".into(), time(backup.created_at).into());
    file.insert("created_at".into(), rfc3339(backup.created_at, 6).into());
    file
}

/// A filename safe inside `Content-Disposition: attachment; filename="…"`: characters outside
/// `[A-Za-z0-9._-]` become `_`, so no quote, backslash or control character reaches the header.
pub fn attachment_name(filename: &str) -> String {
    let safe: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        "backup.rsc".into()
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_documented_rule() {
        let cases = [
            (0, "0.0B"),
            (3, "3.0B"),
            (1023, "1023.0B"),
            (1024, "1.0KB"),
            (1075, "1.0KB"),    // 1.0498 rounds down
            (1076, "1.1KB"),    // 1.0508 rounds up
            (12_595, "12.3KB"), // the seed's "12.3KB"
            (1_048_575, "1.0MB"),
            (1_048_576, "1.0MB"),
            (1_258_291, "1.2MB"),
            (1_073_741_823, "1.0GB"),
            (1_073_741_824, "1.0GB"),
            (5 * 1024 * 1_073_741_824, "5120.0GB"),
            (u64::MAX, "17179869184.0GB"),
        ];
        for (bytes, text) in cases {
            assert_eq!(human_size(bytes), text, "{bytes}");
        }
    }

    #[test]
    fn tenths_round_half_up() {
        assert_eq!(human_size(1536), "1.5KB"); // 1.5 exactly
        assert_eq!(human_size(1587), "1.5KB"); // 1.5498…
        assert_eq!(human_size(1588), "1.6KB"); // 1.5508…
        assert_eq!(human_size(2304), "2.3KB"); // 2.25 exactly: half up
    }

    #[test]
    fn dates_and_times_are_utc() {
        // 2024-11-25T20:50:00.123456Z
        let micros = 1_732_567_800_123_456;
        assert_eq!(date(micros), "25/11/2024");
        assert_eq!(time(micros), "20:50:00");
        assert_eq!(date(0), "01/01/1970");
        assert_eq!(time(0), "00:00:00");
        // 2000-02-29T23:59:59Z
        assert_eq!(date(951_868_799_000_000), "29/02/2000");
        assert_eq!(time(951_868_799_000_000), "23:59:59");
    }

    #[test]
    fn attachment_names_are_header_safe() {
        assert_eq!(attachment_name("1732567800.rsc"), "1732567800.rsc");
        assert_eq!(attachment_name("a \"b\"\\c\r\n.rsc"), "a__b__c__.rsc");
        assert_eq!(attachment_name("écrit.rsc"), "_crit.rsc");
        assert_eq!(attachment_name(""), "backup.rsc");
    }
}
