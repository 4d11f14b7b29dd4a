//! The connection guard: every request head is checked before hyper sees it, so that a
//! request hyper would refuse on its own — with a bare status and no body — is refused in
//! the provider's own format instead, and a client that stops reading its response is let go.
//!
//! hyper answers a malformed head (a raw non-UTF-8 byte in the path, an oversized path or
//! header block, an invalid or doubled `Content-Length`) itself, with an empty body and no
//! `Content-Type`, and offers no hook. So [`Guard`] sits between the socket and hyper: it
//! withholds each request head until it is complete, checks it with the parser hyper uses
//! (httparse) plus the checks hyper adds after it and the gateway's own limits, and then
//! either releases it, or replaces it with a synthetic request carrying this connection's
//! secret token ([`Guard::token`]) and records the [`Refusal`], which the connection's service
//! renders through the plugin that owns the path (`serve.rs`); the client's remaining bytes
//! are discarded and the connection closes after that answer. To find where each head starts
//! it follows the framing of the body before it (`Content-Length`, or chunked).
//!
//! Writes that make no progress for the send timeout fail, so a client that reads nothing
//! of a download cannot hold its connection (and an open object) forever. Closing, the
//! guard lingers ([`Linger`]) so that an early answer survives the client's unread bytes. Reads are not
//! timed here: hyper's header-read timeout covers heads and idle keep-alive connections,
//! and the body idle timeout ([`crate::ingest::IdleTimeout`]) covers bodies.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

mod chunk;
mod head;

use chunk::Chunk;
use head::{Check, check_head};
pub use head::{HeadLimits, Reason, Refusal};

/// The most bytes read from the socket at once while a head or a chunked body's framing is
/// looked at.
const SCRATCH: usize = 16 * 1024;

/// How the bytes after the current head are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a head.
    Head,
    /// A body of this many bytes still to pass.
    Body(u64),
    /// A chunked body.
    Chunked(Chunk),
    /// Framing lost (a chunked body this guard could not follow): pass everything through,
    /// hyper's own checks apply.
    Untracked,
    /// A head was refused: after the synthetic request, nothing more is read.
    Closed,
}

/// A socket with its request heads checked (see the module docs).
pub struct Guard<IO> {
    io: IO,
    limits: HeadLimits,
    state: State,
    /// Bytes read but not yet looked at.
    pending: Vec<u8>,
    /// Bytes looked at and released, not yet read by hyper.
    ready: Vec<u8>,
    ready_at: usize,
    token: Arc<str>,
    refused: Arc<Mutex<Option<Refusal>>>,
    send_timeout: Duration,
    stalled_since: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Once the write side is shut: how long and how much more is read and discarded.
    linger: Option<Linger>,
}

/// A lingering close (nginx's `lingering_close`): after its last response the server shuts
/// its write side, then reads and discards what the client still sends for a moment before
/// closing. Closed at once with unread bytes in its buffer, the socket would answer them with
/// a reset, which can destroy the response before the client has read it — the 413, 429 or
/// 400 sent before an upload's body was read.
struct Linger {
    until: Pin<Box<tokio::time::Sleep>>,
    left: usize,
}

/// At most this long, and this many bytes, of a lingering close.
const LINGER: Duration = Duration::from_secs(3);
const LINGER_BYTES: usize = 4 * 1024 * 1024;

impl<IO> Guard<IO> {
    /// Guard `io`.
    pub fn new(io: IO, limits: HeadLimits, send_timeout: Duration) -> Guard<IO> {
        Guard {
            io,
            limits,
            state: State::Head,
            pending: Vec::new(),
            ready: Vec::new(),
            ready_at: 0,
            token: uuid::Uuid::new_v4().simple().to_string().into(),
            refused: Arc::new(Mutex::new(None)),
            send_timeout,
            stalled_since: None,
            linger: None,
        }
    }

    /// The value of [`TOKEN_HEADER`] on this connection's synthetic request.
    pub fn token(&self) -> Arc<str> {
        self.token.clone()
    }

    /// Where a refusal is recorded for the synthetic request to find.
    pub fn refusals(&self) -> Arc<Mutex<Option<Refusal>>> {
        self.refused.clone()
    }

    /// Look at what is pending: release what may pass, or refuse a head. False when more
    /// bytes are needed.
    fn advance(&mut self) -> bool {
        match self.state {
            State::Head => match check_head(&self.pending, &self.limits) {
                Check::Partial => false,
                Check::Pass(len, next) => {
                    self.release(len);
                    self.state = next;
                    true
                }
                Check::Refuse(refusal) => {
                    self.refuse(refusal);
                    true
                }
            },
            State::Body(left) => {
                let n =
                    usize::try_from(left).map_or(self.pending.len(), |l| l.min(self.pending.len()));
                self.release(n);
                self.state = match left - n as u64 {
                    0 => State::Head,
                    rest => State::Body(rest),
                };
                n > 0
            }
            State::Chunked(mut chunk) => {
                let (n, end) = chunk.advance(&self.pending);
                self.release(n);
                self.state = match end {
                    Some(true) => State::Head,
                    Some(false) => State::Untracked,
                    None => State::Chunked(chunk),
                };
                n > 0 || end.is_some()
            }
            State::Untracked => {
                let n = self.pending.len();
                self.release(n);
                n > 0
            }
            State::Closed => {
                self.pending.clear();
                false
            }
        }
    }

    /// Move the first `n` pending bytes to the released ones.
    fn release(&mut self, n: usize) {
        if self.ready_at == self.ready.len() {
            self.ready.clear();
            self.ready_at = 0;
        }
        self.ready.extend(self.pending.drain(..n));
    }

    fn refuse(&mut self, refusal: Refusal) {
        tracing::info!(reason = ?refusal.reason, path = %refusal.path, "request head refused at the edge");
        if let Ok(mut slot) = self.refused.lock() {
            *slot = Some(refusal);
        }
        self.pending.clear();
        let synthetic = format!(
            "GET / HTTP/1.1\r\nhost: edge\r\n{TOKEN_HEADER}: {}\r\nconnection: close\r\n\r\n",
            self.token
        );
        self.ready.extend_from_slice(synthetic.as_bytes());
        self.state = State::Closed;
    }
}

/// The header naming a connection's synthetic request (the value is its secret token).
pub const TOKEN_HEADER: &str = "x-gateway-edge-refusal";

impl<IO: AsyncRead + Unpin> AsyncRead for Guard<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready_at < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.ready_at);
                buf.put_slice(&this.ready[this.ready_at..this.ready_at + n]);
                this.ready_at += n;
                return Poll::Ready(Ok(()));
            }
            match this.state {
                // nothing more, ever: not an end of stream, which hyper would take for the
                // client going away and drop the synthetic request unanswered
                State::Closed => return Poll::Pending,
                // the bulk of a body goes straight into hyper's buffer
                State::Untracked if this.pending.is_empty() => {
                    return Pin::new(&mut this.io).poll_read(cx, buf);
                }
                State::Body(left)
                    if this.pending.is_empty() && (buf.remaining() as u64) <= left =>
                {
                    let before = buf.filled().len();
                    ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
                    let n = (buf.filled().len() - before) as u64;
                    this.state = if n == left {
                        State::Head
                    } else {
                        State::Body(left - n)
                    };
                    return Poll::Ready(Ok(()));
                }
                _ => {}
            }
            if !this.pending.is_empty() && this.advance() {
                continue;
            }
            // more bytes to look at
            let mut scratch = [0u8; SCRATCH];
            let mut sbuf = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut sbuf))?;
            if sbuf.filled().is_empty() {
                // end of stream: whatever is pending goes to hyper, which sees the truncation
                let n = this.pending.len();
                this.release(n);
                if this.ready_at == this.ready.len() {
                    return Poll::Ready(Ok(()));
                }
                this.state = State::Untracked;
                continue;
            }
            this.pending.extend_from_slice(sbuf.filled());
            this.advance();
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Guard<IO> {
    /// A write's outcome under the send timeout: pending writes start (or keep) a clock,
    /// which fails the write once it reaches the timeout.
    fn timed<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match r {
            Poll::Ready(r) => {
                self.stalled_since = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.send_timeout;
                let clock = self
                    .stalled_since
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match clock.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client read nothing of its response for the send timeout",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guard<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, data);
        this.timed(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.timed(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_flush(cx);
        this.timed(cx, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.linger.is_none() {
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            // between requests with nothing unread, there is nothing to linger for
            if this.state == State::Head && this.pending.is_empty() {
                return Poll::Ready(Ok(()));
            }
            this.linger = Some(Linger {
                until: Box::pin(tokio::time::sleep(LINGER)),
                left: LINGER_BYTES,
            });
        }
        let Some(linger) = this.linger.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let mut scratch = [0u8; SCRATCH];
        while linger.left > 0 {
            let mut sbuf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.io).poll_read(cx, &mut sbuf) {
                Poll::Ready(Ok(())) if !sbuf.filled().is_empty() => {
                    linger.left = linger.left.saturating_sub(sbuf.filled().len());
                }
                // the client's end, or an error: nothing more to wait for
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return linger.until.as_mut().poll(cx).map(Ok),
            }
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests;
