//! Volumes on a node: a user's mutable file system, shared by their devices
//! (`docs/spec/volume.md`). The block store is the Venti; this is the Fossil.
//!
//! Each change (a put, a mkdir, a remove, a move, a restore) writes the changed listings from the
//! entry up to the root into the store, then a snapshot naming the new root and the previous
//! snapshot, pins both, saves the volume's state, and publishes the device's head: pushed straight
//! to the volume's other devices that are online ("Pushed records", `record.md`) and put in the DHT
//! for those that are not. A device that learns of another's head fetches only the blocks its own
//! tree lacks, then fast-forwards to it or merges the two against their common ancestor.
//!
//! One lock per volume: its changes and merges happen one at a time, in the order they come.

mod merge;
#[cfg(feature = "folder-sync")]
mod mirror;
mod ops;
mod retention;
mod snapshots;
mod state;
mod sync;
mod tree;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use gofast_core::block::BlockId;
use gofast_core::fs::EntryKind;
use gofast_core::identity::{KeyPair, PeerId};

pub use merge::MergeConflict;
#[cfg(feature = "folder-sync")]
pub use mirror::MirrorPass;
pub use retention::RetainReport;
pub use snapshots::SnapshotInfo;
pub use state::{
    EpochSecret, MAX_EPOCHS_KEPT, MAX_VOLUME_NAME, Retention, VolumeState, check_volume_name,
};
pub use sync::SyncReport;
pub use tree::VolPath;

use crate::error::Error;
use crate::events::EventSender;
use crate::net::NodeHandle;
use crate::store::BlockStore;

/// Snapshots a history walk visits at most (finding a common ancestor, `log`, `restore --at`).
pub const MAX_HISTORY_WALK: usize = 100_000;
/// Largest file `read` returns in memory.
pub const MAX_READ: u64 = 1 << 30;

/// A volume, as `gofast fs volumes` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Its local name.
    pub name: String,
    /// Who owns it (signs its device list).
    pub owner: PeerId,
    /// Who may write, by the device list last seen.
    pub devices: Vec<PeerId>,
    /// This device's snapshot: its short id and height.
    pub head: Option<(String, u64)>,
    /// Whether this device is on the device list.
    pub may_write: bool,
    /// The newest key epoch this device holds (one more after each device removed).
    pub key_epoch: u32,
}

/// One entry of a volume's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsEntry {
    /// Its name.
    pub name: String,
    /// File or directory.
    pub kind: EntryKind,
    /// Data bytes (for a directory, of every file beneath it).
    pub size: u64,
    /// Last modification, ns since the Unix epoch.
    pub mtime_ns: i64,
}

/// One step of a volume's history, newest first in a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The snapshot's short id (what `restore --at` takes).
    pub id: String,
    /// Its block id.
    pub block: BlockId,
    /// Its height.
    pub seq: u64,
    /// When it was made.
    pub time_ns: i64,
    /// Who made it.
    pub device: PeerId,
    /// What changed.
    pub note: String,
    /// How many snapshots it follows (2 or more for a merge).
    pub parents: usize,
}

/// The node's volumes.
pub struct Volumes {
    data_dir: PathBuf,
    store: Arc<BlockStore>,
    net: NodeHandle,
    identity: Arc<KeyPair>,
    events: EventSender,
    open: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<VolumeState>>>>,
    /// Each open volume's record salts (head, device list) → its name: a pushed record finds its
    /// volume without waiting on any volume's lock.
    salts: std::sync::Mutex<HashMap<Vec<u8>, String>>,
}

impl std::fmt::Debug for Volumes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volumes")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Volumes {
    pub(crate) fn new(
        data_dir: PathBuf,
        store: Arc<BlockStore>,
        net: NodeHandle,
        identity: Arc<KeyPair>,
        events: EventSender,
    ) -> Volumes {
        Volumes {
            data_dir,
            store,
            net,
            identity,
            events,
            open: std::sync::Mutex::new(HashMap::new()),
            salts: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The volume `name`, loaded on first use.
    fn volume(&self, name: &str) -> Result<Arc<tokio::sync::Mutex<VolumeState>>, Error> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = open.get(name) {
            return Ok(Arc::clone(v));
        }
        let state = VolumeState::load(&self.data_dir, name)?;
        self.remember_salts(&state);
        let v = Arc::new(tokio::sync::Mutex::new(state));
        open.insert(name.to_owned(), Arc::clone(&v));
        Ok(v)
    }

    /// Registers a new volume's state (refused if the name is taken).
    fn add(&self, state: VolumeState) -> Result<Arc<tokio::sync::Mutex<VolumeState>>, Error> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.contains_key(&state.name) || VolumeState::path(&self.data_dir, &state.name).exists()
        {
            return Err(Error::new(
                crate::error::ErrorKind::AlreadyExists,
                format!("a volume named {:?} exists here already", state.name),
            ));
        }
        state.save(&self.data_dir)?;
        self.remember_salts(&state);
        let name = state.name.clone();
        let v = Arc::new(tokio::sync::Mutex::new(state));
        open.insert(name, Arc::clone(&v));
        Ok(v)
    }

    fn remember_salts(&self, state: &VolumeState) {
        let keys = state.keys();
        let mut salts = self
            .salts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        salts.insert(keys.head_salt().to_vec(), state.name.clone());
        salts.insert(keys.devices_salt().to_vec(), state.name.clone());
        salts.insert(keys.grant_salt().to_vec(), state.name.clone());
    }

    /// The volume whose head or device list records have salt `salt`, if one is held here.
    fn volume_of_salt(&self, salt: &[u8]) -> Option<String> {
        let known = |salt: &[u8]| {
            self.salts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(salt)
                .cloned()
        };
        known(salt).or_else(|| {
            // Not open yet (or not held): open every volume, which remembers its salts.
            for name in self.names().unwrap_or_default() {
                let _ = self.volume(&name);
            }
            known(salt)
        })
    }

    /// The names of every volume held here.
    pub fn names(&self) -> Result<Vec<String>, Error> {
        VolumeState::list(&self.data_dir)
    }

    /// What volume `name` is.
    pub async fn info(&self, name: &str) -> Result<VolumeInfo, Error> {
        let v = self.volume(name)?;
        let state = v.lock().await;
        self.info_locked(&state).await
    }

    /// What the volume is, without its head (filled in by `info_locked`).
    fn info_of(&self, state: &VolumeState) -> VolumeInfo {
        VolumeInfo {
            name: state.name.clone(),
            owner: state.capability.owner,
            devices: state.devices.clone(),
            head: None,
            may_write: state.may_write(&self.identity.peer_id()),
            key_epoch: state.epoch(),
        }
    }
}

/// How often a node reads its volumes' heads from the DHT, for changes whose push it missed.
pub const RESYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// How long after start a node publishes its volumes' heads again and syncs them first.
pub const RESYNC_START_DELAY: std::time::Duration = std::time::Duration::from_secs(2);

/// Publishes this device's heads again and syncs every volume [`RESYNC_START_DELAY`] after the
/// node starts, then syncs every [`RESYNC_INTERVAL`]; ends with the node.
pub(crate) async fn resync(volumes: std::sync::Weak<Volumes>) {
    // The first round waits for the node to have joined the network through its bootstrap peers.
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + RESYNC_START_DELAY,
        RESYNC_INTERVAL,
    );
    let mut first = true;
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(v) = volumes.upgrade() else {
            return;
        };
        // Synced first: a key epoch begun while this device was off is learnt before it
        // publishes (or writes) anything more.
        for name in v.names().unwrap_or_default() {
            if let Err(e) = v.sync(&name).await {
                tracing::debug!(volume = %name, error = %e, "periodic volume sync");
            }
        }
        if first {
            // The head this device last made may not have reached the DHT (a crash right after
            // the edit): published again.
            for name in v.names().unwrap_or_default() {
                if let Err(e) = v.republish(&name).await {
                    tracing::debug!(volume = %name, error = %e, "publishing a volume's head");
                }
            }
            first = false;
        }
    }
}

/// A device's short name in conflict names: 8 characters of its key's text, `[0-9a-z]`.
pub fn device_tag(device: &PeerId) -> String {
    device
        .to_string()
        .trim_start_matches("gfp1")
        .chars()
        .take(8)
        .collect()
}
