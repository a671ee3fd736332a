//! The errors: the public `NetlinkError`, and the `Failure` the plumbing
//! returns before an operation and object are attached to it.

use std::io;

use nix::errno::Errno;

/// A failed netlink operation, naming what was being done and to what.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// A system call failed or the kernel refused the request; `kernel_message`
    /// is the kernel's extended-ack explanation when it gave one.
    #[error("{op} {object}: {source}{}", explain(.kernel_message))]
    Os {
        op: &'static str,
        object: String,
        source: io::Error,
        kernel_message: Option<String>,
    },
    /// An argument was rejected before anything was sent.
    #[error("{op} {object}: {reason}")]
    Invalid {
        op: &'static str,
        object: String,
        reason: &'static str,
    },
    /// The kernel's reply could not be parsed.
    #[error("{op} {object}: malformed netlink reply: {reason}")]
    Malformed {
        op: &'static str,
        object: String,
        reason: &'static str,
    },
}

fn explain(kernel_message: &Option<String>) -> String {
    match kernel_message {
        Some(m) => format!(" ({m})"),
        None => String::new(),
    }
}

impl NetlinkError {
    /// A link that should exist was not found.
    pub fn gone(op: &'static str, object: &str) -> NetlinkError {
        NetlinkError::Os {
            op,
            object: object.to_string(),
            source: io::Error::from_raw_os_error(libc::ENODEV),
            kernel_message: None,
        }
    }

    /// The errno, if the failure was a system call or a kernel refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Os { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// The object already exists (`EEXIST`): a link name taken, an address
    /// or route already present.
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// The object does not exist (`ENODEV` for links, `ENOENT` otherwise).
    pub fn is_not_found(&self) -> bool {
        matches!(self.errno(), Some(libc::ENODEV | libc::ENOENT))
    }
}

/// A failure before the operation and object are attached to it.
#[derive(Debug)]
pub(super) enum Failure {
    Os(io::Error, Option<String>),
    Invalid(&'static str),
    Malformed(&'static str),
}

impl Failure {
    pub(super) fn at(self, op: &'static str, object: impl Into<String>) -> NetlinkError {
        let object = object.into();
        match self {
            Failure::Os(source, kernel_message) => NetlinkError::Os {
                op,
                object,
                source,
                kernel_message,
            },
            Failure::Invalid(reason) => NetlinkError::Invalid { op, object, reason },
            Failure::Malformed(reason) => NetlinkError::Malformed { op, object, reason },
        }
    }

    pub(super) fn errno(&self) -> Option<i32> {
        match self {
            Failure::Os(e, _) => e.raw_os_error(),
            _ => None,
        }
    }
}

impl From<Errno> for Failure {
    fn from(e: Errno) -> Failure {
        Failure::Os(io::Error::from_raw_os_error(e as i32), None)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Os(e, None)
    }
}
