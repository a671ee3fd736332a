//! Pushing blobs: cross-repository mounts, and uploads in one piece or in
//! chunks.
//!
//! An upload opens a session (`POST /v2/NAME/blobs/uploads/`, answered 202
//! with a `Location`), sends the bytes, and commits them with
//! `PUT LOCATION?digest=DIGEST`:
//!
//! - [`UploadMode::Monolithic`]: the bytes stream as the body of the `PUT`;
//! - [`UploadMode::Chunked`]: one `PATCH` per chunk with
//!   `Content-Range: START-END`, each to the `Location` of the answer before,
//!   then an empty `PUT`.
//!
//! The bytes are hashed and counted on the way out. If they do not match the
//! digest and size the caller gave, the upload is abandoned before the
//! registry commits it (the streamed body fails, or no `PUT` is sent) and the
//! session is cancelled with a `DELETE`.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Method, Response, StatusCode, Url};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::auth::Scope;
use super::client::{header_lossy, is_valid_repository, Client, Error, Request, Timeout};
use super::config::UploadMode;
use super::manifest::header_digest;
use super::Repo;
use crate::digest::{Digest, Hasher};

/// Errors from pushing blobs.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// A `202` (or `201`) without a `Location` to go on with.
    #[error(
        "registry {registry} opened an upload to {repository} without a Location header ({url})"
    )]
    MissingLocation {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The request URL that was answered.
        url: String,
    },
    /// A `Location` that is not a URL.
    #[error("registry {registry} sent an invalid upload Location {location:?} for {repository}")]
    InvalidLocation {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The header's value.
        location: String,
    },
    /// The source did not have the size the caller gave.
    #[error(
        "upload of blob {digest} to {registry}/{repository}: expected {expected} bytes, the source \
         gave {actual}{more}",
        more = if *.more { " or more" } else { "" }
    )]
    SizeMismatch {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The digest the caller gave.
        digest: Digest,
        /// The size the caller gave.
        expected: u64,
        /// The bytes the source gave (a lower bound if `more`).
        actual: u64,
        /// The source had more than `actual` bytes (it was stopped there).
        more: bool,
    },
    /// The source's bytes do not hash to the digest the caller gave.
    #[error("upload to {registry}/{repository}: the bytes given for blob {expected} have digest {actual}")]
    DigestMismatch {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The digest the caller gave.
        expected: Digest,
        /// The digest of the bytes.
        actual: Digest,
    },
    /// Reading the source failed.
    #[error(
        "upload of blob {digest} to {registry}/{repository}: reading the source failed: {source}"
    )]
    Read {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob's digest.
        digest: Digest,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// After a `PATCH`, the registry reports a range that is not what was sent.
    #[error(
        "upload of blob {digest} to {registry}/{repository}: after sending bytes up to {end} the \
         registry reports Range {range:?}"
    )]
    RangeMismatch {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob's digest.
        digest: Digest,
        /// The last byte offset sent.
        end: u64,
        /// The `Range` header received.
        range: String,
    },
    /// The registry committed the blob under another digest.
    #[error(
        "registry {registry} stored the blob pushed to {repository} as {claimed}, not {expected}"
    )]
    CommittedDigestMismatch {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The digest pushed.
        expected: Digest,
        /// The `Docker-Content-Digest` of the answer.
        claimed: Digest,
    },
    /// The repository to mount from is not a valid name.
    #[error("cannot mount blob {digest} into {registry}/{repository} from invalid repository name {from:?}")]
    InvalidMountSource {
        /// The registry host.
        registry: String,
        /// The repository mounted into.
        repository: String,
        /// The blob's digest.
        digest: Digest,
        /// The name given.
        from: String,
    },
}

/// What went wrong with the bytes of an upload, before the repository is
/// known to the code that noticed.
enum Problem {
    Size { actual: u64, more: bool },
    Digest(Digest),
    Read(io::Error),
}

impl Problem {
    fn into_error(self, repo: &Repo, digest: &Digest, size: u64) -> UploadError {
        let registry = repo.registry.clone();
        let repository = repo.name.clone();
        match self {
            Problem::Size { actual, more } => UploadError::SizeMismatch {
                registry,
                repository,
                digest: digest.clone(),
                expected: size,
                actual,
                more,
            },
            Problem::Digest(actual) => UploadError::DigestMismatch {
                registry,
                repository,
                expected: digest.clone(),
                actual,
            },
            Problem::Read(source) => UploadError::Read {
                registry,
                repository,
                digest: digest.clone(),
                source,
            },
        }
    }
}

type Reader = Box<dyn AsyncRead + Send + Unpin>;

/// Where the bytes of an upload come from.
enum Source {
    Bytes(Bytes),
    Reader(Reader),
}

impl Source {
    /// Up to `max` bytes; empty at the end.
    async fn next_chunk(&mut self, max: usize) -> io::Result<Bytes> {
        match self {
            Source::Bytes(b) => Ok(b.split_to(max.min(b.len()))),
            Source::Reader(r) => {
                let mut buf = vec![0u8; max];
                let mut filled = 0;
                while filled < max {
                    let n = r.read(&mut buf[filled..]).await?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                buf.truncate(filled);
                Ok(Bytes::from(buf))
            }
        }
    }
}

/// A request body that streams a reader, hashing and counting it, and fails
/// (so the request is aborted before the registry commits) when the bytes do
/// not match the expected size and digest.
struct VerifyingBody {
    /// In a mutex only so the body is `Sync`; never contended.
    reader: Mutex<Reader>,
    buf: Box<[u8]>,
    hasher: Hasher,
    size: u64,
    expected: Digest,
    /// The last frame, kept back until the source's end is seen.
    held: Option<Bytes>,
    done: bool,
    failure: Arc<Mutex<Option<Problem>>>,
}

impl VerifyingBody {
    fn fail(&mut self, problem: Problem) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.done = true;
        let msg = match &problem {
            Problem::Size { .. } => "blob source has the wrong size",
            Problem::Digest(_) => "blob source has the wrong digest",
            Problem::Read(_) => "reading the blob source failed",
        };
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(problem);
        Poll::Ready(Some(Err(io::Error::other(msg))))
    }
}

impl http_body::Body for VerifyingBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let reader = this.reader.get_mut().unwrap_or_else(|e| e.into_inner());
            let mut rb = ReadBuf::new(&mut this.buf);
            if let Err(e) = ready!(Pin::new(reader).poll_read(cx, &mut rb)) {
                return this.fail(Problem::Read(e));
            }
            let n = rb.filled().len() as u64;
            let read = this.hasher.len();
            if this.held.is_some() {
                // All `size` bytes are in; the source must end here, and
                // only then is the last frame let go.
                if n > 0 {
                    return this.fail(Problem::Size {
                        actual: read + n,
                        more: true,
                    });
                }
                let actual = this.hasher.digest();
                if actual != this.expected {
                    return this.fail(Problem::Digest(actual));
                }
                this.done = true;
                return Poll::Ready(this.held.take().map(|d| Ok(Frame::data(d))));
            }
            if n == 0 {
                if read != this.size {
                    return this.fail(Problem::Size {
                        actual: read,
                        more: false,
                    });
                }
                // Only for an empty blob: there is no last frame to hold.
                let actual = this.hasher.digest();
                if actual != this.expected {
                    return this.fail(Problem::Digest(actual));
                }
                this.done = true;
                return Poll::Ready(None);
            }
            if read + n > this.size {
                return this.fail(Problem::Size {
                    actual: read + n,
                    more: true,
                });
            }
            let data = Bytes::copy_from_slice(rb.filled());
            this.hasher.update(&data);
            if read + n < this.size {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            // The last bytes: the server would commit once it has them, so
            // they wait until the source is known to end and to match.
            this.held = Some(data);
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.size)
    }
}

const OCTET_STREAM: &str = "application/octet-stream";

impl Client {
    /// Mounts blob `digest` into `repo` from repository `from` on the same
    /// registry. `true`: done (201). `false`: the registry would not (202,
    /// e.g. the blob is not in `from` or not readable there): upload it.
    pub async fn mount_blob(
        &self,
        repo: &Repo,
        digest: &Digest,
        from: &str,
    ) -> Result<bool, Error> {
        if !is_valid_repository(from) {
            return Err(UploadError::InvalidMountSource {
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
                digest: digest.clone(),
                from: from.to_owned(),
            }
            .into());
        }
        let scope = Scope::push_mount(&repo.name, from);
        let mut url = self.repo_url(repo, "blobs/uploads/")?;
        url.query_pairs_mut()
            .append_pair("mount", &digest.to_string())
            .append_pair("from", from);
        let mut req = Request::new(Method::POST, url).body(Bytes::new());
        let resp = self.send(repo, &scope, &mut req).await?;
        match resp.status() {
            StatusCode::CREATED => {
                self.check_committed(repo, digest, &resp)?;
                Ok(true)
            }
            StatusCode::ACCEPTED => {
                // An upload session was opened instead; it is not used.
                if let Ok(loc) = self.location(repo, &resp) {
                    self.cancel_upload(repo, &scope, loc).await;
                }
                Ok(false)
            }
            _ => Err(self.unexpected(repo, Method::POST, resp).await),
        }
    }

    /// Uploads blob `digest` of `size` bytes read from `body` into `repo`,
    /// in the configured [`UploadMode`].
    pub async fn upload_blob<R>(
        &self,
        repo: &Repo,
        digest: &Digest,
        size: u64,
        body: R,
    ) -> Result<(), Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let mode = self.config().upload_mode;
        self.upload_blob_with(repo, digest, size, body, mode).await
    }

    /// Uploads blob `digest` of `size` bytes read from `body` into `repo`
    /// in `mode`.
    pub async fn upload_blob_with<R>(
        &self,
        repo: &Repo,
        digest: &Digest,
        size: u64,
        body: R,
        mode: UploadMode,
    ) -> Result<(), Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        self.upload(repo, digest, size, Source::Reader(Box::new(body)), mode)
            .await
    }

    /// Uploads `bytes` as blob `digest` into `repo`, in the configured
    /// [`UploadMode`]. Held in memory, the bytes are checked before anything
    /// is sent and every request can be retried.
    pub async fn upload_blob_bytes(
        &self,
        repo: &Repo,
        digest: &Digest,
        bytes: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let bytes = bytes.into();
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(UploadError::DigestMismatch {
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
                expected: digest.clone(),
                actual,
            }
            .into());
        }
        let size = bytes.len() as u64;
        let mode = self.config().upload_mode;
        self.upload(repo, digest, size, Source::Bytes(bytes), mode)
            .await
    }

    async fn upload(
        &self,
        repo: &Repo,
        digest: &Digest,
        size: u64,
        source: Source,
        mode: UploadMode,
    ) -> Result<(), Error> {
        let scope = Scope::push(&repo.name);
        let url = self.repo_url(repo, "blobs/uploads/")?;
        let mut req = Request::new(Method::POST, url).body(Bytes::new());
        let resp = self.send(repo, &scope, &mut req).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.unexpected(repo, Method::POST, resp).await);
        }
        let session = self.location(repo, &resp)?;
        let result = match mode {
            UploadMode::Monolithic => {
                self.upload_monolithic(repo, &scope, digest, size, source, session.clone())
                    .await
            }
            UploadMode::Chunked { chunk_size } => {
                self.upload_chunked(
                    repo,
                    &scope,
                    digest,
                    size,
                    source,
                    session.clone(),
                    chunk_size.max(1),
                )
                .await
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(Failure { error, cancel }) => {
                if let Some(session) = cancel {
                    self.cancel_upload(repo, &scope, session).await;
                }
                Err(error)
            }
        }
    }

    async fn upload_monolithic(
        &self,
        repo: &Repo,
        scope: &Scope,
        digest: &Digest,
        size: u64,
        source: Source,
        session: Url,
    ) -> Result<(), Failure> {
        let put_url = with_digest(session.clone(), digest);
        let req = Request::new(Method::PUT, put_url).header(CONTENT_TYPE, OCTET_STREAM);
        let failure = Arc::new(Mutex::new(None));
        let mut req = match source {
            Source::Bytes(b) => req.body(b).timeout(Timeout::None),
            Source::Reader(reader) => req.stream(reqwest::Body::wrap(VerifyingBody {
                reader: Mutex::new(reader),
                buf: vec![0u8; 64 << 10].into_boxed_slice(),
                hasher: Hasher::new(),
                size,
                expected: digest.clone(),
                held: None,
                done: false,
                failure: Arc::clone(&failure),
            })),
        };
        let sent = self.send(repo, scope, &mut req).await;
        if let Some(problem) = failure.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(Failure::cancel(
                problem.into_error(repo, digest, size).into(),
                session,
            ));
        }
        let resp = sent.map_err(|e| Failure::cancel(e, session.clone()))?;
        self.finish(repo, digest, resp, session).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload_chunked(
        &self,
        repo: &Repo,
        scope: &Scope,
        digest: &Digest,
        size: u64,
        mut source: Source,
        session: Url,
        chunk_size: usize,
    ) -> Result<(), Failure> {
        let mut loc = session;
        let mut hasher = Hasher::new();
        loop {
            let problem = |p: Problem| p.into_error(repo, digest, size).into();
            // Read one byte past the expected end at most, to notice a
            // source that is too long without reading all of it.
            let want =
                chunk_size.min(usize::try_from(size - hasher.len() + 1).unwrap_or(usize::MAX));
            let chunk = match source.next_chunk(want).await {
                Ok(c) => c,
                Err(e) => return Err(Failure::cancel(problem(Problem::Read(e)), loc)),
            };
            if chunk.is_empty() {
                break;
            }
            let start = hasher.len();
            let end = start + chunk.len() as u64 - 1;
            if end >= size {
                let p = Problem::Size {
                    actual: end + 1,
                    more: true,
                };
                return Err(Failure::cancel(problem(p), loc));
            }
            hasher.update(&chunk);
            let mut req = Request::new(Method::PATCH, loc.clone())
                .header(CONTENT_TYPE, OCTET_STREAM)
                .header(CONTENT_RANGE, &format!("{start}-{end}"))
                .body(chunk)
                .timeout(Timeout::None);
            let resp = self
                .send(repo, scope, &mut req)
                .await
                .map_err(|e| Failure::cancel(e, loc.clone()))?;
            if resp.status() != StatusCode::ACCEPTED {
                let e = self.unexpected(repo, Method::PATCH, resp).await;
                return Err(Failure::cancel(e, loc));
            }
            if let Some(range) = header_lossy(resp.headers(), RANGE.as_str()) {
                let reported_end = range
                    .trim()
                    .trim_start_matches("bytes=")
                    .split_once('-')
                    .and_then(|(_, e)| e.trim().parse::<u64>().ok());
                if reported_end != Some(end) {
                    let e = UploadError::RangeMismatch {
                        registry: repo.registry.clone(),
                        repository: repo.name.clone(),
                        digest: digest.clone(),
                        end,
                        range,
                    };
                    return Err(Failure::cancel(e.into(), loc));
                }
            }
            loc = self
                .location(repo, &resp)
                .map_err(|e| Failure::cancel(e, loc.clone()))?;
        }
        if hasher.len() != size {
            let p = Problem::Size {
                actual: hasher.len(),
                more: false,
            };
            return Err(Failure::cancel(
                p.into_error(repo, digest, size).into(),
                loc,
            ));
        }
        let actual = hasher.finish();
        if actual != *digest {
            return Err(Failure::cancel(
                Problem::Digest(actual)
                    .into_error(repo, digest, size)
                    .into(),
                loc,
            ));
        }
        let mut req =
            Request::new(Method::PUT, with_digest(loc.clone(), digest)).body(Bytes::new());
        let resp = self
            .send(repo, scope, &mut req)
            .await
            .map_err(|e| Failure::cancel(e, loc.clone()))?;
        self.finish(repo, digest, resp, loc).await
    }

    /// Judges the answer to the committing `PUT`.
    async fn finish(
        &self,
        repo: &Repo,
        digest: &Digest,
        resp: Response,
        session: Url,
    ) -> Result<(), Failure> {
        if resp.status() != StatusCode::CREATED {
            let e = self.unexpected(repo, Method::PUT, resp).await;
            return Err(Failure::cancel(e, session));
        }
        self.check_committed(repo, digest, &resp)
            .map_err(|error| Failure {
                error,
                cancel: None,
            })
    }

    /// Checks the `Docker-Content-Digest` of a commit or mount, if sent.
    fn check_committed(&self, repo: &Repo, digest: &Digest, resp: &Response) -> Result<(), Error> {
        match header_digest(repo, digest, resp.headers())? {
            Some(claimed) if claimed != *digest => Err(UploadError::CommittedDigestMismatch {
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
                expected: digest.clone(),
                claimed,
            }
            .into()),
            _ => Ok(()),
        }
    }

    /// The `Location` of `resp`, resolved against its URL.
    fn location(&self, repo: &Repo, resp: &Response) -> Result<Url, Error> {
        let Some(value) = header_lossy(resp.headers(), LOCATION.as_str()) else {
            return Err(UploadError::MissingLocation {
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
                url: resp.url().to_string(),
            }
            .into());
        };
        resp.url().join(value.trim()).map_err(|_| {
            UploadError::InvalidLocation {
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
                location: value,
            }
            .into()
        })
    }

    /// Cancels an upload session; failures are ignored (sessions expire).
    async fn cancel_upload(&self, repo: &Repo, scope: &Scope, session: Url) {
        let mut req = Request::new(Method::DELETE, session);
        let _ = self.send(repo, scope, &mut req).await;
    }
}

/// An upload failure, and the session to cancel if one is open.
struct Failure {
    error: Error,
    cancel: Option<Url>,
}

impl Failure {
    fn cancel(error: Error, session: Url) -> Failure {
        Failure {
            error,
            cancel: Some(session),
        }
    }
}

/// `url` with `digest=DIGEST` added to its query (kept: the session state).
fn with_digest(mut url: Url, digest: &Digest) -> Url {
    url.query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    url
}
