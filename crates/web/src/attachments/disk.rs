//! Attachment files on disk.
//!
//! `files/<token>` holds the stored files, `tmp/` the uploads under way. An upload streams
//! into `tmp/<token>.part` while it is hashed; complete and flushed to disk, it becomes
//! `tmp/<token>.done`; once its record is committed in the database it moves to
//! `files/<token>`. A crash at any point leaves nothing half-written in `files/`: at the next
//! start `.part` files are removed, and a `.done` file is published if its record made it to
//! the database and removed if not. A file in `files/` without a record (its message was
//! deleted, its retention ended) is garbage and removed by [`Disk::sweep`].

use std::io;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use axum::body::{Body, Bytes};
use futures_util::{FutureExt, StreamExt};
use sha2::{Digest, Sha256};

/// Chunks of an upload handed to the hashing and the writing thread at once.
type Batch = Arc<Vec<Bytes>>;
/// A batch is what the network had ready, up to about this much.
const BATCH_BYTES: usize = 1024 * 1024;
/// While an upload arrives, what was written is flushed to disk after about this much more.
const FLUSH_EVERY: usize = 32 * 1024 * 1024;

/// Tokens are base64url, 43 characters (256 random bits): nothing else names a file.
pub fn valid_token(t: &str) -> bool {
    t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the upload ended after {got} of the {declared} bytes announced")]
    Short { got: u64, declared: u64 },
    #[error("the upload broke off: {0}")]
    Body(String),
    #[error("cannot store the file: {0}")]
    Io(#[from] io::Error),
}

/// A complete upload in `tmp/`, not yet published.
#[derive(Debug)]
pub struct Received {
    pub token: String,
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// Removes an upload's partial file when dropped, unless disarmed (set to `None`).
struct PartGuard(Option<PathBuf>);

impl PartGuard {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }
}

impl Drop for PartGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Disk {
    files: PathBuf,
    tmp: PathBuf,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a batch's chunks in order, from where the network left them: one `writev` for
/// the batch where the kernel takes it all, and no copy into a buffer first (a buffered
/// writer copied every byte of every upload once more).
fn write_batch(mut file: &std::fs::File, batch: &[Bytes]) -> io::Result<()> {
    use std::io::{IoSlice, Write};
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|c| IoSlice::new(c)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

impl Disk {
    /// Creates the directories (readable by the server's user only).
    pub fn open(dir: &Path) -> io::Result<Self> {
        let d = Self { files: dir.join("files"), tmp: dir.join("tmp") };
        create_private_dir(dir)?;
        create_private_dir(&d.files)?;
        create_private_dir(&d.tmp)?;
        Ok(d)
    }

    /// The stored file of a token (`None` for anything that is not a token).
    pub fn path(&self, token: &str) -> Option<PathBuf> {
        valid_token(token).then(|| self.files.join(token))
    }

    fn part(&self, token: &str) -> PathBuf {
        self.tmp.join(format!("{token}.part"))
    }

    fn done(&self, token: &str) -> PathBuf {
        self.tmp.join(format!("{token}.done"))
    }

    /// Streams a request body into `tmp/`, hashing it, and never past `limit` bytes (nor past
    /// `declared`, the Content-Length, if given). The file is on disk when this returns Ok.
    pub async fn receive(&self, body: Body, limit: u64, declared: Option<u64>) -> Result<Received, UploadError> {
        let token = auth::token::new_token();
        // The client may go away mid-upload, and the server then drops this future at an
        // await point: the guard removes the partial file however this ends, unless it
        // completed.
        let mut part = PartGuard(Some(self.part(&token)));
        let (size, sha256) = self.write_part(part.path(), body, limit, declared).await?;
        tokio::fs::rename(part.path(), self.done(&token)).await?;
        part.0 = None;
        Ok(Received { token, size, sha256 })
    }

    async fn write_part(
        &self,
        part: &Path,
        body: Body,
        limit: u64,
        declared: Option<u64>,
    ) -> Result<(u64, String), UploadError> {
        let cap = declared.map_or(limit, |d| d.min(limit));
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(part).await?.into_std().await;
        // Hashing and writing each run on a blocking thread of their own while this task
        // reads the next chunks from the network: the three overlap instead of taking turns
        // (hashing and writing one after the other on one thread held uploads to about half
        // of what the disk takes, bench/README.md). Both get the same chunks (shared, not copied),
        // handed over in batches of what the network had ready, to wake the threads less often.
        let (to_hasher, mut hasher_rx) = tokio::sync::mpsc::channel::<Batch>(16);
        let (to_writer, mut writer_rx) = tokio::sync::mpsc::channel::<Batch>(16);
        let hasher = tokio::task::spawn_blocking(move || {
            let mut hash = Sha256::new();
            while let Some(batch) = hasher_rx.blocking_recv() {
                batch.iter().for_each(|chunk| hash.update(chunk));
            }
            hex(&hash.finalize())
        });
        // The upload is on disk (fsync) before it is acknowledged. Most of it is flushed
        // while it still arrives, by a third thread, so the last flush has little left.
        let (to_flusher, flusher_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let flush_handle = file.try_clone()?;
        let flusher = tokio::task::spawn_blocking(move || -> io::Result<()> {
            while flusher_rx.recv().is_ok() {
                flush_handle.sync_data()?;
            }
            Ok(())
        });
        let writer = tokio::task::spawn_blocking(move || -> io::Result<()> {
            let mut unflushed = 0;
            while let Some(batch) = writer_rx.blocking_recv() {
                write_batch(&file, &batch)?;
                unflushed += batch.iter().map(Bytes::len).sum::<usize>();
                if unflushed >= FLUSH_EVERY {
                    // Only if the flusher is idle: the writer never waits for it.
                    if to_flusher.try_send(()).is_ok() {
                        unflushed = 0;
                    }
                }
            }
            drop(to_flusher);
            file.sync_all()
        });
        let mut size: u64 = 0;
        let mut stream = body.into_data_stream();
        let received = async {
            let mut ended = false;
            while !ended {
                let Some(first) = stream.next().await else { break };
                let mut batch = vec![first.map_err(|e| UploadError::Body(e.to_string()))?];
                let mut bytes = batch[0].len();
                while bytes < BATCH_BYTES {
                    match stream.next().now_or_never() {
                        Some(Some(chunk)) => {
                            let chunk = chunk.map_err(|e| UploadError::Body(e.to_string()))?;
                            bytes += chunk.len();
                            batch.push(chunk);
                        }
                        Some(None) => {
                            ended = true;
                            break;
                        }
                        None => break,
                    }
                }
                size += bytes as u64;
                if size > cap {
                    // More than announced is as wrong as more than allowed; name the limit only.
                    return Err(if size > limit {
                        UploadError::TooLarge { limit }
                    } else {
                        UploadError::Short { got: size, declared: cap }
                    });
                }
                let batch = Arc::new(batch);
                if to_hasher.send(batch.clone()).await.is_err() || to_writer.send(batch).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            Ok(())
        }
        .await;
        drop((to_hasher, to_writer));
        let written = writer.await.map_err(io::Error::other)?;
        flusher.await.map_err(io::Error::other)??;
        let sha256 = hasher.await.map_err(io::Error::other)?;
        received?;
        written?;
        if let Some(d) = declared {
            if size != d {
                return Err(UploadError::Short { got: size, declared: d });
            }
        }
        Ok((size, sha256))
    }

    /// Moves a received file, whose record is now committed, to `files/`.
    pub async fn publish(&self, token: &str) -> io::Result<()> {
        let (from, to) = (self.done(token), self.files.join(token));
        let dir = self.files.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::rename(&from, &to)?;
            sync_dir(&dir)
        })
        .await
        .map_err(io::Error::other)?
    }

    /// Opens a stored file: in `files/`, or still in `tmp/` when its record was committed a
    /// moment ago and [`Disk::publish`] has not run yet (so a member who sees the message at
    /// once can download it at once).
    pub async fn open_stored(&self, token: &str) -> Option<tokio::fs::File> {
        let path = self.path(token)?;
        match tokio::fs::File::open(&path).await {
            Ok(f) => Some(f),
            Err(_) => tokio::fs::File::open(self.done(token)).await.ok(),
        }
    }

    /// Removes a received file that will not be published (its record was refused).
    pub async fn discard(&self, token: &str) {
        let _ = tokio::fs::remove_file(self.done(token)).await;
    }

    /// Removes a stored file (its record is gone).
    pub fn remove(&self, token: &str) {
        if let Some(p) = self.path(token) {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(error = %e, "cannot remove an attachment file"),
            }
        }
    }

    /// At start, before any upload: finishes or drops what a crash left in `tmp/`.
    pub fn recover(&self, recorded: &dyn Fn(&str) -> bool) -> io::Result<()> {
        for entry in std::fs::read_dir(&self.tmp)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
            match name.strip_suffix(".done") {
                Some(token) if valid_token(token) && recorded(token) => {
                    std::fs::rename(&path, self.files.join(token))?;
                }
                _ => std::fs::remove_file(&path)?,
            }
        }
        sync_dir(&self.files)?;
        sync_dir(&self.tmp)
    }

    /// Removes stored files without a record; returns how many.
    pub fn sweep(&self, recorded: &dyn Fn(&str) -> bool) -> io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.files)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !valid_token(name) || !recorded(name) {
                std::fs::remove_file(&path)?;
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(&self.files)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn token(c: char) -> String {
        std::iter::repeat_n(c, 43).collect()
    }

    #[test]
    fn recovery_publishes_committed_uploads_and_drops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let d = Disk::open(dir.path()).unwrap();
        let (committed, refused, cut) = (token('a'), token('b'), token('c'));
        std::fs::write(d.done(&committed), b"whole").unwrap();
        std::fs::write(d.done(&refused), b"whole but never recorded").unwrap();
        std::fs::write(d.part(&cut), b"half").unwrap();
        std::fs::write(d.tmp.join("stray"), b"?").unwrap();
        d.recover(&|t| t == committed).unwrap();
        assert_eq!(std::fs::read(d.files.join(&committed)).unwrap(), b"whole");
        assert_eq!(std::fs::read_dir(&d.tmp).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(&d.files).unwrap().count(), 1);
    }

    #[test]
    fn a_batch_is_written_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = std::fs::File::create(&path).unwrap();
        // More slices than one writev takes (IOV_MAX is 1024 on Linux), of uneven sizes.
        let chunks: Vec<Bytes> =
            (0..1500u32).map(|i| Bytes::from(vec![(i % 251) as u8; (i % 7 + 1) as usize * 100])).collect();
        write_batch(&file, &chunks[..1200]).unwrap();
        write_batch(&file, &chunks[1200..]).unwrap();
        write_batch(&file, &[]).unwrap();
        let expected: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }

    #[test]
    fn the_sweep_removes_stored_files_without_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let d = Disk::open(dir.path()).unwrap();
        let (kept, gone) = (token('k'), token('g'));
        for t in [&kept, &gone] {
            std::fs::write(d.files.join(t), b"x").unwrap();
        }
        std::fs::write(d.files.join("not-a-token"), b"x").unwrap();
        // An upload under way is not the sweep's business.
        std::fs::write(d.part(&token('u')), b"x").unwrap();
        assert_eq!(d.sweep(&|t| t == kept).unwrap(), 2);
        assert!(d.files.join(&kept).exists() && d.part(&token('u')).exists());
        assert!(d.path("../x").is_none() && d.path(&kept).is_some());
    }
}
