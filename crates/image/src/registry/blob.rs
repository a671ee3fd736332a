//! Blobs: asking whether one exists, and downloading it as a stream.
//!
//! Registries often answer a blob `GET` with a redirect to object storage;
//! it is followed (at most 10 hops), and the registry's `Authorization`
//! header is not sent to the other host.
//!
//! A [`BlobReader`] hands over the bytes as the registry sends them. It does
//! **not** check them against the digest: the caller hashes the stream on its
//! way into the content store (e.g. with `crate::digest::DigestWriter`) and
//! refuses a blob whose digest or size is wrong. A registry serving wrong
//! blob content is therefore caught by the caller, not here.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body::Body as _;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::auth::Scope;
use super::client::{header_lossy, Client, Error, Request, Timeout};
use super::Repo;
use crate::digest::Digest;

/// Errors about blobs.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The registry has no such blob in the repository.
    #[error("blob {digest} not found in {repository} on registry {registry}")]
    NotFound {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob's digest.
        digest: Digest,
    },
    /// The range start is past the end of the blob.
    #[error(
        "registry {registry} cannot serve blob {digest} of {repository} from offset {offset} (416)"
    )]
    RangeNotSatisfiable {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob's digest.
        digest: Digest,
        /// The offset asked for.
        offset: u64,
    },
    /// A partial answer that does not start where it was asked to.
    #[error(
        "registry {registry} answered a range request for blob {digest} of {repository} from \
         offset {offset} with Content-Range {content_range:?}"
    )]
    BadContentRange {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob's digest.
        digest: Digest,
        /// The offset asked for.
        offset: u64,
        /// The header as sent.
        content_range: String,
    },
    /// A `HEAD` answer without a usable `Content-Length`.
    #[error("registry {registry} reported blob {digest} of {repository} without a Content-Length")]
    MissingLength {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob's digest.
        digest: Digest,
    },
    /// No bytes came for `Config::read_timeout`.
    #[error(
        "reading blob {digest} of {repository} from registry {registry}: no data for {after:?}"
    )]
    Stalled {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob's digest.
        digest: Digest,
        /// How long was waited.
        after: Duration,
    },
    /// The download broke off.
    #[error("reading blob {digest} of {repository} from registry {registry} failed: {source}")]
    Read {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob's digest.
        digest: Digest,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
}

/// A blob download in progress: read it with [`BlobReader::chunk`] or as a
/// [`tokio::io::AsyncRead`]. The bytes are not verified (see the module
/// docs): hash them.
pub struct BlobReader {
    body: reqwest::Body,
    /// `Config::read_timeout`: the longest wait for the next bytes.
    idle: Duration,
    /// Armed when a wait for bytes starts.
    timer: Pin<Box<Sleep>>,
    waiting: bool,
    pending: Bytes,
    /// Bytes still to drop from the front (a range the server ignored).
    skip: u64,
    size: Option<u64>,
    repo: Repo,
    digest: Digest,
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("repo", &self.repo)
            .field("digest", &self.digest)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl BlobReader {
    /// How many bytes are to come in all (from the start or the offset
    /// asked for), if the registry said.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The digest that was asked for.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The next chunk of bytes, or `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, BlobError> {
        if !self.pending.is_empty() {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Reads everything into memory (for small blobs such as configs).
    pub async fn bytes(mut self) -> Result<Vec<u8>, BlobError> {
        let mut out = Vec::with_capacity(self.size.map_or(0, |n| n.min(64 << 20) as usize));
        while let Some(c) = self.chunk().await? {
            out.extend_from_slice(&c);
        }
        Ok(out)
    }

    fn read_error(&self, source: reqwest::Error) -> BlobError {
        BlobError::Read {
            registry: self.repo.registry.clone(),
            repository: self.repo.name.clone(),
            digest: self.digest.clone(),
            source,
        }
    }

    /// Polls the body for its next non-empty data frame, dropping the bytes
    /// still to skip.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, BlobError>> {
        loop {
            let polled = Pin::new(&mut self.body).poll_frame(cx);
            let Poll::Ready(polled) = polled else {
                if !self.waiting {
                    // Timed from when the wait starts, not from the last
                    // bytes: a slow reader is no stalled registry.
                    self.waiting = true;
                    let deadline = Instant::now() + self.idle;
                    self.timer.as_mut().reset(deadline);
                }
                if self.timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(BlobError::Stalled {
                        registry: self.repo.registry.clone(),
                        repository: self.repo.name.clone(),
                        digest: self.digest.clone(),
                        after: self.idle,
                    }));
                }
                return Poll::Pending;
            };
            self.waiting = false;
            let frame = match polled {
                None => return Poll::Ready(Ok(None)),
                Some(Err(e)) => return Poll::Ready(Err(self.read_error(e))),
                Some(Ok(frame)) => frame,
            };
            let Ok(mut data) = frame.into_data() else {
                continue;
            };
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                data.advance(n);
                self.skip -= n as u64;
            }
            if !data.is_empty() {
                return Poll::Ready(Ok(Some(data)));
            }
        }
    }
}

impl AsyncRead for BlobReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pending.is_empty() {
            match ready!(this.poll_chunk(cx)) {
                Ok(Some(data)) => this.pending = data,
                Ok(None) => return Poll::Ready(Ok(())),
                Err(e) => return Poll::Ready(Err(io::Error::other(e))),
            }
        }
        let n = this.pending.len().min(buf.remaining());
        buf.put_slice(&this.pending[..n]);
        this.pending.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl Client {
    /// Whether blob `digest` is in `repo`, and its size (`HEAD`).
    pub async fn blob_exists(&self, repo: &Repo, digest: &Digest) -> Result<Option<u64>, Error> {
        let url = self.repo_url(repo, &format!("blobs/{digest}"))?;
        let mut req = Request::new(Method::HEAD, url);
        let resp = self.send(repo, &Scope::pull(&repo.name), &mut req).await?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(self.unexpected(repo, Method::HEAD, resp).await),
        }
        // Not `resp.content_length()`: a HEAD answer's body is empty.
        let size = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| BlobError::MissingLength {
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
                digest: digest.clone(),
            })?;
        Ok(Some(size))
    }

    /// Starts downloading blob `digest` of `repo`.
    pub async fn get_blob(&self, repo: &Repo, digest: &Digest) -> Result<BlobReader, Error> {
        self.get_blob_from(repo, digest, 0).await
    }

    /// Starts downloading blob `digest` of `repo` from byte `offset` on
    /// (to resume a download). A registry that ignores the range and sends
    /// the whole blob is handled: the first `offset` bytes are dropped.
    pub async fn get_blob_range(
        &self,
        repo: &Repo,
        digest: &Digest,
        offset: u64,
    ) -> Result<BlobReader, Error> {
        self.get_blob_from(repo, digest, offset).await
    }

    async fn get_blob_from(
        &self,
        repo: &Repo,
        digest: &Digest,
        offset: u64,
    ) -> Result<BlobReader, Error> {
        let url = self.repo_url(repo, &format!("blobs/{digest}"))?;
        let mut req = Request::new(Method::GET, url).timeout(Timeout::Headers);
        if offset > 0 {
            req = req.header(RANGE, &format!("bytes={offset}-"));
        }
        let resp = self.send(repo, &Scope::pull(&repo.name), &mut req).await?;
        let (skip, size) = match resp.status() {
            StatusCode::OK => (
                offset,
                resp.content_length().map(|n| n.saturating_sub(offset)),
            ),
            StatusCode::PARTIAL_CONTENT if offset > 0 => {
                let value =
                    header_lossy(resp.headers(), CONTENT_RANGE.as_str()).unwrap_or_default();
                match parse_content_range(&value) {
                    Some((start, total)) if start == offset => {
                        (0, total.map(|t| t.saturating_sub(offset)))
                    }
                    _ => {
                        return Err(BlobError::BadContentRange {
                            registry: repo.registry.clone(),
                            repository: repo.name.clone(),
                            digest: digest.clone(),
                            offset,
                            content_range: value,
                        }
                        .into())
                    }
                }
            }
            StatusCode::NOT_FOUND => {
                return Err(BlobError::NotFound {
                    registry: repo.registry.clone(),
                    repository: repo.name.clone(),
                    digest: digest.clone(),
                }
                .into())
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                return Err(BlobError::RangeNotSatisfiable {
                    registry: repo.registry.clone(),
                    repository: repo.name.clone(),
                    digest: digest.clone(),
                    offset,
                }
                .into())
            }
            _ => return Err(self.unexpected(repo, Method::GET, resp).await),
        };
        let body = http::Response::<reqwest::Body>::from(resp).into_body();
        let idle = self.config().read_timeout;
        Ok(BlobReader {
            body,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            waiting: false,
            pending: Bytes::new(),
            skip,
            size,
            repo: repo.clone(),
            digest: digest.clone(),
        })
    }
}

/// The start and total of `bytes START-END/TOTAL` (total `*` is `None`).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    if end < start {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 10-99/100"),
            Some((10, Some(100)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("bytes 9-5/10"), None);
        assert_eq!(parse_content_range("10-99/100"), None);
        assert_eq!(parse_content_range("bytes */100"), None);
    }
}
