//! Chunking, dedup and the index on SQLite; helpers other tests of the store reuse.

use std::collections::HashSet;

use super::index::placeholders;
use super::*;

/// Deterministic pseudo-random bytes (xorshift), for tests across the crate.
pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn cut_all(data: &[u8], piece: usize) -> Vec<Bytes> {
    let mut c = Chunker::default();
    let mut out = Vec::new();
    for p in data.chunks(piece) {
        c.push(p);
        while let Some(ch) = c.next_chunk(false) {
            out.push(ch);
        }
    }
    while let Some(ch) = c.next_chunk(true) {
        out.push(ch);
    }
    out
}

#[test]
fn chunks_reassemble_and_do_not_depend_on_how_the_stream_arrives() {
    let data = pseudo_random(3 * 1024 * 1024 + 17, 7);
    let a = cut_all(&data, 1000);
    let b = cut_all(&data, 256 * 1024);
    assert_eq!(a, b, "boundaries depend on content only");
    assert_eq!(a.concat(), data);
    assert!(a.iter().all(|c| c.len() <= MAX_CHUNK as usize));
    assert!(
        a[..a.len() - 1]
            .iter()
            .all(|c| c.len() >= MIN_CHUNK as usize)
    );
    let avg = data.len() / a.len();
    assert!(
        (AVG_CHUNK as usize / 2..AVG_CHUNK as usize * 2).contains(&avg),
        "average {avg}"
    );
}

#[test]
fn an_edit_changes_only_nearby_chunks() {
    let data = pseudo_random(4 * 1024 * 1024, 11);
    let mut edited = data.clone();
    // an insertion shifts every later byte; content-defined boundaries resynchronise
    edited.splice(2_000_000..2_000_000, pseudo_random(100, 3));
    let before: HashSet<Bytes> = cut_all(&data, 65536).into_iter().collect();
    let after = cut_all(&edited, 65536);
    let new: usize = after
        .iter()
        .filter(|c| !before.contains(*c))
        .map(Bytes::len)
        .sum();
    assert!(new <= 4 * MAX_CHUNK as usize, "{new} new bytes");
}

#[test]
fn slices_cut_across_segments() {
    let segs = vec![
        Segment {
            key: "a".into(),
            range: 10..20,
        },
        Segment {
            key: "b".into(),
            range: 0..5,
        },
        Segment {
            key: "a".into(),
            range: 30..40,
        },
    ];
    let s = slice(&segs, 5..17);
    assert_eq!(
        s,
        vec![
            Segment {
                key: "a".into(),
                range: 15..20
            },
            Segment {
                key: "b".into(),
                range: 0..5
            },
            Segment {
                key: "a".into(),
                range: 30..32
            },
        ]
    );
    assert_eq!(
        slice(&segs, 0..25)
            .iter()
            .map(|s| s.range.end - s.range.start)
            .sum::<u64>(),
        25
    );
    assert!(slice(&segs, 25..25).is_empty());
}

#[test]
fn placeholders_number_rows() {
    assert_eq!(placeholders(3, 2, 1), "$3, $4");
    assert_eq!(placeholders(1, 2, 2), "($1, $2), ($3, $4)");
}
