//! The kube layer's errors, worded as kubectl prints them. Each says whether
//! the API server would have answered it (and with which status reason), so
//! the CLI prefixes `Error from server (Reason): ` or `error: ` as kubectl
//! does, and an API front end maps the reason to a status.

use crate::kinds::Kind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manifest that cannot be read.
    #[error("the path \"{path}\" cannot be read: {msg}")]
    Read { path: String, msg: String },
    /// A document that is not YAML or JSON (or not an object).
    #[error("error parsing {file}: error converting YAML to JSON: {msg}")]
    Parse { file: String, msg: String },
    #[error("error validating \"{file}\": error validating data: [{missing}]; if you choose to ignore these errors, turn validation off with --validate=false")]
    MissingType { file: String, missing: String },
    /// A kind (or a kind in a version) skiff does not serve.
    #[error("resource mapping not found for name: \"{name}\" namespace: \"{namespace}\" from \"{file}\": no matches for kind \"{kind}\" in version \"{version}\"\nensure CRDs are installed first")]
    NoMatch {
        file: String,
        name: String,
        namespace: String,
        kind: String,
        version: String,
        /// The kind exists in another version.
        other_version: bool,
    },
    /// A field the kind does not have, or a value of the wrong type.
    #[error("error when creating \"{file}\": {kind} in version \"{version}\" cannot be handled as a {kind}: {why}")]
    Strict {
        file: String,
        kind: Kind,
        version: String,
        why: String,
    },
    /// A kind on the command line that skiff does not serve.
    #[error("the server doesn't have a resource type \"{0}\"")]
    NoResourceType(String),
    /// An object that fails validation: each cause as `path: Invalid value: ...`.
    #[error("{context}The {kind} \"{name}\" is invalid: {}", causes.join(", "))]
    Invalid {
        /// `error when creating "app.yaml": ` for a manifest's object.
        context: String,
        kind: Kind,
        name: String,
        causes: Vec<String>,
    },
    #[error("{context}{resource} \"{name}\" not found")]
    NotFound {
        context: String,
        /// `deployments.apps`, `namespaces`.
        resource: String,
        name: String,
    },
    #[error("{context}{resource} \"{name}\" already exists")]
    AlreadyExists {
        context: String,
        resource: String,
        name: String,
    },
    /// A write lost to another writer.
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again")]
    Conflict { resource: String, name: String },
    /// A request the API server would refuse as it stands.
    #[error("{0}")]
    BadRequest(String),
    /// Something the command line got wrong (flags, a missing name).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Engine(Box<skiff_engine::Error>),
}

impl From<skiff_engine::Error> for Error {
    fn from(e: skiff_engine::Error) -> Self {
        Error::Engine(Box::new(e))
    }
}

impl Error {
    /// The status reason the API server answers with, for errors it would
    /// have given (`None`: kubectl finds them itself).
    pub fn reason(&self) -> Option<&'static str> {
        Some(match self {
            Error::Strict { .. } | Error::BadRequest(_) => "BadRequest",
            Error::Invalid { .. } => "Invalid",
            Error::NotFound { .. } => "NotFound",
            Error::AlreadyExists { .. } => "AlreadyExists",
            Error::Conflict { .. } => "Conflict",
            Error::Engine(e) => match e.kind() {
                skiff_engine::ErrorKind::NotFound => "NotFound",
                skiff_engine::ErrorKind::Conflict => "Conflict",
                skiff_engine::ErrorKind::InvalidArgument => "BadRequest",
                _ => "InternalError",
            },
            Error::Read { .. }
            | Error::Parse { .. }
            | Error::MissingType { .. }
            | Error::NoMatch { .. }
            | Error::NoResourceType(_)
            | Error::Usage(_) => return None,
        })
    }
}

pub type Result<T> = std::result::Result<T, Error>;
