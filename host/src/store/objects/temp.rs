//! [`TempObject`]: an object being written, on whichever backend, visible only once
//! committed.

use std::path::PathBuf;

use bytes::Bytes;
use object_store::WriteMultipart;

use super::*;

pub(super) enum Writer {
    Local {
        tx: Option<tokio::sync::mpsc::Sender<ToWriter>>,
        worker: tokio::task::JoinHandle<std::io::Result<()>>,
        temp: PathBuf,
        /// Making the destination's directory durable, unless it was known to be.
        placed: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    },
    S3(S3Upload),
    Multipart(WriteMultipart),
}

/// An object being written; dropped without `commit`, it must be `abort`ed.
pub struct TempObject {
    pub(super) writer: Writer,
}

impl TempObject {
    /// The multipart upload id on S3, to record so that a sweep can abort the upload (and
    /// drop its parts) if this process dies before `commit` or `abort`.
    pub fn upload_id(&self) -> Option<&str> {
        match &self.writer {
            Writer::S3(u) => Some(&u.upload_id),
            Writer::Local { .. } | Writer::Multipart(_) => None,
        }
    }

    /// Append bytes.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), ObjectError> {
        if chunk.is_empty() {
            return Ok(());
        }
        match &mut self.writer {
            Writer::Local { tx, .. } => {
                let sent = match tx {
                    Some(tx) => tx.send(ToWriter::Bytes(chunk)).await.is_ok(),
                    None => false,
                };
                if !sent {
                    // the writer thread stopped: its error surfaces on commit
                    return Err(ObjectError::Failed("local writer stopped".into()));
                }
            }
            Writer::S3(u) => u.write(chunk).await?,
            Writer::Multipart(w) => {
                w.wait_for_capacity(4).await?;
                w.write(&chunk);
            }
        }
        Ok(())
    }

    /// Make the object durable and visible under its final key.
    pub async fn commit(self) -> Result<(), ObjectError> {
        self.commit_after(async { Ok(()) }).await
    }

    /// Make the object durable, wait for `gate` (while the object's own flush runs, the
    /// caller's record of it can be made durable), then make it visible under its final
    /// key; a failed gate discards the object.
    pub async fn commit_after<G>(self, gate: G) -> Result<(), ObjectError>
    where
        G: std::future::Future<Output = Result<(), ObjectError>>,
    {
        match self.writer {
            Writer::Local {
                tx,
                worker,
                temp,
                placed,
            } => {
                // the writer syncs the file while the caller's gate and the directory
                // are seen to, then waits for the go-ahead to publish
                let (go, go_rx) = tokio::sync::oneshot::channel();
                let asked = match tx {
                    Some(tx) => tx.send(ToWriter::Commit(go_rx)).await.is_ok(),
                    None => false,
                };
                let placed = async {
                    match placed {
                        Some(task) => task.await.map_err(std::io::Error::other)?,
                        None => Ok(()),
                    }
                };
                let (gated, placed) = tokio::join!(gate, placed);
                let _ = go.send(asked && gated.is_ok() && placed.is_ok());
                let written = match worker.await {
                    Ok(written) => written,
                    Err(died) => {
                        // a writer that fails removes its file itself; one that died cannot
                        let _ = tokio::fs::remove_file(&temp).await;
                        return Err(ObjectError::Failed(died.to_string()));
                    }
                };
                gated?;
                placed?;
                Ok(written?)
            }
            Writer::S3(u) => match gate.await {
                Ok(()) => u.commit().await,
                Err(e) => {
                    u.abort().await;
                    Err(e)
                }
            },
            Writer::Multipart(w) => {
                if let Err(e) = gate.await {
                    let _ = w.abort().await;
                    return Err(e);
                }
                w.finish().await?;
                Ok(())
            }
        }
    }

    /// Discard everything written.
    pub async fn abort(self) {
        match self.writer {
            Writer::Local {
                tx, worker, temp, ..
            } => {
                // the writer, seeing its queue closed without a commit, removes its file
                drop(tx);
                if worker.await.is_err() {
                    let _ = tokio::fs::remove_file(&temp).await;
                }
            }
            Writer::S3(u) => u.abort().await,
            Writer::Multipart(w) => {
                if let Err(e) = w.abort().await {
                    tracing::warn!(error = %e, "could not abort multipart upload");
                }
            }
        }
    }
}
