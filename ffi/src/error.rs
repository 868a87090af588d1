//! The one error type of the bindings: a coarse kind (the variant) and a message for people.

use gofast_node::error::{Error, ErrorKind};

/// Why a call failed. The message names the file or peer at fault and what to do; it never
/// carries key material or user data (it comes from the node's errors, which promise the same).
///
/// Kotlin: `GofastException.NotFound` and so on; Swift: `GofastError.NotFound(message:)`;
/// Python: `GofastError.NotFound`.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum GofastError {
    /// An argument was wrong: a URI, an address, a path, an option.
    #[error("{0}")]
    InvalidInput(String),
    /// What was asked for does not exist: a file, a pin, a root no peer provides.
    #[error("{0}")]
    NotFound(String),
    /// What was to be created exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// A file or socket failed.
    #[error("{0}")]
    Io(String),
    /// The network could not do it: no peers, a peer refused or went away.
    #[error("{0}")]
    Network(String),
    /// Too much under way, or the node is suspended: try again later.
    #[error("{0}")]
    Busy(String),
    /// Stored or received data failed its checks.
    #[error("{0}")]
    Corrupt(String),
    /// The node was stopped.
    #[error("{0}")]
    Stopped(String),
    /// The work was cancelled (its handle was cancelled or dropped).
    #[error("{0}")]
    Cancelled(String),
    /// A bug: an unexpected state, or a panic caught at the boundary.
    #[error("{0}")]
    Internal(String),
}

impl From<Error> for GofastError {
    fn from(e: Error) -> Self {
        let m = e.message().to_owned();
        match e.kind() {
            ErrorKind::InvalidInput => GofastError::InvalidInput(m),
            ErrorKind::NotFound => GofastError::NotFound(m),
            ErrorKind::AlreadyExists => GofastError::AlreadyExists(m),
            ErrorKind::Io => GofastError::Io(m),
            ErrorKind::Network => GofastError::Network(m),
            ErrorKind::Busy => GofastError::Busy(m),
            ErrorKind::Corrupt => GofastError::Corrupt(m),
            ErrorKind::Stopped => GofastError::Stopped(m),
            ErrorKind::Internal => GofastError::Internal(m),
        }
    }
}

impl From<gofast_node::net::NodeError> for GofastError {
    fn from(e: gofast_node::net::NodeError) -> Self {
        Error::from(e).into()
    }
}

/// A wrong argument, with what was wrong.
pub(crate) fn invalid(message: impl Into<String>) -> GofastError {
    GofastError::InvalidInput(message.into())
}
