//! The body idle timeout: a stream of bytes from a client that fails once the client has
//! sent nothing for a given time while it was being waited on.
//!
//! The clock runs only while the consumer waits for the next piece: an upload whose writer
//! is slow (a disk, an S3 part) is not the client's fault, and the bytes the client sent in
//! the meantime are still to be read when the consumer asks again. A stalled client — one
//! that declared 2 GiB and sent ten bytes — otherwise holds its reservation, its org's
//! quota and a place among the uploads in flight for as long as it keeps the connection.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;

/// `inner`, failing with [`std::io::ErrorKind::TimedOut`] when a wait for its next item
/// lasts `idle`.
pub struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    /// Armed when a wait starts; `None` between waits.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> IdleTimeout<S> {
    /// Wrap `inner`.
    pub fn new(inner: S, idle: Duration) -> IdleTimeout<S> {
        IdleTimeout {
            inner,
            idle,
            deadline: None,
        }
    }
}

impl<S, T> Stream for IdleTimeout<S>
where
    S: Stream<Item = std::io::Result<T>> + Unpin,
{
    type Item = std::io::Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            this.deadline = None;
            return Poll::Ready(item);
        }
        let idle = this.idle;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.deadline = None;
                Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the client sent nothing for {} s", idle.as_secs_f64()),
                ))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_times_out_but_a_slow_consumer_does_not_count() {
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<u8>>(4);
        let rx = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let idle = Duration::from_secs(10);
        let mut s = IdleTimeout::new(Box::pin(rx), idle);
        tx.send(Ok(1)).await.unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), 1);
        // the consumer is busy for longer than the timeout; the client sent meanwhile
        tokio::time::sleep(3 * idle).await;
        tx.send(Ok(2)).await.unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), 2);
        // a wait answered well in time
        let quick = tokio::spawn({
            let tx = tx.clone();
            async move {
                tokio::time::sleep(idle / 5).await;
                tx.send(Ok(3)).await.unwrap();
            }
        });
        assert_eq!(s.next().await.unwrap().unwrap(), 3);
        quick.await.unwrap();
        // then silence
        let started = tokio::time::Instant::now();
        let err = s.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), idle, "(the paused clock's time)");
        // and the stream goes on if the client speaks again
        tx.send(Ok(4)).await.unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), 4);
    }
}
