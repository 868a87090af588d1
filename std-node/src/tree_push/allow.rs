//! Which peers may push trees here, and into which folder: `push-allow.json` in the data
//! directory, changed by `gofast push-allow`. A push from a peer not on it is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gofast_core::identity::PeerId;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

const FILE: &str = "push-allow.json";
/// Peers on the list at most.
pub const MAX_ALLOWED: usize = 256;

#[derive(Default, Serialize, Deserialize)]
struct AllowFile {
    /// `gfp1…` → the folder its pushes land in (one folder per push name beneath it).
    allow: BTreeMap<String, PathBuf>,
}

/// The allow list, as held in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AllowList {
    allow: BTreeMap<PeerId, PathBuf>,
}

impl AllowList {
    /// Reads the list of `data_dir` (empty if there is none yet).
    pub(crate) fn load(data_dir: &Path) -> Result<AllowList, Error> {
        let path = data_dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AllowList::default()),
            Err(e) => return Err(Error::file(&path, "read", &e)),
        };
        let file: AllowFile = serde_json::from_str(&text).map_err(|e| {
            Error::new(
                ErrorKind::Corrupt,
                format!("{}: {e} (fix or remove the file)", path.display()),
            )
        })?;
        let mut allow = BTreeMap::new();
        for (peer, dir) in file.allow.into_iter().take(MAX_ALLOWED) {
            let peer: PeerId = peer.parse().map_err(|e| {
                Error::new(
                    ErrorKind::Corrupt,
                    format!("{}: peer {peer:?}: {e}", path.display()),
                )
            })?;
            allow.insert(peer, dir);
        }
        Ok(AllowList { allow })
    }

    fn save(&self, data_dir: &Path) -> Result<(), Error> {
        let file = AllowFile {
            allow: self
                .allow
                .iter()
                .map(|(p, d)| (p.to_string(), d.clone()))
                .collect(),
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("push allow list: {e}")))?;
        crate::state_file::replace_private(&data_dir.join(FILE), text.as_bytes())
    }

    /// The folder `peer`'s pushes land in, if it may push.
    pub(crate) fn folder_of(&self, peer: &PeerId) -> Option<&Path> {
        self.allow.get(peer).map(PathBuf::as_path)
    }

    /// Every peer on the list and its folder.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&PeerId, &Path)> {
        self.allow.iter().map(|(p, d)| (p, d.as_path()))
    }

    /// Lets `peer` push into `dir` (an existing folder, made absolute), and saves the list.
    pub(crate) fn allow(
        &mut self,
        data_dir: &Path,
        peer: PeerId,
        dir: &Path,
    ) -> Result<PathBuf, Error> {
        let meta = std::fs::symlink_metadata(dir).map_err(|e| Error::file(dir, "read", &e))?;
        if !meta.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{} is not a folder: pushes land in a folder", dir.display()),
            ));
        }
        let dir = std::fs::canonicalize(dir).map_err(|e| Error::file(dir, "resolve", &e))?;
        if !self.allow.contains_key(&peer) && self.allow.len() >= MAX_ALLOWED {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{MAX_ALLOWED} peers may push here already: remove one first"),
            ));
        }
        let mut next = self.clone();
        next.allow.insert(peer, dir.clone());
        next.save(data_dir)?;
        *self = next;
        Ok(dir)
    }

    /// Takes `peer` off the list (saved); whether it was on it.
    pub(crate) fn remove(&mut self, data_dir: &Path, peer: &PeerId) -> Result<bool, Error> {
        if !self.allow.contains_key(peer) {
            return Ok(false);
        }
        let mut next = self.clone();
        next.allow.remove(peer);
        next.save(data_dir)?;
        *self = next;
        Ok(true)
    }
}
