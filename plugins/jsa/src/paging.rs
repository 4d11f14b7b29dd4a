//! QRadar paging: the `Range: items=x-y` request header (zero-based, inclusive) and the
//! `Content-Range: items x-y/total` response header.
//!
//! - No `Range`: every item, `Content-Range: items 0-(n-1)/n`.
//! - A range past the end is clipped (`items=0-49` over 12 items → `items 0-11/12`).
//! - A range wholly beyond the data returns `[]` with `Content-Range: items */total` (the
//!   RFC 7233 form for "nothing of this total"; QRadar's own header for this case is not
//!   documented). An empty collection answers `items */0` the same way.
//! - Anything else (`bytes=…`, `items=5-2`, `items=-3`, several ranges) is a 422/11.

use crate::errors::ApiError;

/// A requested item range (inclusive bounds, `first <= last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRange {
    /// First item, from 0.
    pub first: u64,
    /// Last item, inclusive.
    pub last: u64,
}

/// The message of every malformed `Range`.
pub const MALFORMED: &str = "Failed to parse Range header. The syntax of the Range header must follow this pattern: items=x-y";

/// Parse the `Range` header, if there is one.
pub fn parse_range(header: Option<&str>) -> Result<Option<ItemRange>, ApiError> {
    let Some(header) = header else {
        return Ok(None);
    };
    let malformed = || ApiError::invalid_parameter(MALFORMED);
    let (unit, spec) = header.trim().split_once('=').ok_or_else(malformed)?;
    if !unit.trim().eq_ignore_ascii_case("items") {
        return Err(malformed());
    }
    let (first, last) = spec.trim().split_once('-').ok_or_else(malformed)?;
    let bound = |s: &str| {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u64>().ok()
    };
    match (bound(first), bound(last)) {
        (Some(first), Some(last)) if first <= last => Ok(Some(ItemRange { first, last })),
        _ => Err(malformed()),
    }
}

/// The page of `items` a range selects, and the `Content-Range` value.
pub fn page<T>(items: Vec<T>, range: Option<ItemRange>) -> (Vec<T>, String) {
    let total = items.len() as u64;
    let (first, last) = match range {
        Some(r) => (r.first, r.last),
        None => (0, u64::MAX),
    };
    if first >= total {
        return (Vec::new(), format!("items */{total}"));
    }
    let last = last.min(total - 1);
    let start = usize::try_from(first).unwrap_or(usize::MAX);
    let count = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
    let page = items.into_iter().skip(start).take(count).collect();
    (page, format!("items {first}-{last}/{total}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(first: u64, last: u64) -> Option<ItemRange> {
        Some(ItemRange { first, last })
    }

    #[test]
    fn parses_items_ranges() {
        assert_eq!(parse_range(None), Ok(None));
        assert_eq!(parse_range(Some("items=0-49")), Ok(range(0, 49)));
        assert_eq!(parse_range(Some(" Items = 3 - 3 ")), Ok(range(3, 3)));
        assert_eq!(
            parse_range(Some("items=0-18446744073709551615")),
            Ok(range(0, u64::MAX))
        );
    }

    #[test]
    fn malformed_ranges_are_422() {
        for bad in [
            "",
            "items",
            "items=",
            "items=5",
            "items=5-",
            "items=-5",
            "items=5-2",
            "items=a-b",
            "items=+1-2",
            "items=1-2,4-5",
            "items=0-99999999999999999999",
            "bytes=0-10",
            "items 0-10",
        ] {
            let e = parse_range(Some(bad)).expect_err(bad);
            assert_eq!((e.status, e.code), (422, 11), "{bad}");
            assert_eq!(e.message, MALFORMED);
        }
    }

    #[test]
    fn pages_and_content_ranges() {
        let items: Vec<u32> = (0..12).collect();
        assert_eq!(
            page(items.clone(), None),
            (items.clone(), "items 0-11/12".to_string())
        );
        // inside
        assert_eq!(
            page(items.clone(), range(2, 4)),
            (vec![2, 3, 4], "items 2-4/12".to_string())
        );
        // partial overlap: clipped
        assert_eq!(
            page(items.clone(), range(10, 49)),
            (vec![10, 11], "items 10-11/12".to_string())
        );
        assert_eq!(
            page(items.clone(), range(0, 49)).1,
            "items 0-11/12".to_string()
        );
        // exactly the last one
        assert_eq!(
            page(items.clone(), range(11, 11)),
            (vec![11], "items 11-11/12".to_string())
        );
        // wholly beyond the end
        assert_eq!(
            page(items.clone(), range(12, 20)),
            (Vec::new(), "items */12".to_string())
        );
        assert_eq!(
            page(items, range(u64::MAX, u64::MAX)),
            (Vec::new(), "items */12".to_string())
        );
        // empty collection
        assert_eq!(
            page(Vec::<u32>::new(), None),
            (Vec::new(), "items */0".to_string())
        );
        assert_eq!(
            page(Vec::<u32>::new(), range(0, 9)),
            (Vec::new(), "items */0".to_string())
        );
    }
}
