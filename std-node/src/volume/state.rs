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
use gofast_core::fs::grant::GRANT_SALT_LEN;
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
    /// The secrets of the key epochs after the first (whose secret is the capability's), oldest
    /// first: what this device was granted, or drew as the owner. At most [`MAX_EPOCHS_KEPT`].
    pub epochs: Vec<EpochSecret>,
    /// The sequence number of the owner's grant record: the last published (owner) or taken in.
    pub grant_seq: u64,
    /// When the owner's grant was last looked up in the DHT (not saved: a restart may look again).
    pub grant_looked_up: Option<std::time::Instant>,
}

/// Most epoch secrets a device keeps: past it, the oldest is forgotten (heads sealed in it, by
/// devices that missed every later epoch, no longer open).
pub const MAX_EPOCHS_KEPT: usize = 64;

/// One key epoch of a volume after the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochSecret {
    /// Its number (1 or more).
    pub epoch: u32,
    /// Its secret.
    pub secret: VolumeSecret,
    /// The grant's salt, drawn with the secret (the owner publishes the grant with it again).
    pub salt: [u8; GRANT_SALT_LEN],
}

#[derive(Serialize, Deserialize)]
struct EpochFile {
    epoch: u32,
    secret: String,
    salt: String,
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
    /// Absent in files written before key epochs existed: none after the first.
    #[serde(default)]
    epochs: Vec<EpochFile>,
    #[serde(default)]
    grant_seq: u64,
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
    /// The volume's keys in the newest epoch this device holds: what it writes with.
    pub fn keys(&self) -> VolumeKeys {
        self.keys_of(self.epochs.last())
    }

    /// The newest key epoch this device holds.
    pub fn epoch(&self) -> u32 {
        self.epochs.last().map_or(0, |e| e.epoch)
    }

    /// The volume's keys in `epoch`, if this device holds its secret.
    pub fn keys_at(&self, epoch: u32) -> Option<VolumeKeys> {
        if epoch == 0 {
            return Some(self.keys_of(None));
        }
        let e = self.epochs.iter().find(|e| e.epoch == epoch)?;
        Some(self.keys_of(Some(e)))
    }

    /// The keys of epoch `e` (`None`: epoch 0, the capability's secret); the id is always epoch 0's.
    fn keys_of(&self, e: Option<&EpochSecret>) -> VolumeKeys {
        let first = VolumeKeys::derive(&self.capability.secret, 0, None);
        match e {
            Some(e) => VolumeKeys::derive(&e.secret, e.epoch, Some(*first.id())),
            None => first,
        }
    }

    /// Keeps the secret of a newer epoch (one not newer than the newest held is ignored); the
    /// oldest kept is forgotten past [`MAX_EPOCHS_KEPT`].
    pub fn add_epoch(&mut self, epoch: EpochSecret) {
        if epoch.epoch <= self.epoch() {
            return;
        }
        self.epochs.push(epoch);
        if self.epochs.len() > MAX_EPOCHS_KEPT {
            self.epochs.remove(0);
        }
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
        // Each secret's text is wiped when its `Zeroizing` goes, errors included.
        let texts: Vec<(u32, Zeroizing<String>, String)> = std::mem::take(&mut parsed.epochs)
            .into_iter()
            .map(|e| (e.epoch, Zeroizing::new(e.secret), e.salt))
            .collect();
        let mut epochs: Vec<EpochSecret> = Vec::new();
        for (epoch, secret_text, salt_text) in &texts {
            let mut secret = Zeroizing::new([0u8; 32]);
            let mut salt = [0u8; GRANT_SALT_LEN];
            hex::decode_to_slice(secret_text.as_str(), secret.as_mut_slice())
                .and_then(|()| hex::decode_to_slice(salt_text, &mut salt))
                .map_err(|_| corrupt("an epoch's secret or salt is not hex of the right length"))?;
            if *epoch == 0 || epochs.last().is_some_and(|l| l.epoch >= *epoch) {
                return Err(corrupt("the key epochs are not 1 or more, rising"));
            }
            epochs.push(EpochSecret {
                epoch: *epoch,
                secret: VolumeSecret(SecretBytes::new(*secret)),
                salt,
            });
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
            epochs,
            grant_seq: parsed.grant_seq,
            grant_looked_up: None,
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
            epochs: self
                .epochs
                .iter()
                .map(|e| EpochFile {
                    epoch: e.epoch,
                    secret: hex::encode(e.secret.0.expose()),
                    salt: hex::encode(e.salt),
                })
                .collect(),
            grant_seq: self.grant_seq,
        };
        let text = Zeroizing::new(
            serde_json::to_string_pretty(&file)
                .map_err(|e| Error::new(ErrorKind::Internal, format!("volume state: {e}")))?,
        );
        // The secret's copies in `file` are wiped with it.
        drop(Zeroizing::new(file.capability));
        drop(file.head.map(Zeroizing::new));
        for e in file.epochs {
            drop(Zeroizing::new(e.secret));
        }
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
            epochs: Vec::new(),
            grant_seq: 0,
            grant_looked_up: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(n: u32) -> EpochSecret {
        EpochSecret {
            epoch: n,
            secret: VolumeSecret(SecretBytes::new(
                [u8::try_from(n % 100).unwrap_or(0) + 100; 32],
            )),
            salt: [7; GRANT_SALT_LEN],
        }
    }

    fn some_state() -> VolumeState {
        let owner = gofast_core::identity::KeyPair::from_seed(&SecretBytes::new([1; 32]));
        VolumeState::new("home", owner.peer_id(), SecretBytes::new([2; 32]))
    }

    #[test]
    fn epochs_rise_are_capped_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = some_state();
        let first = state.keys();
        assert_eq!((state.epoch(), first.epoch()), (0, 0));
        state.add_epoch(epoch(2));
        state.add_epoch(epoch(1)); // older than the newest: ignored
        assert_eq!(state.epoch(), 2);
        assert!(state.keys_at(1).is_none());
        let keys = state.keys();
        assert_eq!((keys.epoch(), keys.id()), (2, first.id()));
        assert_ne!(keys.scope(), first.scope());
        state.grant_seq = 9;
        state.save(dir.path()).unwrap();
        let back = VolumeState::load(dir.path(), "home").unwrap();
        assert_eq!(
            (back.epochs.clone(), back.grant_seq),
            (state.epochs.clone(), 9)
        );
        assert_eq!(back.keys().scope(), keys.scope());
        for n in 3..3 + MAX_EPOCHS_KEPT as u32 {
            state.add_epoch(epoch(n));
        }
        assert_eq!(state.epochs.len(), MAX_EPOCHS_KEPT);
        assert!(state.keys_at(2).is_none(), "the oldest is forgotten");
        assert!(state.keys_at(0).is_some(), "epoch 0 is the capability's");
    }

    #[test]
    fn a_state_file_with_bad_epochs_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = some_state();
        state.add_epoch(epoch(1));
        state.add_epoch(epoch(2));
        state.save(dir.path()).unwrap();
        let path = VolumeState::path(dir.path(), "home");
        let text = std::fs::read_to_string(&path).unwrap();
        for (from, to) in [
            ("\"epoch\": 2", "\"epoch\": 1"),
            ("\"epoch\": 1", "\"epoch\": 0"),
            ("0707070707", "07070707zz"),
        ] {
            assert!(text.contains(from), "{text}");
            std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
            let err = VolumeState::load(dir.path(), "home").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Corrupt, "{from} → {to}: {err}");
            // The secret is never in the message.
            assert!(!err.to_string().contains("0202020202"), "{err}");
        }
    }
}
