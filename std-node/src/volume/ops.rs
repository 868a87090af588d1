//! A device's own changes to a volume: creating and joining it, editing its tree (each edit one
//! snapshot), reading it, its history, and publishing the device's head.

use std::path::Path;
use std::sync::Arc;

use gofast_core::block::BlockRef;
use gofast_core::crypto::SecretBytes;
use gofast_core::fs::grant::GRANT_SALT_LEN;
use gofast_core::fs::{
    DeviceList, EntryKind, Grant, MAX_DEVICES, VolumeCapability, VolumeHead, VolumeSecret,
};
use gofast_core::identity::PeerId;
use rand_core::Rng;
use tracing::debug;
use zeroize::Zeroize;

use super::snapshots::{self, SnapshotInfo, now_ns, short_id};
use super::state::{EpochSecret, VolumeState, check_volume_name};
use super::tree::{TreeWriter, VolPath, dir_at, lookup, lookup_with};
use super::{FsEntry, LogEntry, MAX_HISTORY_WALK, MAX_READ, VolumeInfo, Volumes};
use crate::dirs::{OwnedEntry, read_listing};
use crate::error::{Error, ErrorKind};
use crate::events::NodeEvent;
use crate::rng::os_rng;
use crate::store::BlockStore;

/// What an edit does to the tree under a root: returns the new root.
type Edit =
    Box<dyn FnOnce(&BlockStore, &mut TreeWriter<'_>, &BlockRef) -> Result<BlockRef, Error> + Send>;

/// Runs `f` on a blocking thread (store and file work).
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    crate::node::blocking("volume", f).await
}

impl Volumes {
    /// Creates volume `name`, owned by this device: a fresh secret, a device list of this device
    /// alone, and a first snapshot of an empty root.
    pub async fn create(&self, name: &str) -> Result<VolumeInfo, Error> {
        check_volume_name(name)?;
        let mut secret = [0u8; 32];
        os_rng().fill_bytes(&mut secret);
        let me = self.identity.peer_id();
        let v = self.add(VolumeState::new(name, me, SecretBytes::new(secret)))?;
        let mut state = v.lock().await;
        state.devices_seq = 1;
        self.publish_devices(&state, &[]).await;
        self.commit(
            &mut state,
            "create",
            Box::new(|_, _, root| Ok(root.clone())),
        )
        .await?;
        self.info_locked(&state).await
    }

    /// Joins the volume `cap` names as `name` on this device: reads the owner's device list and
    /// the devices' heads, and takes the newest in. This device can write once the owner adds it
    /// (`add_device`); until then its changes stay here.
    pub async fn join(&self, name: &str, cap: &VolumeCapability) -> Result<VolumeInfo, Error> {
        check_volume_name(name)?;
        let mut state = VolumeState::new(name, cap.owner, cap.secret.0.clone());
        state.devices.clear();
        let v = self.add(state)?;
        let report = self.sync(name).await;
        if let Err(e) = &report {
            debug!(volume = name, error = %e, "first sync after joining");
        }
        let state = v.lock().await;
        self.info_locked(&state).await
    }

    /// The capability that lets another device join volume `name` (a secret).
    pub async fn capability(&self, name: &str) -> Result<VolumeCapability, Error> {
        let v = self.volume(name)?;
        let state = v.lock().await;
        Ok(state.capability.clone())
    }

    /// Every volume held here.
    pub async fn list(&self) -> Result<Vec<VolumeInfo>, Error> {
        let mut out = Vec::new();
        for name in self.names()? {
            out.push(self.info(&name).await?);
        }
        Ok(out)
    }

    pub(super) async fn info_locked(&self, state: &VolumeState) -> Result<VolumeInfo, Error> {
        let mut info = self.info_of(state);
        if let Some(head) = &state.head {
            let (store, keys, at) = (Arc::clone(&self.store), state.keys(), head.clone());
            let snap = blocking(move || snapshots::load(&store, &keys, &at)).await?;
            info.head = Some((short_id(&head.0.id), snap.seq));
        }
        Ok(info)
    }

    /// Adds `device` to volume `name`'s device list (the owner only).
    pub async fn add_device(&self, name: &str, device: PeerId) -> Result<VolumeInfo, Error> {
        self.change_devices(name, |list| {
            if !list.contains(&device) {
                if list.len() >= MAX_DEVICES {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!("a volume has at most {MAX_DEVICES} devices"),
                    ));
                }
                list.push(device);
            }
            Ok(())
        })
        .await
    }

    /// Removes `device` from volume `name`'s device list (the owner only): its later heads are
    /// ignored by every device that has seen the new list, and the volume's keys move to a new
    /// epoch that it is not granted, so it reads nothing written from then on (what it could read
    /// before, it still can: docs/spec/volume.md).
    pub async fn remove_device(&self, name: &str, device: PeerId) -> Result<VolumeInfo, Error> {
        if device == self.identity.peer_id() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the owner cannot remove itself from its volume",
            ));
        }
        self.change_devices(name, |list| {
            list.retain(|d| *d != device);
            Ok(())
        })
        .await
    }

    async fn change_devices(
        &self,
        name: &str,
        change: impl FnOnce(&mut Vec<PeerId>) -> Result<(), Error>,
    ) -> Result<VolumeInfo, Error> {
        let v = self.volume(name)?;
        let mut state = v.lock().await;
        if state.capability.owner != self.identity.peer_id() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "only the volume's owner ({}) changes its devices",
                    state.capability.owner
                ),
            ));
        }
        // Changed on a copy, taken only once saved: a failed save leaves the state as it was
        // (an epoch kept only in memory could be drawn again, with another secret).
        let mut next = state.clone();
        change(&mut next.devices)?;
        if next.devices != state.devices {
            next.devices_seq += 1;
            let removed: Vec<PeerId> = state
                .devices
                .iter()
                .filter(|d| !next.devices.contains(d))
                .copied()
                .collect();
            if !removed.is_empty() {
                // A new epoch: its secret and salt are kept (saved below) before anything sealed
                // with them is published, so a grant's envelope key never seals two secrets.
                let mut secret = [0u8; 32];
                let mut salt = [0u8; GRANT_SALT_LEN];
                os_rng().fill_bytes(&mut secret);
                os_rng().fill_bytes(&mut salt);
                let epoch = next.epoch().checked_add(1).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        "the volume's key epochs are used up",
                    )
                })?;
                next.add_epoch(EpochSecret {
                    epoch,
                    secret: VolumeSecret(SecretBytes::new(secret)),
                    salt,
                });
                secret.zeroize();
            }
            if next.epoch() > 0 {
                next.grant_seq += 1;
            }
            next.save(&self.data_dir)?;
            *state = next;
            // A removed device is told too, so that it knows at once its writes are not taken
            // (the grant it finds no envelope in says so).
            self.publish_grant(&state, &removed).await;
            self.publish_devices(&state, &removed).await;
            self.events.send(NodeEvent::VolumeDevicesChanged {
                volume: state.name.clone(),
                devices: state.devices.clone(),
            });
        }
        self.info_locked(&state).await
    }

    /// Signs the grant of the current key epoch (none in epoch 0) and sends it to every device (and
    /// `also`) and the DHT.
    pub(super) async fn publish_grant(&self, state: &VolumeState, also: &[PeerId]) {
        let Some(current) = state.epochs.last() else {
            return;
        };
        let grant = Grant {
            seq: state.grant_seq,
            epoch: current.epoch,
            secret: &current.secret,
            salt: current.salt,
            devices: &state.devices,
        };
        match grant.sign(&self.identity, state.keys().id()) {
            Ok(record) => self.send_record(state, record, also).await,
            Err(e) => debug!(error = %e, "signing a key grant"),
        }
    }

    /// Signs the device list and sends it to every device (and `also`) and the DHT.
    pub(super) async fn publish_devices(&self, state: &VolumeState, also: &[PeerId]) {
        let mut devices = heapless::Vec::new();
        for d in &state.devices {
            let _ = devices.push(*d);
        }
        let list = DeviceList {
            seq: state.devices_seq,
            devices,
        };
        match list.sign(&self.identity, &state.keys()) {
            Ok(record) => self.send_record(state, record, also).await,
            Err(e) => debug!(error = %e, "signing a device list"),
        }
    }

    /// Pushes `record` to the volume's other devices (and `also`), then puts it in the DHT: when
    /// this returns, a device that was offline finds it there (unless no peer took it, logged).
    async fn send_record(
        &self,
        state: &VolumeState,
        record: gofast_core::record::Record,
        also: &[PeerId],
    ) {
        let me = self.identity.peer_id();
        for device in state.devices.iter().chain(also).filter(|d| **d != me) {
            push_to(&self.net, *device, record.clone()).await;
        }
        match self.net.put_record(record).await {
            Ok(r) if r.stored > 0 => {}
            Ok(r) => debug!(
                refused = r.refused,
                failed = r.failed,
                "no peer stored a volume record"
            ),
            Err(e) => debug!(error = %e, "putting a volume record in the DHT"),
        }
    }

    /// Publishes this device's head of the volume: its head record, raised by one.
    pub(super) async fn publish_head(&self, state: &mut VolumeState) -> Result<(), Error> {
        let Some(head) = state.head.clone() else {
            return Ok(());
        };
        let record = VolumeHead {
            seq: state.head_seq,
            snapshot: head,
        }
        .sign(&self.identity, &state.keys())
        .map_err(|e| Error::new(ErrorKind::Internal, format!("signing a head: {e}")))?;
        self.send_record(state, record, &[]).await;
        Ok(())
    }

    /// Applies `edit` to the volume's tree and, if the tree changed, makes the new snapshot
    /// (following the current one), pins it, saves the state and publishes the head. Returns
    /// the new snapshot, or `None` when nothing changed.
    pub(super) async fn commit(
        &self,
        state: &mut VolumeState,
        note: &str,
        edit: Edit,
    ) -> Result<Option<SnapshotInfo>, Error> {
        let (store, keys, identity) = (
            Arc::clone(&self.store),
            state.keys(),
            Arc::clone(&self.identity),
        );
        let head = state.head.clone();
        let note = note.to_owned();
        let made = blocking(move || {
            let parent = head
                .as_ref()
                .map(|h| snapshots::load(&store, &keys, h))
                .transpose()?;
            let scope = keys.scope().clone();
            let mut out = TreeWriter::new(store.writer(), &scope);
            let root = match &parent {
                Some(p) => p.root.clone(),
                None => out.write_listing(&[])?.0,
            };
            let new_root = edit(&store, &mut out, &root)?;
            if parent.is_some() && new_root == root {
                return Ok(None);
            }
            let parents: Vec<&SnapshotInfo> = parent.iter().collect();
            let (at, _) = snapshots::make(
                &mut out.writer,
                &identity,
                &keys,
                &new_root,
                &parents,
                &note,
            )?;
            out.writer.flush()?;
            out.pin_written(&store, &snapshots::pin_label(&keys, &at), &at.0)?;
            snapshots::load(&store, &keys, &at).map(Some)
        })
        .await?;
        let Some(snap) = made else {
            return Ok(None);
        };
        self.advance(state, &snap, true).await?;
        Ok(Some(snap))
    }

    /// Publishes this device's head and the device list (if it owns the volume) again.
    pub(super) async fn republish(&self, name: &str) -> Result<(), Error> {
        let v = self.volume(name)?;
        let mut state = v.lock().await;
        if state.capability.owner == self.identity.peer_id() {
            self.publish_grant(&state, &[]).await;
            self.publish_devices(&state, &[]).await;
        }
        if state.head.is_some() {
            state.head_seq += 1;
            state.save(&self.data_dir)?;
            self.publish_head(&mut state).await?;
        }
        Ok(())
    }

    /// Makes `snap` this device's head: saved (readers see it from then on, and are told), then
    /// published if `publish` (a snapshot this device made; one taken in as it is was published
    /// by its maker already).
    pub(super) async fn advance(
        &self,
        state: &mut VolumeState,
        snap: &SnapshotInfo,
        publish: bool,
    ) -> Result<(), Error> {
        state.head = Some(snap.at.clone());
        if publish {
            state.head_seq += 1;
        }
        state.save(&self.data_dir)?;
        self.events.send(NodeEvent::VolumeChanged {
            volume: state.name.clone(),
            snapshot: snap.at.0.id,
            by: snap.device,
        });
        if publish {
            self.publish_head(state).await?;
        }
        // The change is made and published: a retention failing now costs old snapshots' space
        // until the next change, not this change.
        if let Err(e) = self.apply_retention(state).await {
            tracing::warn!(volume = %state.name, error = %e, "applying the retention failed");
        }
        Ok(())
    }

    /// Runs `edit` on volume `name` as one snapshot.
    async fn edit(
        &self,
        name: &str,
        note: &str,
        edit: Edit,
    ) -> Result<Option<SnapshotInfo>, Error> {
        let v = self.volume(name)?;
        let mut state = v.lock().await;
        self.commit(&mut state, note, edit).await
    }

    /// Writes the local file `local` as `path` in volume `name` (replacing a file there).
    /// `progress` gets the bytes read so far.
    pub async fn put_file(
        &self,
        name: &str,
        path: &str,
        local: &Path,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<Option<SnapshotInfo>, Error> {
        let vp = VolPath::parse(path)?;
        if vp.0.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "give the file a path in the volume",
            ));
        }
        let meta = std::fs::metadata(local).map_err(|e| Error::file(local, "read", &e))?;
        if meta.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{} is a directory: put its files one by one, or sync it",
                    local.display()
                ),
            ));
        }
        let mtime = crate::dirs::mtime_of(&meta);
        let local = local.to_path_buf();
        let note = format!("put {vp}");
        self.edit(
            name,
            &note,
            Box::new(move |store, out, root| {
                let file =
                    std::fs::File::open(&local).map_err(|e| Error::file(&local, "open", &e))?;
                let (target, size) = out.write_file(file, &local, progress)?;
                put_entry(store, out, root, &vp, target, size, mtime)
            }),
        )
        .await
    }

    /// Writes `data` as `path` in volume `name`.
    pub async fn put_bytes(
        &self,
        name: &str,
        path: &str,
        data: Vec<u8>,
    ) -> Result<Option<SnapshotInfo>, Error> {
        let vp = VolPath::parse(path)?;
        let note = format!("put {vp}");
        self.edit(
            name,
            &note,
            Box::new(move |store, out, root| {
                let (target, size) = out.write_file(&data[..], Path::new("<bytes>"), |_| {})?;
                put_entry(store, out, root, &vp, target, size, now_ns())
            }),
        )
        .await
    }

    /// Makes the directory `path` (and those above it) in volume `name`; nothing if it exists.
    pub async fn mkdir(&self, name: &str, path: &str) -> Result<Option<SnapshotInfo>, Error> {
        let vp = VolPath::parse(path)?;
        let note = format!("mkdir {vp}");
        self.edit(
            name,
            &note,
            Box::new(move |store, out, root| {
                if vp.0.is_empty() {
                    return Ok(root.clone());
                }
                match lookup(store, root, &vp) {
                    Ok(e) if e.kind == EntryKind::Dir => return Ok(root.clone()),
                    Ok(_) => {
                        return Err(Error::new(
                            ErrorKind::AlreadyExists,
                            format!("{vp} is a file"),
                        ));
                    }
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
                let (empty, _) = out.write_listing(&[])?;
                let name = vp.name();
                let entry = OwnedEntry {
                    name,
                    kind: EntryKind::Dir,
                    size: 0,
                    mtime_ns: now_ns(),
                    target: empty,
                };
                out.replace(store, root, &vp, Some(entry), now_ns())
            }),
        )
        .await
    }

    /// Removes `path` (a file, or a directory with everything beneath it) from volume `name`.
    /// Earlier snapshots keep it.
    pub async fn remove(&self, name: &str, path: &str) -> Result<Option<SnapshotInfo>, Error> {
        let vp = VolPath::parse(path)?;
        let note = format!("rm {vp}");
        self.edit(
            name,
            &note,
            Box::new(move |store, out, root| out.replace(store, root, &vp, None, now_ns())),
        )
        .await
    }

    /// Moves `from` to `to` in volume `name` (one snapshot; `to` must not exist).
    pub async fn rename(
        &self,
        name: &str,
        from: &str,
        to: &str,
    ) -> Result<Option<SnapshotInfo>, Error> {
        let (from, to) = (VolPath::parse(from)?, VolPath::parse(to)?);
        if to.0.starts_with(&from.0) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{from} cannot move inside itself"),
            ));
        }
        let note = format!("mv {from} {to}");
        self.edit(
            name,
            &note,
            Box::new(move |store, out, root| {
                let mut entry = out.lookup(store, root, &from)?;
                match out.lookup(store, root, &to) {
                    Ok(_) => {
                        return Err(Error::new(
                            ErrorKind::AlreadyExists,
                            format!("{to} exists already"),
                        ));
                    }
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
                entry.name = to.name();
                let now = now_ns();
                let removed = out.replace(store, root, &from, None, now)?;
                out.replace(store, &removed, &to, Some(entry), now)
            }),
        )
        .await
    }

    /// Puts back `path` as it was in snapshot `at` (a short id from `log`): one new snapshot.
    /// If `path` did not exist then, it is removed.
    pub async fn restore(
        &self,
        name: &str,
        path: &str,
        at: &str,
    ) -> Result<Option<SnapshotInfo>, Error> {
        let vp = VolPath::parse(path)?;
        let v = self.volume(name)?;
        let mut state = v.lock().await;
        let then = self.find_snapshot(&state, at).await?;
        let note = format!("restore {vp} at {}", short_id(&then.at.0.id));
        self.commit(
            &mut state,
            &note,
            Box::new(move |store, out, root| {
                // Only the snapshots of a history walk may be held, not their trees: a listing
                // missing then must not read as "the path did not exist then".
                let id = short_id(&then.at.0.id);
                let held = |r: &BlockRef| {
                    read_listing(store, r).map_err(|e| {
                        if e.kind() == ErrorKind::NotFound {
                            Error::new(
                                ErrorKind::Network,
                                format!(
                                    "the tree of snapshot {id} is not held on this device ({e})"
                                ),
                            )
                        } else {
                            e
                        }
                    })
                };
                if vp.0.is_empty() {
                    // The whole tree must be here: the head names it from now on.
                    check_whole(store, &then.root)?;
                    return Ok(then.root.clone());
                }
                match lookup_with(&then.root, &vp, held) {
                    Ok(old) => out.replace(store, root, &vp, Some(old), now_ns()),
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        match out.replace(store, root, &vp, None, now_ns()) {
                            Err(e) if e.kind() == ErrorKind::NotFound => Ok(root.clone()),
                            other => other,
                        }
                    }
                    Err(e) => Err(e),
                }
            }),
        )
        .await
    }

    /// The snapshot of the volume's history whose id starts with `prefix` (hex, at least 4
    /// digits); an error if none or several do.
    async fn find_snapshot(
        &self,
        state: &VolumeState,
        prefix: &str,
    ) -> Result<SnapshotInfo, Error> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < 4 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{prefix:?} is not a snapshot id: give at least 4 hex digits from `gofast fs log`"
                ),
            ));
        }
        let mut found: Vec<SnapshotInfo> = self
            .history(state, MAX_HISTORY_WALK)
            .await?
            .into_iter()
            .filter(|s| hex::encode(s.at.0.id.0).starts_with(&prefix))
            .collect();
        if found.is_empty() {
            // A snapshot this device made or took in that the head no longer follows: an equal
            // merge settled on the other device's twin. Still held under its own pin, still one
            // of this volume's (it opens with the volume's keys), so still readable by its id.
            let (store, keys, p) = (Arc::clone(&self.store), state.keys(), prefix.clone());
            found = blocking(move || {
                let pins = snapshots::pin_prefix(&keys);
                let mut out = Vec::new();
                let mut seen = std::collections::HashSet::new();
                for pin in store.pins()? {
                    // `<snapshot id>` (made here) or `<snapshot id>/in` (taken in).
                    let Some(rest) = pin.label.strip_prefix(&pins) else {
                        continue;
                    };
                    let id = rest.split('/').next().unwrap_or_default();
                    if id.starts_with(&p) && pin.root.id.0 == hex_id(id) && seen.insert(pin.root.id)
                    {
                        let at = gofast_core::fs::SnapshotRef(pin.root);
                        out.push(snapshots::load(&store, &keys, &at)?);
                    }
                }
                Ok(out)
            })
            .await?;
        }
        match found.len() {
            1 => found
                .into_iter()
                .next()
                .ok_or_else(|| Error::new(ErrorKind::Internal, "a snapshot found then lost")),
            0 => Err(Error::new(
                ErrorKind::NotFound,
                format!("no snapshot {prefix} in this volume's history"),
            )),
            n => Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{n} snapshots start with {prefix}: give more digits"),
            )),
        }
    }

    /// The snapshots held here that the head follows, newest first (by height, then id), at
    /// most `limit`.
    async fn history(&self, state: &VolumeState, limit: usize) -> Result<Vec<SnapshotInfo>, Error> {
        self.history_while(state, move |i, _| i < limit).await
    }

    /// This device's history from its head, newest (highest) first, for as long as `take` says
    /// (it gets each snapshot's place in the walk); snapshots not held (from before this device
    /// joined, or dropped by its retention and collected) end their branch.
    pub(super) async fn history_while(
        &self,
        state: &VolumeState,
        take: impl Fn(usize, &SnapshotInfo) -> bool + Send + 'static,
    ) -> Result<Vec<SnapshotInfo>, Error> {
        let Some(head) = state.head.clone() else {
            return Ok(Vec::new());
        };
        let (store, keys) = (Arc::clone(&self.store), state.keys());
        blocking(move || {
            let mut out = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut queue = std::collections::BinaryHeap::new();
            let first = snapshots::load(&store, &keys, &head)?;
            queue.push(snapshots::ByHeight(first));
            while let Some(snapshots::ByHeight(s)) = queue.pop() {
                let id = s.at.0.id.0;
                if !seen.insert(id) {
                    continue;
                }
                if out.len() >= MAX_HISTORY_WALK || !take(out.len(), &s) {
                    break;
                }
                for p in &s.parents {
                    if seen.contains(&p.0.id.0) {
                        continue;
                    }
                    // Snapshots from before this device joined may not be held.
                    match snapshots::load(&store, &keys, p) {
                        Ok(ps) => queue.push(snapshots::ByHeight(ps)),
                        Err(e) if e.kind() == ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                out.push(s);
            }
            Ok(out)
        })
        .await
    }

    /// The newest `limit` snapshots of volume `name`, newest first.
    pub async fn log(&self, name: &str, limit: usize) -> Result<Vec<LogEntry>, Error> {
        let v = self.volume(name)?;
        let state = v.lock().await;
        let history = self.history(&state, limit.min(MAX_HISTORY_WALK)).await?;
        Ok(history
            .into_iter()
            .map(|s| LogEntry {
                id: short_id(&s.at.0.id),
                block: s.at.0.id,
                seq: s.seq,
                time_ns: s.time_ns,
                device: s.device,
                note: s.note,
                parents: s.parents.len(),
            })
            .collect())
    }

    /// The directory `path` of volume `name` (now, or at snapshot `at`).
    pub async fn list_dir(
        &self,
        name: &str,
        path: &str,
        at: Option<&str>,
    ) -> Result<Vec<FsEntry>, Error> {
        let vp = VolPath::parse(path)?;
        let root = self.root_of(name, at).await?;
        let store = Arc::clone(&self.store);
        blocking(move || {
            let dir = dir_at(&store, &root, &vp)?;
            Ok(read_listing(&store, &dir)?
                .into_iter()
                .map(|e| FsEntry {
                    name: e.name,
                    kind: e.kind,
                    size: e.size,
                    mtime_ns: e.mtime_ns,
                })
                .collect())
        })
        .await
    }

    /// The root of file `path`'s data in volume `name` (now, or at snapshot `at`), and its size:
    /// read it with `Node::read_data` to stream it.
    pub async fn file(
        &self,
        name: &str,
        path: &str,
        at: Option<&str>,
    ) -> Result<(BlockRef, u64), Error> {
        let vp = VolPath::parse(path)?;
        let root = self.root_of(name, at).await?;
        let store = Arc::clone(&self.store);
        blocking(move || {
            let e = lookup(&store, &root, &vp)?;
            if e.kind != EntryKind::File {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("{vp} is a directory"),
                ));
            }
            Ok((e.target, e.size))
        })
        .await
    }

    /// The data of file `path` of volume `name` (now, or at snapshot `at`); at most [`MAX_READ`]
    /// bytes.
    pub async fn read(&self, name: &str, path: &str, at: Option<&str>) -> Result<Vec<u8>, Error> {
        let (target, _) = self.file(name, path, at).await?;
        let store = Arc::clone(&self.store);
        blocking(move || {
            let mut out = Vec::new();
            crate::node::read_tree_from_store(&store, &target, MAX_READ, &mut out)?;
            Ok(out)
        })
        .await
    }

    /// The root listing of volume `name` now, or at snapshot `at`.
    async fn root_of(&self, name: &str, at: Option<&str>) -> Result<BlockRef, Error> {
        let v = self.volume(name)?;
        let state = v.lock().await;
        let snap = match at {
            Some(prefix) => self.find_snapshot(&state, prefix).await?,
            None => {
                let head = state.head.clone().ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!("volume {name:?} has nothing yet: no device's head was found"),
                    )
                })?;
                let (store, keys) = (Arc::clone(&self.store), state.keys());
                blocking(move || snapshots::load(&store, &keys, &head)).await?
            }
        };
        Ok(snap.root)
    }
}

/// Checks every listing and file tree under `root` is held (errors name what is missing).
fn check_whole(store: &BlockStore, root: &BlockRef) -> Result<(), Error> {
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in read_listing(store, &dir)? {
            match e.kind {
                EntryKind::Dir => stack.push(e.target),
                EntryKind::File => {
                    crate::node::read_tree_from_store(
                        store,
                        &e.target,
                        u64::MAX,
                        &mut std::io::sink(),
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// Puts a file entry at `vp` under `root`.
fn put_entry(
    store: &BlockStore,
    out: &mut TreeWriter<'_>,
    root: &BlockRef,
    vp: &VolPath,
    target: BlockRef,
    size: u64,
    mtime_ns: i64,
) -> Result<BlockRef, Error> {
    let name = vp.split_last().map(|(_, n)| n.to_owned()).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            "give the file a path in the volume",
        )
    })?;
    if let Ok(old) = out.lookup(store, root, vp)
        && old.kind == EntryKind::Dir
    {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("{vp} is a directory"),
        ));
    }
    let entry = OwnedEntry {
        name,
        kind: EntryKind::File,
        size,
        mtime_ns,
        target,
    };
    out.replace(store, root, vp, Some(entry), now_ns())
}

/// Pushes `record` to `device`, finding it first if no address of it is known. Failures are
/// logged: the record is in the DHT too.
pub(super) async fn push_to(
    net: &crate::net::NodeHandle,
    device: PeerId,
    record: gofast_core::record::Record,
) {
    match net.push_record(device, record.clone()).await {
        Ok(()) => {}
        Err(crate::net::NodeError::UnknownPeer(_)) => match net.find_peer(device).await {
            Ok(Some(_)) => {
                if let Err(e) = net.push_record(device, record).await {
                    debug!(%device, error = %e, "pushing a volume record");
                }
            }
            Ok(None) => debug!(%device, "device not found to push to"),
            Err(e) => debug!(%device, error = %e, "finding a device"),
        },
        Err(e) => debug!(%device, error = %e, "pushing a volume record"),
    }
}

/// A 64-digit hex id as bytes (zeros if it is not one: then it matches no block).
fn hex_id(text: &str) -> [u8; 32] {
    let mut id = [0u8; 32];
    if hex::decode_to_slice(text, &mut id).is_err() {
        return [0u8; 32];
    }
    id
}
