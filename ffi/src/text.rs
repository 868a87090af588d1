//! Checking the text forms people paste (URIs, peer ids) before handing them to a node, with the
//! node's own parsers: an app can tell a typo at once, without a running node.

use gofast_core::identity::PeerId;

use crate::error::{GofastError, invalid};

/// What a `gofast:` URI names.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct UriInfo {
    /// The root block's id (hex); the URI's key is not repeated here.
    pub root_id: String,
    /// Whether it names a directory (it ends with `/`).
    pub dir: bool,
    /// The URI in its canonical form (`gofast:gfb1…`, `/` for a directory).
    pub uri: String,
}

/// Parses a URI (`gofast:gfb1…`, with or without the scheme, `/` for a directory); `InvalidInput`
/// if it is not one (a typo fails the text's checksum).
#[uniffi::export]
pub fn parse_uri(uri: String) -> Result<UriInfo, GofastError> {
    let parsed = gofast_node::node::parse_uri(&uri)?;
    Ok(UriInfo {
        root_id: parsed.root.id.to_string(),
        dir: parsed.dir,
        uri: parsed.to_string(),
    })
}

/// Parses a peer id (`gfp1…`) and returns its canonical text; `InvalidInput` says what is wrong
/// (checksum, kind, length).
#[uniffi::export]
pub fn parse_peer_id(text: String) -> Result<String, GofastError> {
    text.trim()
        .parse::<PeerId>()
        .map(|p| p.to_string())
        .map_err(|e| invalid(format!("`{}` is not a peer id: {e}", text.trim())))
}
