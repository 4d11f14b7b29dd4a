//! Capture sources and restore targets, as configured for a resource: a file (streamed as
//! is), a directory (streamed as a tar archive built on a blocking thread), or an http URL
//! (streamed from the response body).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};

use crate::config::SourceConfig;
use crate::ingest::Size;

/// A source that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The resource has no source configured.
    #[error("the resource has no capture source")]
    Missing,
    /// Reading it failed.
    #[error("cannot read the source: {0}")]
    Unreadable(String),
    /// The source kind cannot be used this way.
    #[error("{0}")]
    Unsupported(String),
}

/// An open capture source.
pub struct Opened {
    /// How many bytes it will bring.
    pub size: Size,
    /// The bytes.
    pub stream: BoxStream<'static, std::io::Result<Bytes>>,
    /// The key extension its content implies (`.tar` for a directory), if any.
    pub extension: Option<&'static str>,
}

/// Parse the source stored with a resource.
pub fn parse(source: Option<&str>) -> Result<SourceConfig, SourceError> {
    let text = source.ok_or(SourceError::Missing)?;
    serde_json::from_str(text).map_err(|e| SourceError::Unreadable(format!("bad source: {e}")))
}

/// Open a source for capture. `bound` limits streams of unknown length (0: none); an HTTP
/// source that sends nothing for `idle` (its answer, or the next bytes of its body) fails.
pub async fn open(
    source: &SourceConfig,
    bound: u64,
    idle: std::time::Duration,
) -> Result<Opened, SourceError> {
    match source {
        SourceConfig::File(path) => {
            let (len, stream) = file_stream(path).await?;
            Ok(Opened {
                size: Size::Exact(len),
                stream,
                extension: None,
            })
        }
        SourceConfig::Dir(path) => {
            if !path.is_dir() {
                return Err(SourceError::Unreadable(format!(
                    "{} is not a directory",
                    path.display()
                )));
            }
            Ok(Opened {
                size: Size::AtMost(bound),
                stream: tar_stream(path.clone()),
                extension: Some(".tar"),
            })
        }
        SourceConfig::Url(url) => {
            if !url.starts_with("http://") {
                return Err(SourceError::Unsupported(
                    "only http:// sources are supported in this build".into(),
                ));
            }
            let client = reqwest::Client::builder()
                .connect_timeout(idle)
                .read_timeout(idle)
                .build()
                .map_err(|e| SourceError::Unreadable(e.to_string()))?;
            let resp = client
                .get(url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| SourceError::Unreadable(e.to_string()))?;
            let size = match resp.content_length() {
                Some(n) => Size::Exact(n),
                None => Size::AtMost(bound),
            };
            Ok(Opened {
                size,
                stream: resp.bytes_stream().map_err(std::io::Error::other).boxed(),
                extension: None,
            })
        }
    }
}

fn unreadable(path: &Path, e: std::io::Error) -> SourceError {
    SourceError::Unreadable(format!("{}: {e}", path.display()))
}

/// A file read by one blocking thread, which opens it, says how long it is, then hands its
/// bytes over in pieces of up to 256 KiB (two in flight at most): opening and reading a small
/// file costs one hand-off to that thread and one back, where `tokio::fs` costs a round trip
/// per call (open, metadata, each read, the read that finds the end).
async fn file_stream(
    path: &Path,
) -> Result<(u64, BoxStream<'static, std::io::Result<Bytes>>), SourceError> {
    let (opened_tx, opened) = tokio::sync::oneshot::channel();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&p).and_then(|f| Ok((f.metadata()?.len(), f)));
        let (len, mut file) = match file {
            Ok(opened) => opened,
            Err(e) => {
                let _ = opened_tx.send(Err(e));
                return;
            }
        };
        if opened_tx.send(Ok(len)).is_err() {
            return;
        }
        let mut left = len;
        loop {
            // sized to what the length promises, so a small file takes a small buffer
            let mut buf =
                Vec::with_capacity(usize::try_from(left.clamp(1, CHUNK as u64)).unwrap_or(CHUNK));
            let read = std::io::Read::read_to_end(
                &mut std::io::Read::take(&mut file, CHUNK as u64),
                &mut buf,
            );
            let piece = match read {
                Ok(0) => return,
                Ok(n) => {
                    left = left.saturating_sub(n as u64);
                    Ok(Bytes::from(buf))
                }
                Err(e) => Err(e),
            };
            let failed = piece.is_err();
            if tx.blocking_send(piece).is_err() || failed {
                return;
            }
        }
    });
    let len = opened
        .await
        .map_err(|_| SourceError::Unreadable(format!("{}: the reader stopped", path.display())))?
        .map_err(|e| unreadable(path, e))?;
    Ok((len, receiver_stream(rx)))
}

fn receiver_stream(
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

/// A tar archive of `dir`, built on a blocking thread and handed over in 256 KiB pieces
/// (two in flight at most).
fn tar_stream(dir: PathBuf) -> BoxStream<'static, std::io::Result<Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = (|| {
            let mut builder = tar::Builder::new(&mut out);
            builder.follow_symlinks(false);
            builder.append_dir_all(".", &dir)?;
            builder.finish()?;
            drop(builder);
            std::io::Write::flush(&mut out)
        })();
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    receiver_stream(rx)
}

const CHUNK: usize = 256 * 1024;

struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("capture abandoned"))
    }
}

/// Write a restore's `expected` bytes over a file source: a temporary file beside it,
/// fsynced, renamed into place only when complete, directory fsynced. Other source kinds
/// cannot be restored to.
pub async fn restore_into(
    target: &SourceConfig,
    mut stream: BoxStream<'static, Result<Bytes, crate::store::ObjectError>>,
    expected: u64,
) -> Result<u64, SourceError> {
    let SourceConfig::File(path) = target else {
        return Err(SourceError::Unsupported(
            "only file sources can be restored to".into(),
        ));
    };
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let temp = dir.join(format!(".restore-{}", uuid::Uuid::new_v4()));
    let result: Result<u64, SourceError> = async {
        let mut file = tokio::fs::File::create(&temp)
            .await
            .map_err(|e| unreadable(&temp, e))?;
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| SourceError::Unreadable(e.to_string()))?;
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(|e| unreadable(&temp, e))?;
            written += chunk.len() as u64;
        }
        if written != expected {
            return Err(SourceError::Unreadable(format!(
                "the backup ended after {written} of {expected} bytes"
            )));
        }
        file.sync_all().await.map_err(|e| unreadable(&temp, e))?;
        drop(file);
        tokio::fs::rename(&temp, path)
            .await
            .map_err(|e| unreadable(path, e))?;
        let d = dir.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(&d)?.sync_all())
            .await
            .map_err(|e| SourceError::Unreadable(e.to_string()))?
            .map_err(|e| unreadable(&dir, e))?;
        Ok(written)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&temp).await;
    }
    result
}

#[cfg(test)]
mod tests {
    const IDLE: std::time::Duration = std::time::Duration::from_secs(60);
    use super::*;

    async fn collect(mut s: BoxStream<'static, std::io::Result<Bytes>>) -> Vec<u8> {
        let mut v = Vec::new();
        while let Some(c) = s.next().await {
            v.extend_from_slice(&c.unwrap());
        }
        v
    }

    #[tokio::test]
    async fn file_and_directory_sources() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.txt"), b"alpha").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/b.txt"), vec![7u8; 300_000]).unwrap();
        let f = open(&SourceConfig::File(d.path().join("a.txt")), 0, IDLE)
            .await
            .unwrap();
        assert_eq!(f.size, Size::Exact(5));
        assert_eq!(collect(f.stream).await, b"alpha");
        // larger than one piece
        let big = open(&SourceConfig::File(d.path().join("sub/b.txt")), 0, IDLE)
            .await
            .unwrap();
        assert_eq!(big.size, Size::Exact(300_000));
        assert_eq!(collect(big.stream).await, vec![7u8; 300_000]);
        let t = open(&SourceConfig::Dir(d.path().to_path_buf()), 0, IDLE)
            .await
            .unwrap();
        assert_eq!(t.extension, Some(".tar"));
        let bytes = collect(t.stream).await;
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert!(names.iter().any(|n| n.ends_with("a.txt")), "{names:?}");
        assert!(names.iter().any(|n| n.ends_with("sub/b.txt")), "{names:?}");
        assert!(matches!(
            open(&SourceConfig::File(d.path().join("missing")), 0, IDLE).await,
            Err(SourceError::Unreadable(_))
        ));
    }
}
