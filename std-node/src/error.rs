//! The node's one error type: a coarse kind that scripts and bindings branch on, and a message for
//! people (which names the file or peer at fault and what to do, and never carries key material or
//! the contents of user data).

use std::path::Path;

/// What kind of failure, coarse enough for exit codes and bindings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input was wrong (a path, a URI, an option).
    InvalidInput,
    /// Something asked for does not exist (a root nobody provides, a pin, the node's keys).
    NotFound,
    /// Something to be created exists already.
    AlreadyExists,
    /// A file or socket failed.
    Io,
    /// The network could not do it (no peers, a query failed).
    Network,
    /// Too much in progress; try again.
    Busy,
    /// Stored or received data failed its checks.
    Corrupt,
    /// The node is not running.
    Stopped,
    /// A bug or an unexpected state.
    Internal,
}

/// A failure of a node operation.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of `kind` with a message for people.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A file operation failed: the message names the file and the OS's reason.
    pub fn file(path: &Path, verb: &str, e: &std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
            _ => ErrorKind::Io,
        };
        Error::new(kind, format!("cannot {verb} {}: {e}", path.display()))
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<crate::net::NodeError> for Error {
    fn from(e: crate::net::NodeError) -> Self {
        use crate::net::NodeError;
        let kind = match &e {
            NodeError::Stopped => ErrorKind::Stopped,
            NodeError::Busy | NodeError::Suspended => ErrorKind::Busy,
            NodeError::Io { .. } => ErrorKind::Io,
            NodeError::UnknownPeer(_) => ErrorKind::NotFound,
        };
        Error::new(kind, e.to_string())
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        let kind = match &e {
            StoreError::CorruptBlock { .. } => ErrorKind::Corrupt,
            _ => ErrorKind::Io,
        };
        Error::new(kind, format!("block store: {e}"))
    }
}

impl From<crate::exchange::GetError> for Error {
    fn from(e: crate::exchange::GetError) -> Self {
        use crate::exchange::{FetchError, GetError};
        match e {
            GetError::Store(s) => s.into(),
            GetError::Fetch(FetchError::NoProviders { .. }) => Error::new(
                ErrorKind::Network,
                format!("{e}: try again when a provider is online"),
            ),
            GetError::Fetch(FetchError::BadTree { .. }) => {
                Error::new(ErrorKind::Corrupt, e.to_string())
            }
            GetError::Fetch(FetchError::WrongBlock { .. }) => {
                Error::new(ErrorKind::Network, e.to_string())
            }
            GetError::Write(_) => Error::new(ErrorKind::Io, e.to_string()),
            GetError::NotHeld(_) => Error::new(ErrorKind::Corrupt, e.to_string()),
            GetError::TooLarge { .. } => Error::new(ErrorKind::InvalidInput, e.to_string()),
        }
    }
}
