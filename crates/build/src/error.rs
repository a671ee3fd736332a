//! What goes wrong in a build, typed so that front ends map kinds (not
//! texts) to exit codes and statuses.

use crate::dockerfile::ParseError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile does not parse.
    #[error("{file}: {err}")]
    Parse { file: String, err: ParseError },
    /// An instruction cannot be carried out as written (a missing COPY
    /// source, a bad flag value, an unknown stage).
    #[error("{file}:{line}: {instruction}: {message}")]
    Step {
        file: String,
        line: usize,
        instruction: String,
        message: String,
    },
    /// A RUN exited with a code other than 0.
    #[error(
        "{file}:{line}: {instruction}: process \"{command}\" did not complete successfully: exit code: {code}"
    )]
    RunFailed {
        file: String,
        line: usize,
        instruction: String,
        command: String,
        code: i32,
        /// The last lines of its output.
        tail: Vec<String>,
    },
    /// `--target` names no stage.
    #[error("target stage \"{0}\" could not be found")]
    NoTarget(String),
    /// A base image is neither in the store nor pullable.
    #[error("{0}")]
    NoSuchImage(String),
    /// The build options are wrong (a bad --build-arg, an unreadable -f).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Images(#[from] skiff_image::service::ImagesError),
    /// A cache to import or export is unreadable, lies or cannot be
    /// written (`--cache-from`, `--cache-to`).
    #[error("{0}")]
    Cache(String),
    /// The host failed (a mount, a runtime start, a write).
    #[error("{0}")]
    Host(String),
}

impl BuildError {
    pub(crate) fn host(what: impl std::fmt::Display) -> BuildError {
        BuildError::Host(what.to_string())
    }
}

impl From<skiff_image::catalog::CatalogError> for BuildError {
    fn from(e: skiff_image::catalog::CatalogError) -> Self {
        BuildError::Images(e.into())
    }
}

impl From<skiff_image::store::StoreError> for BuildError {
    fn from(e: skiff_image::store::StoreError) -> Self {
        BuildError::Images(e.into())
    }
}

pub type Result<T> = std::result::Result<T, BuildError>;
