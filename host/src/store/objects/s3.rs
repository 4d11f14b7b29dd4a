//! S3 (and S3-compatible stores): opening the store from `s3://bucket/prefix` with its
//! settings, and a multipart upload driven part by part.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::*;

/// Open `s3://BUCKET[/PREFIX]`: the `AWS_*` variables first, then the configured keys.
pub(super) fn open_s3(rest: &str, cfg: &S3Config) -> Result<Objects, ObjectError> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = prefix.trim_matches('/');
    if bucket.is_empty() {
        return Err(ObjectError::Unavailable(
            "storage url s3:// names no bucket (use s3://BUCKET/PREFIX)".into(),
        ));
    }
    let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(v) = &cfg.endpoint {
        b = b.with_endpoint(v);
    }
    if let Some(v) = &cfg.region {
        b = b.with_region(v);
    }
    if let Some(v) = &cfg.access_key_id {
        b = b.with_access_key_id(v);
    }
    if let Some(v) = &cfg.secret_access_key {
        b = b.with_secret_access_key(v);
    }
    if let Some(v) = &cfg.session_token {
        b = b.with_token(v);
    }
    // path-style unless asked otherwise (here or by AWS_VIRTUAL_HOSTED_STYLE_REQUEST): what
    // self-hosted stores (Garage, MinIO…) expect
    if let Some(v) = cfg.virtual_hosted_style {
        b = b.with_virtual_hosted_style_request(v);
    }
    let endpoint = b.get_config_value(&object_store::aws::AmazonS3ConfigKey::Endpoint);
    if cfg.allow_http == Some(true) || endpoint.as_deref().is_some_and(is_loopback_http) {
        b = b.with_allow_http(true);
    }
    let part_size = cfg.part_size_bytes.unwrap_or(MULTIPART_CHUNK as u64);
    if part_size < S3_MIN_PART {
        return Err(ObjectError::Unavailable(format!(
            "storage.s3.part_size_bytes must be at least {S3_MIN_PART} (S3's smallest part)"
        )));
    }
    let s3 = b
        .build()
        .map_err(|e| ObjectError::Unavailable(e.to_string()))?;
    let store = Arc::new(PrefixStore::new(s3, prefix));
    Ok(Objects {
        store: store.clone(),
        backend: Backend::S3 {
            multipart: store,
            part_size: usize::try_from(part_size).unwrap_or(MULTIPART_CHUNK),
            parts_in_flight: usize::try_from(cfg.parts_in_flight.unwrap_or(2).max(1)).unwrap_or(2),
        },
        fsync: false,
    })
}

/// `http://` to a loopback address (`127.0.0.0/8`, `[::1]`, `localhost`), where plain HTTP
/// never leaves the machine.
pub(super) fn is_loopback_http(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Abort a multipart upload, dropping every part sent to it; an upload that is already gone
/// (completed or aborted by someone else) is fine.
pub(super) async fn abort_upload(
    store: &dyn MultipartStore,
    path: &Path,
    upload_id: &str,
) -> Result<(), ObjectError> {
    match store.abort_multipart(path, &upload_id.to_owned()).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A part being sent.
pub(super) type PartTask = tokio::task::JoinHandle<Result<PartId, object_store::Error>>;

/// An S3 multipart upload driven part by part: body chunks are copied into a part buffer of
/// exactly `part_size` bytes, each full part sent by its own task, at most `parts_in_flight`
/// at once; the part ids are collected in order for completion.
///
/// The copy is what keeps a slow upload from starving every other: the chunks come from the
/// staging pool's blocks ([`crate::ingest`]), and a part gathered from them without copying
/// pinned every block — mostly empty ones, when a slow client's partial blocks were handed
/// on — until the part filled, so a few slow uploads (or five fast ones) held the whole pool
/// and every upload waiting for a block waited forever. Copied, a block goes back to the pool
/// as soon as it is written here, and an upload holds in memory just the bytes it has
/// received and not yet sent (at most one part, plus the parts in flight). The buffer is
/// reserved at its full size but only touched as it fills, so a quiet client's part costs
/// the bytes it sent, not `part_size`.
pub(super) struct S3Upload {
    pub(super) store: Arc<dyn MultipartStore>,
    /// For the one object a multipart upload cannot make: an empty one.
    pub(super) plain: Arc<dyn ObjectStore>,
    pub(super) path: Path,
    pub(super) upload_id: String,
    pub(super) part_size: usize,
    pub(super) parts_in_flight: usize,
    /// The part being gathered (empty, with no allocation, between parts).
    pub(super) pending: Vec<u8>,
    pub(super) sending: VecDeque<PartTask>,
    pub(super) parts: Vec<PartId>,
}

impl S3Upload {
    pub(super) async fn write(&mut self, chunk: Bytes) -> Result<(), ObjectError> {
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            if self.pending.capacity() == 0 {
                self.pending = Vec::with_capacity(self.part_size);
            }
            let n = rest.len().min(self.part_size - self.pending.len());
            self.pending.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.pending.len() == self.part_size {
                self.send_pending().await?;
            }
        }
        Ok(())
    }

    /// Send the gathered bytes as the next part, first waiting for the oldest part in
    /// flight when the window is full.
    pub(super) async fn send_pending(&mut self) -> Result<(), ObjectError> {
        while self.sending.len() >= self.parts_in_flight {
            self.wait_oldest().await?;
        }
        let payload = PutPayload::from(Bytes::from(std::mem::take(&mut self.pending)));
        let (store, path, id) = (
            self.store.clone(),
            self.path.clone(),
            self.upload_id.clone(),
        );
        let idx = self.parts.len() + self.sending.len();
        self.sending.push_back(tokio::spawn(async move {
            store.put_part(&path, &id, idx, payload).await
        }));
        Ok(())
    }

    pub(super) async fn wait_oldest(&mut self) -> Result<(), ObjectError> {
        if let Some(task) = self.sending.pop_front() {
            let part = task
                .await
                .map_err(|e| ObjectError::Failed(format!("part upload task: {e}")))??;
            self.parts.push(part);
        }
        Ok(())
    }

    pub(super) async fn commit(mut self) -> Result<(), ObjectError> {
        let res = async {
            if !self.pending.is_empty() {
                self.send_pending().await?;
            }
            while !self.sending.is_empty() {
                self.wait_oldest().await?;
            }
            if self.parts.is_empty() {
                // S3 stores refuse empty parts (Garage does): an empty object is a plain PUT
                self.plain.put(&self.path, PutPayload::default()).await?;
                if let Err(e) =
                    abort_upload(self.store.as_ref(), &self.path, &self.upload_id).await
                {
                    tracing::warn!(key = %self.path, error = %e, "could not abort an unused (partless) multipart upload");
                }
                return Ok(());
            }
            let parts = std::mem::take(&mut self.parts);
            self.store
                .complete_multipart(&self.path, &self.upload_id, parts)
                .await?;
            Ok(())
        }
        .await;
        if res.is_err() {
            self.abort().await;
        }
        res
    }

    /// Abort the upload. Parts still in flight are waited for first (never cancelled
    /// mid-request): a part that lands after the abort would otherwise survive it.
    pub(super) async fn abort(mut self) {
        while let Some(task) = self.sending.pop_front() {
            let _ = task.await;
        }
        if let Err(e) = abort_upload(self.store.as_ref(), &self.path, &self.upload_id).await {
            tracing::warn!(key = %self.path, error = %e, "could not abort multipart upload; the reclaim sweep will retry");
        }
    }
}
