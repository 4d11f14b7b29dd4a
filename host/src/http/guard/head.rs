//! Checking one request head as hyper would parse it (httparse plus the checks hyper adds
//! after it) under the gateway's limits: released with the framing of what follows it, or
//! refused with what is known of it.

use super::State;
use super::chunk::Chunk;

/// Limits a request head must keep.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// Longest request target, bytes.
    pub max_uri_bytes: usize,
    /// Largest head, bytes.
    pub max_header_bytes: usize,
    /// Most header fields.
    pub max_headers: usize,
}

/// Why a head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The request line or a header is malformed.
    Malformed,
    /// The request target is not a URI (a byte that is not UTF-8, a control character).
    InvalidTarget,
    /// The request target is longer than the limit.
    TargetTooLong,
    /// The head is larger than the limit.
    HeadTooLarge,
    /// More header fields than the limit.
    TooManyHeaders,
    /// `Content-Length` is not one decimal number, or appears more than once.
    InvalidContentLength,
    /// `Transfer-Encoding` other than a final `chunked`, with `Content-Length`, or on
    /// HTTP/1.0.
    InvalidTransferEncoding,
}

/// A refused head: what is known of it, for the plugin that renders the answer.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Why.
    pub reason: Reason,
    /// The method, if the request line had one.
    pub method: Option<String>,
    /// The target's path, lossily decoded (for finding the plugin that owns it).
    pub path: String,
}

/// What a look at a (possibly partial) head decides.
#[derive(Debug)]
pub(super) enum Check {
    /// Incomplete, within the limits: read more.
    Partial,
    /// A head of this many bytes, and how what follows it is framed.
    Pass(usize, State),
    /// Refused.
    Refuse(Refusal),
}

/// Check the head at the start of `bytes` as hyper would parse it, under `limits`.
pub(super) fn check_head(bytes: &[u8], limits: &HeadLimits) -> Check {
    let refuse = |reason| Check::Refuse(refusal(bytes, reason));
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            let target = request_line(bytes).map_or(0, |(_, target, _)| target.len());
            return if target > limits.max_uri_bytes {
                refuse(Reason::TargetTooLong)
            } else if bytes.len() > limits.max_header_bytes {
                refuse(Reason::HeadTooLarge)
            } else {
                Check::Partial
            };
        }
        Err(httparse::Error::TooManyHeaders) => return refuse(Reason::TooManyHeaders),
        Err(httparse::Error::Token) if req.method.is_some() && req.path.is_none() => {
            return refuse(Reason::InvalidTarget);
        }
        Err(_) => return refuse(Reason::Malformed),
    };
    if len > limits.max_header_bytes {
        return refuse(Reason::HeadTooLarge);
    }
    let target = req.path.unwrap_or_default();
    if target.len() > limits.max_uri_bytes {
        return refuse(Reason::TargetTooLong);
    }
    if http::Uri::try_from(target).is_err() {
        return refuse(Reason::InvalidTarget);
    }
    match framing(req.headers, req.version == Some(1)) {
        Ok(next) => Check::Pass(len, next),
        Err(reason) => refuse(reason),
    }
}

/// How the body after a head is framed, by hyper's rules, and stricter where two readers
/// of the same bytes could disagree (request smuggling): one `Content-Length` only, never
/// beside `Transfer-Encoding`.
fn framing(headers: &[httparse::Header<'_>], http11: bool) -> Result<State, Reason> {
    let mut length: Option<u64> = None;
    let mut codings: Vec<String> = Vec::new();
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(h.value).map_err(|_| Reason::InvalidContentLength)?;
            let value = value.trim_matches([' ', '\t']);
            if length.is_some() || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Reason::InvalidContentLength);
            }
            length = Some(value.parse().map_err(|_| Reason::InvalidContentLength)?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let value =
                std::str::from_utf8(h.value).map_err(|_| Reason::InvalidTransferEncoding)?;
            codings.extend(value.split(',').map(|c| c.trim().to_ascii_lowercase()));
        }
    }
    if codings.is_empty() {
        return Ok(match length {
            Some(n) if n > 0 => State::Body(n),
            _ => State::Head,
        });
    }
    let chunked_last = codings.last().is_some_and(|c| c == "chunked")
        && codings.iter().filter(|c| *c == "chunked").count() == 1;
    if length.is_some() || !http11 || !chunked_last {
        return Err(Reason::InvalidTransferEncoding);
    }
    Ok(State::Chunked(Chunk::default()))
}

/// The request line's method and target (as far as it goes), and whether the target is
/// complete; `None` before the method's end.
fn request_line(bytes: &[u8]) -> Option<(&[u8], &[u8], bool)> {
    let start = bytes.iter().position(|b| !matches!(b, b'\r' | b'\n'))?;
    let line = &bytes[start..];
    let sp = line.iter().position(|&b| b == b' ')?;
    let rest = &line[sp + 1..];
    Some(
        match rest
            .iter()
            .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        {
            Some(end) => (&line[..sp], &rest[..end], true),
            None => (&line[..sp], rest, false),
        },
    )
}

/// What is known of a refused head.
fn refusal(bytes: &[u8], reason: Reason) -> Refusal {
    let (method, target) = match request_line(bytes) {
        Some((m, t, _)) => (Some(m), t),
        None => (None, &[][..]),
    };
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    // enough of the path to find its owner, never a huge string
    let path = String::from_utf8_lossy(&path[..path.len().min(1024)]).into_owned();
    let method = method
        .filter(|m| !m.is_empty() && m.iter().all(u8::is_ascii_alphabetic))
        .map(|m| String::from_utf8_lossy(m).into_owned());
    Refusal {
        reason,
        method,
        path,
    }
}
