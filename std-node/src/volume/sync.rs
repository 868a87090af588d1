//! Taking in other devices' changes: their heads (pushed, or read from the DHT), the snapshots
//! behind them, only the blocks this device's tree lacks, and then a fast-forward or a merge
//! against the newest common ancestor (`docs/spec/volume.md`).

use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use gofast_core::block::{BlockId, BlockRef};
use gofast_core::fs::merge::Conflict;
use gofast_core::fs::{DeviceList, OpenedGrant, SnapshotRef, VolumeHead, VolumeKeys, sealed_epoch};
use gofast_core::identity::PeerId;
use gofast_core::record::Record;
use tracing::{debug, info, warn};

use super::merge::{MergeConflict, TreeSide, merge_trees};
use super::ops::blocking;
use super::snapshots::{self, ByHeight, SnapshotInfo, short_id};
use super::state::{EpochSecret, VolumeState};
use super::tree::TreeWriter;
use super::{MAX_HISTORY_WALK, Volumes, device_tag};
use crate::error::{Error, ErrorKind};
use crate::events::NodeEvent;
use crate::exchange::{fetch_dir_changes, fetch_tree};
use crate::net::PushedRecord;
use crate::store::Class;
use crate::tree_ids::{Leaves, TreeIds};

/// How often a device looks up the owner's grant for an epoch it lacks.
pub(super) const GRANT_LOOKUP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// What taking in other devices' heads did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Heads of other devices looked at.
    pub heads: usize,
    /// Heads that moved this device forward to another's snapshot.
    pub fast_forwards: usize,
    /// Merges made.
    pub merges: usize,
    /// What the merges decided for someone.
    pub conflicts: Vec<MergeConflict>,
    /// Blocks brought in (held already or fetched): what the pins of the snapshots taken in hold.
    pub blocks: u64,
}

impl Volumes {
    /// Reads volume `name`'s device list and every other device's head from the DHT, and takes
    /// in what is new (an offline device catching up does this when it comes back).
    pub async fn sync(&self, name: &str) -> Result<SyncReport, Error> {
        let v = self.volume(name)?;
        let mut state = v.lock().await;
        self.sync_locked(&mut state).await
    }

    async fn sync_locked(&self, state: &mut VolumeState) -> Result<SyncReport, Error> {
        let name = state.name.clone();
        let name = name.as_str();
        let keys = state.keys();
        let mut report = SyncReport::default();
        let owner = state.capability.owner;
        if let Some(record) = self.net.get_record(keys.devices_key(&owner)).await? {
            self.take_devices(state, &record).await?;
        }
        let me = self.identity.peer_id();
        for device in state.devices.clone() {
            if device == me {
                continue;
            }
            match self.net.get_record(keys.head_key(&device)).await {
                Ok(Some(record)) => {
                    if let Err(e) = self.take_head(state, &record, &mut report).await {
                        warn!(volume = name, %device, error = %e, "taking in a device's head failed");
                    }
                }
                Ok(None) => debug!(volume = name, %device, "no head of this device found"),
                Err(e) => debug!(volume = name, %device, error = %e, "reading a device's head"),
            }
        }
        Ok(report)
    }

    /// Takes in a record a peer pushed: a head or a device list of one of this node's volumes.
    /// Only that volume's lock is taken.
    pub(crate) async fn on_pushed(&self, pushed: PushedRecord) {
        let Some(name) = self.volume_of_salt(pushed.record.salt()) else {
            debug!(from = %pushed.from, "a pushed record for no volume held here");
            return;
        };
        let Ok(v) = self.volume(&name) else {
            return;
        };
        let mut state = v.lock().await;
        let keys = state.keys();
        let salt = pushed.record.salt();
        let result = if salt == keys.head_salt().as_slice() {
            let mut report = SyncReport::default();
            self.take_head(&mut state, &pushed.record, &mut report)
                .await
        } else if salt == keys.grant_salt().as_slice() {
            match self.take_grant(&mut state, &pushed.record) {
                // Heads sealed in the new epoch may have been missed already (or, for a device
                // just added after a rotation, every head): read them now.
                Ok(true) => self.sync_locked(&mut state).await.map(|_| ()),
                other => other.map(|_| ()),
            }
        } else {
            self.take_devices(&mut state, &pushed.record)
                .await
                .map(|_| ())
        };
        if let Err(e) = result {
            warn!(volume = %name, from = %pushed.from, error = %e, "a pushed volume record was not taken in");
        }
    }

    /// Takes in the owner's grant record: the secret of a key epoch newer than this device's, if
    /// it holds an envelope for this device. One without (this device was removed) takes this
    /// device off the list it holds, so it stops offering writes. Returns whether a new epoch
    /// was taken in.
    fn take_grant(&self, state: &mut VolumeState, record: &Record) -> Result<bool, Error> {
        let me = self.identity.peer_id();
        let opened = OpenedGrant::open(
            record,
            &state.capability.owner,
            state.keys().id(),
            &self.identity,
        )
        .map_err(|e| Error::new(ErrorKind::Corrupt, format!("a key grant: {e}")))?;
        if opened.epoch <= state.epoch() {
            return Ok(false);
        }
        let Some(secret) = opened.secret else {
            if state.devices.contains(&me) {
                warn!(volume = %state.name, epoch = opened.epoch, "this device was removed from the volume: its keys moved on without it");
                state.devices.retain(|d| *d != me);
                state.save(&self.data_dir)?;
                self.events.send(NodeEvent::VolumeDevicesChanged {
                    volume: state.name.clone(),
                    devices: state.devices.clone(),
                });
            }
            return Ok(false);
        };
        state.add_epoch(EpochSecret {
            epoch: opened.epoch,
            secret,
            salt: opened.salt,
        });
        state.grant_seq = state.grant_seq.max(opened.seq);
        state.save(&self.data_dir)?;
        info!(volume = %state.name, epoch = opened.epoch, "the volume's keys moved to a new epoch");
        Ok(true)
    }

    /// The keys that open a head's or device list's `value`: those of the epoch it names, learnt
    /// first from the owner's grant in the DHT if it is newer than this device's.
    async fn keys_for(&self, state: &mut VolumeState, value: &[u8]) -> Result<VolumeKeys, Error> {
        let epoch = sealed_epoch(value)
            .map_err(|e| Error::new(ErrorKind::Corrupt, format!("a volume record: {e}")))?;
        if let Some(keys) = state.keys_at(epoch) {
            return Ok(keys);
        }
        if epoch > state.epoch() && may_look_for_grant(state) {
            let key = state.keys().grant_key(&state.capability.owner);
            if let Some(record) = self.net.get_record(key).await? {
                self.take_grant(state, &record)?;
            }
        }
        state.keys_at(epoch).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "volume {:?}: sealed in key epoch {epoch}, which this device was not granted (removed from the volume, or not added yet)",
                    state.name
                ),
            )
        })
    }

    /// Takes in the owner's device list if it is newer than the one held. Returns whether it was.
    async fn take_devices(&self, state: &mut VolumeState, record: &Record) -> Result<bool, Error> {
        // Checked before any key is looked for: anyone can sign a record under the public salt.
        if record.public_key() != &state.capability.owner {
            return Err(Error::new(
                ErrorKind::Corrupt,
                "a device list not signed by the volume's owner",
            ));
        }
        if record.seq() <= state.devices_seq && !state.devices.is_empty() {
            return Ok(false);
        }
        let keys = self.keys_for(state, record.value()).await?;
        let list = DeviceList::from_record(record, &state.capability.owner, &keys)
            .map_err(|e| Error::new(ErrorKind::Corrupt, format!("a device list: {e}")))?;
        info!(volume = %state.name, seq = list.seq, devices = list.devices.len(), "device list taken in");
        state.devices_seq = list.seq;
        state.devices = list.devices.iter().copied().collect();
        state.save(&self.data_dir)?;
        self.events.send(NodeEvent::VolumeDevicesChanged {
            volume: state.name.clone(),
            devices: state.devices.clone(),
        });
        Ok(true)
    }

    /// Takes in one device's head record.
    pub(super) async fn take_head(
        &self,
        state: &mut VolumeState,
        record: &Record,
        report: &mut SyncReport,
    ) -> Result<(), Error> {
        let device = *record.public_key();
        if device == self.identity.peer_id() {
            return Ok(());
        }
        if !state.may_write(&device) {
            // Anyone can sign a record under the volume's public salt: not worth more than debug.
            debug!(volume = %state.name, %device, "a head of a device not on the list: refused");
            self.events.send(NodeEvent::VolumeHeadRefused {
                volume: state.name.clone(),
                device,
            });
            return Ok(());
        }
        let sealed_with = self.keys_for(state, record.value()).await?;
        let head = VolumeHead::from_record(record, &sealed_with)
            .map_err(|e| Error::new(ErrorKind::Corrupt, format!("a volume head: {e}")))?;
        // What this device writes (a merge) is sealed with its newest keys.
        let keys = state.keys();
        report.heads += 1;
        let id = head.snapshot.0.id;
        if state.seen.get(&device) == Some(&id) || state.head.as_ref().is_some_and(|h| h.0.id == id)
        {
            return Ok(());
        }
        let mut providers = self.providers(state, device, false).await;
        let mut fetched = Vec::new();
        let theirs = match self
            .snapshot(&keys, &head.snapshot, &providers, &mut fetched)
            .await
        {
            Ok(s) => s,
            Err(e) => {
                // An address known from before may be stale (a device restarted elsewhere).
                debug!(volume = %state.name, %device, error = %e, "fetching a snapshot: looking the devices up");
                providers = self.providers(state, device, true).await;
                self.snapshot(&keys, &head.snapshot, &providers, &mut fetched)
                    .await?
            }
        };
        let mine = match state.head.clone() {
            Some(h) => {
                let (store, k) = (Arc::clone(&self.store), keys.clone());
                Some(blocking(move || snapshots::load(&store, &k, &h)).await?)
            }
            None => None,
        };
        match mine {
            None => {
                let roots = self.ensure_tree(&theirs.root, None, &providers).await?;
                report.blocks += self.keep(&keys, &theirs, roots, fetched).await?;
                report.fast_forwards += 1;
                self.adopt(state, &theirs).await?;
            }
            Some(mine) => {
                let base = self
                    .common_ancestor(&keys, &mine, &theirs, &providers, &mut fetched)
                    .await?;
                let base_id = base.as_ref().map(|b| b.at.0.id);
                if base_id == Some(theirs.at.0.id) {
                    // Theirs is behind: nothing to take in.
                } else if base_id == Some(mine.at.0.id) {
                    let roots = self
                        .ensure_tree(&theirs.root, Some(mine.root.clone()), &providers)
                        .await?;
                    report.blocks += self.keep(&keys, &theirs, roots, fetched).await?;
                    report.fast_forwards += 1;
                    self.adopt(state, &theirs).await?;
                } else {
                    let mut roots = self
                        .ensure_tree(&theirs.root, Some(mine.root.clone()), &providers)
                        .await?;
                    if let Some(b) = &base {
                        roots.extend(
                            self.ensure_tree(&b.root, Some(mine.root.clone()), &providers)
                                .await?,
                        );
                    }
                    report.blocks += self.keep(&keys, &theirs, roots, fetched).await?;
                    self.merge(state, &keys, base, &mine, &theirs, report)
                        .await?;
                }
            }
        }
        state.seen.insert(device, id);
        state.save(&self.data_dir)
    }

    /// Makes `theirs` this device's snapshot.
    async fn adopt(&self, state: &mut VolumeState, theirs: &SnapshotInfo) -> Result<(), Error> {
        info!(volume = %state.name, snapshot = %short_id(&theirs.at.0.id), "fast-forwarded");
        self.advance(state, theirs, false).await
    }

    /// Merges `theirs` into `mine` against `base`: a merge snapshot, unless the merge is one side
    /// already (then that side is kept or adopted).
    async fn merge(
        &self,
        state: &mut VolumeState,
        keys: &VolumeKeys,
        base: Option<SnapshotInfo>,
        mine: &SnapshotInfo,
        theirs: &SnapshotInfo,
        report: &mut SyncReport,
    ) -> Result<(), Error> {
        let (store, identity, k) = (
            Arc::clone(&self.store),
            Arc::clone(&self.identity),
            keys.clone(),
        );
        let (m, t) = (mine.clone(), theirs.clone());
        let (my_tag, their_tag) = (device_tag(&mine.device), device_tag(&theirs.device));
        let merged = blocking(move || {
            let scope = k.scope().clone();
            let mut out = TreeWriter::new(store.writer(), &scope);
            let (root, conflicts) = merge_trees(
                &store,
                &mut out,
                base.as_ref().map(|b| &b.root),
                TreeSide {
                    root: &m.root,
                    device: &my_tag,
                },
                TreeSide {
                    root: &t.root,
                    device: &their_tag,
                },
            )?;
            if root == m.root || root == t.root {
                return Ok((None, root, conflicts));
            }
            let note = format!("merge {}", short_id(&t.at.0.id));
            let (at, _) = snapshots::make(&mut out.writer, &identity, &k, &root, &[&m, &t], &note)?;
            out.writer.flush()?;
            out.pin_written(&store, &snapshots::pin_label(&k, &at), &at.0)?;
            Ok((Some(snapshots::load(&store, &k, &at)?), root, conflicts))
        })
        .await?;
        let (snap, root, conflicts) = merged;
        match snap {
            Some(snap) => {
                info!(volume = %state.name, snapshot = %short_id(&snap.at.0.id), conflicts = conflicts.len(), "merged");
                report.merges += 1;
                self.advance(state, &snap, true).await?;
            }
            None if root == theirs.root && root != mine.root => self.adopt(state, theirs).await?,
            // The same tree under two snapshots (two devices merged each other's heads at once):
            // both settle on the one with the larger id, so their histories join again instead
            // of staying apart (later merges would pick either as the base).
            None if root == theirs.root && theirs.at.0.id.0 > mine.at.0.id.0 => {
                self.adopt(state, theirs).await?;
            }
            // The merge is this device's tree: theirs brings nothing new.
            None => {}
        }
        for c in &conflicts {
            let (path, kept_as) = match &c.conflict {
                Conflict::BothChanged { name, renamed_to } => (name, Some(renamed_to.clone())),
                Conflict::EditedAndRemoved { name } => (name, None),
            };
            let dir = c.dir.trim_end_matches('/');
            self.events.send(NodeEvent::VolumeConflict {
                volume: state.name.clone(),
                path: format!("{dir}/{path}"),
                kept_as,
            });
        }
        report.conflicts.extend(conflicts);
        Ok(())
    }

    /// Pins what was brought in for `theirs`: the trees under `roots` (its tree's listings and
    /// files walked, held whole now) and the snapshots `fetched`. Returns the blocks the pin holds.
    async fn keep(
        &self,
        keys: &VolumeKeys,
        theirs: &SnapshotInfo,
        roots: Vec<BlockRef>,
        fetched: Vec<BlockId>,
    ) -> Result<u64, Error> {
        // One label per snapshot taken in: a retry replaces its own pin instead of adding one.
        let label = format!("{}/in", snapshots::pin_label(keys, &theirs.at));
        let (store, at) = (Arc::clone(&self.store), theirs.at.0.clone());
        blocking(move || {
            // A tree fetched at several places is walked once.
            let mut walked = std::collections::HashSet::new();
            let ids = roots
                .iter()
                .filter(|r| walked.insert(r.id))
                .flat_map(|r| TreeIds::new(&store, r, Leaves::Trust))
                .map(|r| r.map_err(Error::from))
                .chain(fetched.into_iter().map(Ok));
            store.try_pin(&label, &at, ids).map(|p| p.blocks)
        })
        .await
    }

    /// Where to fetch a device's blocks from: the device first, then the volume's other devices.
    /// Addresses known already are taken as they are unless `look_up`.
    async fn providers(
        &self,
        state: &VolumeState,
        first: PeerId,
        look_up: bool,
    ) -> Vec<(PeerId, SocketAddr)> {
        let me = self.identity.peer_id();
        let mut out = Vec::new();
        let others = state
            .devices
            .iter()
            .copied()
            .filter(|d| *d != first && *d != me);
        for device in std::iter::once(first).chain(others) {
            // A device that just pushed has a session: no lookup then.
            if !look_up && let Ok(Some(addr)) = self.net.known_addr(device).await {
                out.push((device, addr));
                continue;
            }
            match self.net.find_peer(device).await {
                Ok(Some(addr)) => out.push((device, addr)),
                Ok(None) => debug!(%device, "device not found"),
                Err(e) => debug!(%device, error = %e, "finding a device"),
            }
        }
        out
    }

    /// The snapshot `at`, from the store or fetched (its id then added to `fetched`).
    async fn snapshot(
        &self,
        keys: &VolumeKeys,
        at: &SnapshotRef,
        providers: &[(PeerId, SocketAddr)],
        fetched: &mut Vec<BlockId>,
    ) -> Result<SnapshotInfo, Error> {
        let held = {
            let (store, id) = (Arc::clone(&self.store), at.0.id);
            blocking(move || Ok(store.has(&id)?)).await?
        };
        if !held {
            self.fetch(&at.0, providers).await?;
            fetched.push(at.0.id);
        }
        let (store, k, a) = (Arc::clone(&self.store), keys.clone(), at.clone());
        blocking(move || snapshots::load(&store, &k, &a)).await
    }

    /// Fetches the tree under `root` (nothing if held whole).
    async fn fetch(
        &self,
        root: &BlockRef,
        providers: &[(PeerId, SocketAddr)],
    ) -> Result<(), Error> {
        fetch_tree(
            Arc::clone(&self.identity),
            Arc::clone(&self.store),
            root.clone(),
            providers.to_vec(),
            Class::Permanent,
            None,
            crate::node::MAX_GET_SIZE,
            None,
            Box::new(|_| {}),
        )
        .await?;
        Ok(())
    }

    /// Fetches the directory tree under `root` except the subtrees it shares with `compare` (a
    /// tree held whole); returns the roots of the listings and files it walked.
    async fn ensure_tree(
        &self,
        root: &BlockRef,
        compare: Option<BlockRef>,
        providers: &[(PeerId, SocketAddr)],
    ) -> Result<Vec<BlockRef>, Error> {
        let fetched =
            fetch_dir_changes(&self.identity, &self.store, root, compare, providers, None).await?;
        Ok(fetched.roots)
    }

    /// The newest snapshot both `mine` and `theirs` follow (or are), walking both histories by
    /// height, fetching the snapshots not held; `None` when they share none.
    async fn common_ancestor(
        &self,
        keys: &VolumeKeys,
        mine: &SnapshotInfo,
        theirs: &SnapshotInfo,
        providers: &[(PeerId, SocketAddr)],
        fetched: &mut Vec<BlockId>,
    ) -> Result<Option<SnapshotInfo>, Error> {
        // Heights only fall along parents, so when a snapshot leaves the heap every snapshot
        // above it has been, and its marks are complete.
        let mut marks: HashMap<[u8; 32], u8> = HashMap::new();
        // The height of every snapshot queued: each is checked against its parents' as the walk
        // loads them (the walk is only right if heights fall by one at least along each parent).
        let mut heights: HashMap<[u8; 32], u64> = HashMap::new();
        let mut heap = BinaryHeap::new();
        for (s, mark) in [(mine, 1u8), (theirs, 2u8)] {
            *marks.entry(s.at.0.id.0).or_default() |= mark;
            if heights.insert(s.at.0.id.0, s.seq).is_none() {
                heap.push(ByHeight(s.clone()));
            }
        }
        let mut walked = 0usize;
        while let Some(ByHeight(s)) = heap.pop() {
            let id = s.at.0.id.0;
            let mark = marks.get(&id).copied().unwrap_or(0);
            if mark == 3 {
                return Ok(Some(s));
            }
            walked += 1;
            if walked > MAX_HISTORY_WALK {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("the two histories share no snapshot within {MAX_HISTORY_WALK} steps"),
                ));
            }
            let mut highest = 0;
            for p in &s.parents {
                *marks.entry(p.0.id.0).or_default() |= mark;
                let seq = match heights.get(&p.0.id.0) {
                    Some(&seq) => seq,
                    None => {
                        let ps = self.snapshot(keys, p, providers, fetched).await?;
                        let seq = ps.seq;
                        heights.insert(p.0.id.0, seq);
                        heap.push(ByHeight(ps));
                        seq
                    }
                };
                highest = highest.max(seq);
            }
            if !s.parents.is_empty() && s.seq != highest.saturating_add(1) {
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    format!(
                        "snapshot {} has height {} but its highest parent {highest}",
                        short_id(&s.at.0.id),
                        s.seq
                    ),
                ));
            }
        }
        Ok(None)
    }
}

/// Whether the owner's grant may be looked up in the DHT now: once per [`GRANT_LOOKUP_INTERVAL`]
/// (a record naming an unknown epoch costs its sender nothing, a lookup costs this node a DHT
/// query under the volume's lock). A pushed grant is taken in whenever it comes.
fn may_look_for_grant(state: &mut VolumeState) -> bool {
    let now = std::time::Instant::now();
    if state
        .grant_looked_up
        .is_some_and(|t| now.duration_since(t) < GRANT_LOOKUP_INTERVAL)
    {
        return false;
    }
    state.grant_looked_up = Some(now);
    true
}
