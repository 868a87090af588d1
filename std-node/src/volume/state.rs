//! A volume's state on this device, on disk: what it is (owner, secret), where this device is in
//! its history (its head), and what it knows of the other devices. One file per volume in the data
//! directory's `volumes/`, readable by its owner only, replaced atomically (written aside, synced,
//! renamed, the directory synced): a crash leaves the old state or the new, never half of one.
//!
//! The file holds the volume secret in the clear, like the node's keys file (`keys.rs`): whoever
//! can read it can read the volume.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gofast_core::block::BlockRef;
use gofast_core::crypto::SecretBytes;
use gofast_core::fs::{SnapshotRef, VolumeCapability, VolumeKeys, VolumeSecret};
use gofast_core::identity::PeerId;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind};

/// The file format's version.
const STATE_VERSION: u32 = 1;
/// Longest local name of a volume.
pub const MAX_VOLUME_NAME: usize = 64;

/// A volume as this device holds it.
#[derive(Clone)]
pub struct VolumeState {
    /// The local name (`gofast fs … <name>:/path`).
    pub name: String,
    /// Owner and secret.
    pub capability: VolumeCapability,
    /// This device's current snapshot: what it reads and builds on (`None` before anything was
    /// written or fetched). Its whole tree is held in the store.
    pub head: Option<SnapshotRef>,
    /// The sequence number of this device's last head record.
    pub head_seq: u64,
    /// The owner's device list as last seen: its sequence number and members.
    pub devices_seq: u64,
    /// Who may write.
    pub devices: Vec<PeerId>,
    /// For each other device, the snapshot of its head record last taken in (merged or found
    /// older), so an unchanged head costs nothing.
    pub seen: BTreeMap<PeerId, gofast_core::block::BlockId>,
    /// Which snapshots this device keeps (all, unless set).
    pub retention: Retention,
}

/// Which old snapshots a device keeps: a snapshot is kept if it is among the newest `last`, or
/// younger than `days`; with neither set, every one is (the default, like Fossil's archival
/// snapshots). The head is always kept. A device's retention is its own: other devices keep what
/// they keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Keep the newest this many snapshots.
    pub last: Option<u32>,
    /// Keep the snapshots made in the last this many days.
    pub days: Option<u32>,
}

impl Retention {
    /// Whether every snapshot is kept.
    pub fn keeps_all(&self) -> bool {
        self.last.is_none() && self.days.is_none()
    }

    /// Whether the snapshot at `index` in a newest-first history, made at `time_ns`, is kept
    /// (`now_ns` is now).
    pub fn keeps(&self, index: usize, time_ns: i64, now_ns: i64) -> bool {
        if self.keeps_all() || index == 0 {
            return true;
        }
        let by_count = self
            .last
            .is_some_and(|n| index < usize::try_from(n).unwrap_or(usize::MAX));
        let by_age = self.days.is_some_and(|d| {
            let window = i64::from(d).saturating_mul(86_400_000_000_000);
            time_ns >= now_ns.saturating_sub(window)
        });
        by_count || by_age
    }
}

impl std::fmt::Debug for VolumeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeState")
            .field("name", &self.name)
            .field("owner", &self.capability.owner)
            .field("head_seq", &self.head_seq)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    name: String,
    capability: String,
    head: Option<String>,
    head_seq: u64,
    devices_seq: u64,
    devices: Vec<String>,
    seen: BTreeMap<String, String>,
    /// Absent in files written before retention existed: keep all.
    #[serde(default)]
    retention: Retention,
}

/// Whether `name` may name a volume locally: 1 to 64 of `a-z`, `0-9`, `-`, `_`.
pub fn check_volume_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= MAX_VOLUME_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{name:?} cannot name a volume: use 1 to {MAX_VOLUME_NAME} of a-z, 0-9, - and _"
            ),
        ))
    }
}

impl VolumeState {
    /// The volume's keys (epoch 0).
    pub fn keys(&self) -> VolumeKeys {
        VolumeKeys::derive(&self.capability.secret, 0, None)
    }

    /// Whether `device` may write, by the device list as last seen.
    pub fn may_write(&self, device: &PeerId) -> bool {
        self.devices.contains(device)
    }

    /// Where the state of volume `name` lives under `data_dir`.
    pub fn path(data_dir: &Path, name: &str) -> PathBuf {
        data_dir.join("volumes").join(format!("{name}.json"))
    }

    /// Every volume held under `data_dir`, by name.
    pub fn list(data_dir: &Path) -> Result<Vec<String>, Error> {
        let dir = data_dir.join("volumes");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::file(&dir, "list", &e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::file(&dir, "list", &e))?;
            let file = entry.file_name();
            if let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".json"))
                && check_volume_name(name).is_ok()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Reads the state of volume `name`.
    pub fn load(data_dir: &Path, name: &str) -> Result<VolumeState, Error> {
        check_volume_name(name)?;
        let path = Self::path(data_dir, name);
        let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::new(
                    ErrorKind::NotFound,
                    format!("no volume {name:?} here: create it with `gofast fs create {name}` or join it"),
                )
            } else {
                Error::file(&path, "read", &e)
            }
        })?);
        let corrupt =
            |what: &str| Error::new(ErrorKind::Corrupt, format!("{}: {what}", path.display()));
        let mut parsed: StateFile = serde_json::from_str(&text)
            .map_err(|e| corrupt(&format!("not a volume state ({e})")))?;
        if parsed.version != STATE_VERSION {
            return Err(corrupt(&format!("unknown version {}", parsed.version)));
        }
        if parsed.name != name {
            return Err(corrupt("the file names another volume"));
        }
        let capability = Zeroizing::new(std::mem::take(&mut parsed.capability))
            .parse::<VolumeCapability>()
            .map_err(|e| corrupt(&e.to_string()))?;
        let head = parsed
            .head
            .as_deref()
            .map(|h| h.parse::<BlockRef>().map(SnapshotRef))
            .transpose()
            .map_err(|e| corrupt(&e.to_string()))?;
        let peer = |s: &str| s.parse::<PeerId>().map_err(|e| corrupt(&e.to_string()));
        let devices = parsed
            .devices
            .iter()
            .map(|d| peer(d))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = BTreeMap::new();
        for (d, id) in &parsed.seen {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(id, &mut bytes).map_err(|e| corrupt(&e.to_string()))?;
            seen.insert(peer(d)?, gofast_core::block::BlockId(bytes));
        }
        Ok(VolumeState {
            name: parsed.name,
            capability,
            head,
            head_seq: parsed.head_seq,
            devices_seq: parsed.devices_seq,
            devices,
            seen,
            retention: parsed.retention,
        })
    }

    /// Writes the state: aside, synced, renamed over the old one, the directory synced.
    pub fn save(&self, data_dir: &Path) -> Result<(), Error> {
        let dir = data_dir.join("volumes");
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&dir)
            .map_err(|e| Error::file(&dir, "create", &e))?;
        let file = StateFile {
            version: STATE_VERSION,
            name: self.name.clone(),
            capability: self.capability.display_secret().to_string(),
            head: self
                .head
                .as_ref()
                .map(|h| h.0.display_capability().to_string()),
            head_seq: self.head_seq,
            devices_seq: self.devices_seq,
            devices: self.devices.iter().map(ToString::to_string).collect(),
            seen: self
                .seen
                .iter()
                .map(|(d, id)| (d.to_string(), hex::encode(id.0)))
                .collect(),
            retention: self.retention,
        };
        let text = Zeroizing::new(
            serde_json::to_string_pretty(&file)
                .map_err(|e| Error::new(ErrorKind::Internal, format!("volume state: {e}")))?,
        );
        // The secret's copies in `file` are wiped with it.
        drop(Zeroizing::new(file.capability));
        drop(file.head.map(Zeroizing::new));
        crate::state_file::replace_private(&Self::path(data_dir, &self.name), text.as_bytes())
    }

    /// A new volume's state, for its capability (created or joined).
    pub fn new(name: &str, owner: PeerId, secret: SecretBytes<32>) -> VolumeState {
        VolumeState {
            name: name.to_owned(),
            capability: VolumeCapability {
                owner,
                secret: VolumeSecret(secret),
            },
            head: None,
            head_seq: 0,
            devices_seq: 0,
            devices: vec![owner],
            seen: BTreeMap::new(),
            retention: Retention::default(),
        }
    }
}
