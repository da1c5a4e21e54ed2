//! Attachments: files posted to a conversation, kept on the server for members to download
//! (the way to send a file to someone offline, or to a group). The database records each
//! file with its message (who may read it, whose quota it uses); [`disk`] keeps the bytes.
//! A sweeper removes files whose record is gone (message deleted, retention ended).

pub mod disk;
pub mod range;

use std::sync::Arc;
use std::time::Duration;

use proto::chat::Attachment;
use store::Store;
use tokio::sync::Notify;

use crate::config::AttachmentConfig;
pub use disk::{Disk, Received, UploadError};

/// Shared by the upload and download handlers, the chat writer and the sweeper.
#[derive(Clone)]
pub struct Attachments {
    pub disk: Disk,
    pub config: AttachmentConfig,
    /// Wakes the sweeper (a file message was deleted).
    pub sweep_now: Arc<Notify>,
}

/// Types a browser may show inline as an image preview. Anything else is served as
/// `application/octet-stream`: never as HTML, script, SVG (which can hold script) or PDF.
const PREVIEW_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"];

/// Whether a stored type may be served as such (an image preview).
pub fn previewable(mime: &str) -> bool {
    PREVIEW_TYPES.contains(&mime)
}

/// Why an upload's `Content-Type` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MimeError {
    Missing,
    /// A form encoding: the body must be the file's bytes themselves.
    Form,
    Malformed,
}

/// The declared type of an uploaded file, lowercased and without parameters; refuses form
/// encodings (the API takes the raw file) and anything that is not `type/subtype`.
pub fn upload_mime(raw: Option<&[u8]>) -> Result<String, MimeError> {
    let raw = std::str::from_utf8(raw.ok_or(MimeError::Missing)?).map_err(|_| MimeError::Malformed)?;
    let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let Some((t, sub)) = essence.split_once('/') else { return Err(MimeError::Malformed) };
    if !token(t) || !token(sub) {
        return Err(MimeError::Malformed);
    }
    if essence == "application/x-www-form-urlencoded" || t == "multipart" {
        return Err(MimeError::Form);
    }
    Ok(essence)
}

/// The description a file message carries in its body (and on the wire as `attachment`).
pub fn describe(token: &str, name: &str, mime: &str, r: &Received) -> Attachment {
    Attachment {
        id: token.to_owned(),
        name: name.to_owned(),
        size: r.size as i64,
        mime: mime.to_owned(),
        sha256: r.sha256.clone(),
        preview: previewable(mime),
    }
}

impl Attachments {
    /// Opens the directory and finishes what a crash left of uploads. Call before serving.
    pub fn open(config: AttachmentConfig, store: &dyn Store) -> std::io::Result<Self> {
        let disk = Disk::open(&config.dir)?;
        // If the database cannot be asked, keep the file: a later sweep decides.
        disk.recover(&|t| store.attachment_exists(t).unwrap_or(true))?;
        Ok(Self { disk, config, sweep_now: Arc::new(Notify::new()) })
    }

    /// Removes expired files and files without a record, now and then: every
    /// `sweep_every`, and when woken by [`Attachments::sweep_now`].
    pub fn spawn_sweeper(&self, store: Arc<dyn Store>) {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let (s, t) = (store.clone(), this.clone());
                match tokio::task::spawn_blocking(move || t.sweep(s.as_ref())).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!(files = n, "removed deleted or expired attachments"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "attachment sweep failed"),
                    Err(e) => tracing::warn!(error = %e, "attachment sweep task failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(this.config.sweep_every) => {}
                    _ = this.sweep_now.notified() => {}
                }
            }
        });
    }

    fn sweep(&self, store: &dyn Store) -> Result<usize, String> {
        if let Some(keep) = self.config.retention {
            let cutoff = crate::unix_now() - keep.as_secs() as i64;
            let expired = store.purge_attachments(cutoff).map_err(|e| e.to_string())?;
            for token in &expired {
                self.disk.remove(token);
            }
        }
        self.disk.sweep(&|t| store.attachment_exists(t).unwrap_or(true)).map_err(|e| e.to_string())
    }
}

/// A retention given in days, 0 meaning forever.
pub fn retention_days(days: u64) -> Option<Duration> {
    (days > 0).then(|| Duration::from_secs(days * 86400))
}
