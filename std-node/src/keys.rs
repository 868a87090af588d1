//! A node's secrets on disk: its identity seed, the scope secret its data is encrypted under, and
//! the key of its store's metadata. One file, readable by its owner only.
//!
//! The file is not encrypted itself (like an SSH key without a passphrase): whoever can read it can
//! act as the node. Protecting it with a passphrase or the platform's key store is future work.

use std::io::Write;
use std::path::{Path, PathBuf};

use gofast_core::block::ScopeSecret;
use gofast_core::crypto::SecretBytes;
use gofast_core::identity::KeyPair;
use rand_core::Rng;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind};
use crate::rng::os_rng;

/// The keys file's first bytes: name and version.
const MAGIC: &[u8; 8] = b"GFKEYS01";
const FILE: &str = "keys";
const LEN: usize = 8 + 3 * 32;

/// The secrets of one node.
pub struct NodeKeys {
    seed: SecretBytes<32>,
    scope: SecretBytes<32>,
    storage: SecretBytes<32>,
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeKeys(<redacted>)")
    }
}

impl NodeKeys {
    fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// Makes fresh keys in `dir` (created if needed); refuses if keys exist there.
    pub fn create(dir: &Path) -> Result<NodeKeys, Error> {
        let mut seed = [0u8; 32];
        os_rng().fill_bytes(&mut seed);
        Self::create_from_seed(dir, &SecretBytes::new(seed))
    }

    /// Makes keys in `dir` whose identity comes from `seed` (a provisioned identity: devices are
    /// configured with their node's id, as in the firmware's test), the other secrets fresh.
    pub fn create_from_seed(dir: &Path, seed: &SecretBytes<32>) -> Result<NodeKeys, Error> {
        // Closed to other users: it holds the keys and the control socket.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(dir)
            .map_err(|e| Error::file(dir, "create", &e))?;
        let path = Self::path(dir);
        if path.exists() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "{} holds a node already; use another --data-dir, or delete it to start over",
                    dir.display()
                ),
            ));
        }
        let mut rng = os_rng();
        let mut fresh = || {
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut b);
            SecretBytes::new(b)
        };
        let keys = NodeKeys {
            seed: seed.clone(),
            scope: fresh(),
            storage: fresh(),
        };
        let mut bytes = Zeroizing::new(Vec::with_capacity(LEN));
        bytes.extend_from_slice(MAGIC);
        for k in [&keys.seed, &keys.scope, &keys.storage] {
            bytes.extend_from_slice(k.expose());
        }
        // Written whole to a temporary file and renamed: a crash leaves no half key file.
        let tmp = dir.join("keys.tmp");
        let mut f = open_private(&tmp)?;
        f.write_all(&bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::file(&tmp, "write", &e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::file(&path, "create", &e))?;
        Ok(keys)
    }

    /// Reads the keys of the node in `dir`.
    pub fn load(dir: &Path) -> Result<NodeKeys, Error> {
        let path = Self::path(dir);
        let bytes = Zeroizing::new(std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::new(
                    ErrorKind::NotFound,
                    format!("no node in {}: run `gofast init` first", dir.display()),
                )
            } else {
                Error::file(&path, "read", &e)
            }
        })?);
        if bytes.len() != LEN || bytes.get(..8) != Some(MAGIC.as_slice()) {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("{} is not a gofast keys file", path.display()),
            ));
        }
        let take = |i: usize| {
            let mut b = [0u8; 32];
            if let Some(s) = bytes.get(8 + 32 * i..8 + 32 * (i + 1)) {
                b.copy_from_slice(s);
            }
            SecretBytes::new(b)
        };
        Ok(NodeKeys {
            seed: take(0),
            scope: take(1),
            storage: take(2),
        })
    }

    /// The node's identity.
    pub fn identity(&self) -> KeyPair {
        KeyPair::from_seed(&self.seed)
    }

    /// The scope its own data is encrypted in.
    pub fn scope(&self) -> ScopeSecret {
        ScopeSecret::from_secret(self.scope.clone())
    }

    /// The key of the block store's metadata.
    pub fn storage_key(&self) -> SecretBytes<32> {
        self.storage.clone()
    }
}

#[cfg(unix)]
fn open_private(path: &Path) -> Result<std::fs::File, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::file(path, "create", &e))
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> Result<std::fs::File, Error> {
    std::fs::File::create(path).map_err(|e| Error::file(path, "create", &e))
}
