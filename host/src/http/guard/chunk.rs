//! Following a chunked body's framing byte by byte, to find where the next request head
//! starts.

/// Where a chunked body's framing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Chunk {
    phase: Phase,
    /// Data bytes left in the current chunk, or the size being read.
    n: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    /// The size's hex digits.
    #[default]
    Size,
    /// After the size: extensions, up to the end of the line.
    Extension,
    /// The data.
    Data,
    /// The line end after the data.
    DataEnd,
    /// A trailer line (or the final empty line), at its start.
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
}

impl Chunk {
    /// Follow `bytes`: how many belong to this body, and whether it ended there (`Some(true)`)
    /// or its framing could not be followed (`Some(false)`, every byte given up to hyper).
    pub(super) fn advance(&mut self, bytes: &[u8]) -> (usize, Option<bool>) {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match self.phase {
                Phase::Size => match (b as char).to_digit(16) {
                    Some(d) => match self.n.checked_mul(16) {
                        Some(n) => self.n = n + u64::from(d),
                        None => return (bytes.len(), Some(false)),
                    },
                    None if b == b'\n' => self.end_of_size_line(),
                    None => self.phase = Phase::Extension,
                },
                Phase::Extension => {
                    if b == b'\n' {
                        self.end_of_size_line();
                    }
                }
                Phase::Data => {
                    let take =
                        usize::try_from(self.n).map_or(bytes.len() - i, |n| n.min(bytes.len() - i));
                    self.n -= take as u64;
                    i += take;
                    if self.n == 0 {
                        self.phase = Phase::DataEnd;
                    }
                    continue;
                }
                Phase::DataEnd => {
                    if b == b'\n' {
                        self.phase = Phase::Size;
                    } else if b != b'\r' {
                        return (bytes.len(), Some(false));
                    }
                }
                Phase::TrailerStart => match b {
                    b'\n' => return (i + 1, Some(true)),
                    b'\r' => {}
                    _ => self.phase = Phase::Trailer,
                },
                Phase::Trailer => {
                    if b == b'\n' {
                        self.phase = Phase::TrailerStart;
                    }
                }
            }
            i += 1;
        }
        (i, None)
    }

    fn end_of_size_line(&mut self) {
        self.phase = if self.n == 0 {
            Phase::TrailerStart
        } else {
            Phase::Data
        };
    }
}
