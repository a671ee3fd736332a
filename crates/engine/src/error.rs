//! Every failure of an engine operation, typed by what a front end does with
//! it: [`ErrorKind`] is what the CLI turns into Docker's exit codes and
//! messages and the API into HTTP statuses, each in one place. The text of
//! an error is what Docker's daemon says in the same case; no decision is
//! ever taken by reading it.

use std::path::{Path, PathBuf};

/// What kind of failure, as a front end must tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object named does not exist (HTTP 404).
    NotFound,
    /// The object's state or another object forbids it now: a name in use,
    /// a running container removed, a volume in use (HTTP 409).
    Conflict,
    /// The request itself is wrong: a bad value, a bad combination (HTTP 400).
    InvalidArgument,
    /// The container is not running (HTTP 409, as dockerd answers).
    NotRunning,
    /// Nothing to do: started when running, stopped when stopped (HTTP 304).
    NotModified,
    /// Never allowed: removing a predefined network (HTTP 403).
    Forbidden,
    /// A registry refused the credentials (HTTP 401).
    Unauthorized,
    /// Something on the host failed (HTTP 500).
    Internal,
}

/// The kind of object a [`Error::NotFound`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Container,
    Image,
    Network,
    Volume,
    /// A path inside a container (`cp`).
    Path,
    /// An exec instance (the API's `/exec/{id}`).
    Exec,
}

/// Why a container's (or an exec'd) process did not start, for Docker's exit
/// codes: 127 when its command is not found, 126 when it cannot be run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartCause {
    CommandNotFound,
    NotExecutable,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Image(#[from] skiff_image::service::ImagesError),
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error("{msg}")]
    NotFound { object: Object, msg: String },
    #[error("{0}")]
    Conflict(String),
    /// A bad argument or combination.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unauthorized(String),
    /// An operation on the host failed (pausing, signalling, mounting...).
    #[error("{0}")]
    Internal(String),
    /// The container's or an exec'd process could not be started.
    #[error("{msg}")]
    Start { msg: String, cause: StartCause },
    #[error("{op} {path}: {err}")]
    Io {
        op: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("You cannot remove a running container {0}. Stop the container before attempting removal or force remove")]
    RemoveRunning(String),
    #[error("container {0} is already running")]
    AlreadyRunning(String),
    #[error("Container {0} is not running")]
    NotRunning(String),
    #[error("Container {0} is paused, unpause the container before stopping or killing")]
    Paused(String),
    #[error("the supervisor of container {id} failed: {msg}")]
    Supervisor { id: String, msg: String },
    /// A build failed (its Dockerfile, a step, a RUN's exit).
    #[error(transparent)]
    Build(#[from] skiff_build::BuildError),
    /// A waiter's client went away (see `notify::Cancel`).
    #[error("cancelled: the client is gone")]
    Cancelled,
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        use crate::store::StoreError as S;
        use skiff_image::service::ImagesError as I;
        match self {
            Error::Store(S::NoSuchContainer(_)) => ErrorKind::NotFound,
            Error::Store(S::NameInUse { .. } | S::ObjectExists(_) | S::ObjectChanged(_)) => {
                ErrorKind::Conflict
            }
            Error::Store(S::NoSuchObject(_)) => ErrorKind::NotFound,
            Error::Store(S::Ambiguous(_)) => ErrorKind::InvalidArgument,
            Error::Store(_) => ErrorKind::Internal,
            Error::Image(I::NoSuchImage(_)) => ErrorKind::NotFound,
            Error::Image(I::Reference(_)) => ErrorKind::InvalidArgument,
            Error::Image(I::MultipleNames { .. }) => ErrorKind::Conflict,
            Error::Image(_) => ErrorKind::Internal,
            Error::Spec(_) | Error::Invalid(_) => ErrorKind::InvalidArgument,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict(_) | Error::RemoveRunning(_) | Error::Paused(_) => ErrorKind::Conflict,
            Error::AlreadyRunning(_) => ErrorKind::NotModified,
            Error::NotRunning(_) => ErrorKind::NotRunning,
            Error::Forbidden(_) => ErrorKind::Forbidden,
            Error::Unauthorized(_) => ErrorKind::Unauthorized,
            Error::Internal(_) | Error::Io { .. } | Error::Supervisor { .. } | Error::Cancelled => {
                ErrorKind::Internal
            }
            Error::Build(b) => {
                use skiff_build::BuildError as B;
                match b {
                    B::NoSuchImage(_) => ErrorKind::NotFound,
                    B::Images(I::NoSuchImage(_)) => ErrorKind::NotFound,
                    B::Images(_) | B::Host(_) | B::Cache(_) => ErrorKind::Internal,
                    B::Parse { .. }
                    | B::Step { .. }
                    | B::RunFailed { .. }
                    | B::NoTarget(_)
                    | B::Invalid(_) => ErrorKind::InvalidArgument,
                }
            }
            Error::Start { cause, .. } => match cause {
                StartCause::CommandNotFound | StartCause::NotExecutable => {
                    ErrorKind::InvalidArgument
                }
                StartCause::Other => ErrorKind::Internal,
            },
        }
    }

    /// Why a start failed, when it is a start failure.
    pub fn start_cause(&self) -> Option<StartCause> {
        match self {
            Error::Start { cause, .. } => Some(*cause),
            _ => None,
        }
    }

    pub(crate) fn not_found(object: Object, msg: impl Into<String>) -> Error {
        Error::NotFound {
            object,
            msg: msg.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |err| Error::Io {
        op,
        path: path.to_path_buf(),
        err,
    }
}

impl From<skiff_image::catalog::CatalogError> for Error {
    fn from(e: skiff_image::catalog::CatalogError) -> Self {
        Error::Image(e.into())
    }
}
