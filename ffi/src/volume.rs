//! The `Volume` object: one of the node's volumes (a user's files, shared by their devices), and
//! the `Node` calls that make, join and list them. Translation only: every call is one call on
//! `gofast_node::volume::Volumes`.

use std::sync::Arc;

use gofast_core::fs::{EntryKind, VolumeCapability};
use gofast_node::volume::{SnapshotInfo, VolumeInfo};

use crate::error::{GofastError, invalid};
use crate::node::Node;
use crate::runtime::run;

/// What a volume is.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct VolumeSummary {
    /// Its local name.
    pub name: String,
    /// Its owner (`gfp1…`), who allows and revokes devices.
    pub owner: String,
    /// The devices that may write (`gfp1…`).
    pub devices: Vec<String>,
    /// This device's snapshot (its short id), if it has one yet.
    pub snapshot: Option<String>,
    /// That snapshot's height (0 if none).
    pub height: u64,
    /// Whether this device may write (it is on the owner's list).
    pub may_write: bool,
    /// The newest key epoch this device holds: one more each time the owner revokes a device.
    pub key_epoch: u32,
}

/// One entry of a directory.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DirItem {
    /// Its name.
    pub name: String,
    /// A directory (else a file).
    pub is_dir: bool,
    /// Data bytes (of everything beneath, for a directory).
    pub size: u64,
    /// Last modification, ns since the Unix epoch.
    pub mtime_ns: i64,
}

/// One snapshot of a volume's history.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SnapshotItem {
    /// Its short id (what `read_at` and `restore` take).
    pub id: String,
    /// Its height.
    pub height: u64,
    /// When it was made, ns since the Unix epoch.
    pub time_ns: i64,
    /// The device that made it (`gfp1…`).
    pub device: String,
    /// What changed.
    pub note: String,
    /// Snapshots it follows (2 or more: a merge).
    pub parents: u32,
}

/// What applying a retention did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RetainSummary {
    /// Snapshots kept.
    pub kept: u32,
    /// Snapshots let go now.
    pub dropped: u32,
}

/// What a sync did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    /// Other devices' heads looked at.
    pub heads: u32,
    /// Moves to another device's snapshot.
    pub fast_forwards: u32,
    /// Merges made.
    pub merges: u32,
    /// Conflicts the merges kept both versions of.
    pub conflicts: u32,
}

fn summary(i: VolumeInfo) -> VolumeSummary {
    VolumeSummary {
        name: i.name,
        owner: i.owner.to_string(),
        devices: i.devices.iter().map(ToString::to_string).collect(),
        height: i.head.as_ref().map_or(0, |(_, seq)| *seq),
        snapshot: i.head.map(|(id, _)| id),
        may_write: i.may_write,
        key_epoch: i.key_epoch,
    }
}

fn snapshot_id(s: Option<SnapshotInfo>) -> Option<String> {
    s.map(|s| gofast_node::node::short_id(&s.at.0.id))
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[uniffi::export]
impl Node {
    /// Makes a volume owned by this device, named `name` here.
    pub async fn create_volume(self: Arc<Self>, name: String) -> Result<Arc<Volume>, GofastError> {
        let inner = self.inner()?;
        let n = name.clone();
        run(async move { Ok(inner.volumes().create(&n).await.map(|_| ())?) }).await?;
        Ok(Arc::new(Volume { node: self, name }))
    }

    /// Joins the volume `capability` (`gfv1…`, from `Volume::capability` on one of its devices)
    /// names, as `name` here. Its owner then allows this device for its writes to count.
    pub async fn join_volume(
        self: Arc<Self>,
        name: String,
        capability: String,
    ) -> Result<Arc<Volume>, GofastError> {
        let inner = self.inner()?;
        let cap: VolumeCapability = capability
            .parse()
            .map_err(|e: gofast_core::fs::CapabilityParseError| invalid(e.to_string()))?;
        let n = name.clone();
        run(async move { Ok(inner.volumes().join(&n, &cap).await.map(|_| ())?) }).await?;
        Ok(Arc::new(Volume { node: self, name }))
    }

    /// The volume `name` held here; `NotFound` if there is none.
    pub async fn volume(self: Arc<Self>, name: String) -> Result<Arc<Volume>, GofastError> {
        let inner = self.inner()?;
        let n = name.clone();
        run(async move { Ok(inner.volumes().info(&n).await.map(|_| ())?) }).await?;
        Ok(Arc::new(Volume { node: self, name }))
    }

    /// Every volume held here.
    pub async fn volumes(&self) -> Result<Vec<VolumeSummary>, GofastError> {
        let inner = self.inner()?;
        run(async move {
            Ok(inner
                .volumes()
                .list()
                .await?
                .into_iter()
                .map(summary)
                .collect())
        })
        .await
    }
}

/// One of the node's volumes. Every change is a snapshot, pushed at once to the volume's other
/// devices that are online and left in the DHT for the others. Calls fail with `Stopped` once the
/// node is stopped.
#[derive(Debug, uniffi::Object)]
pub struct Volume {
    node: Arc<Node>,
    name: String,
}

impl Volume {
    /// Runs `f` on the node (its volumes) with this volume's name.
    async fn with<T, F, Fut>(&self, f: F) -> Result<T, GofastError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<gofast_node::node::Node>, String) -> Fut,
        Fut: Future<Output = Result<T, gofast_node::error::Error>> + Send + 'static,
    {
        let work = f(self.node.inner()?, self.name.clone());
        run(async move { Ok(work.await?) }).await
    }
}

#[uniffi::export]
impl Volume {
    /// Its local name.
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// What it is now.
    pub async fn info(&self) -> Result<VolumeSummary, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            v.info(n).await.map(summary)
        })
        .await
    }

    /// The capability another device joins with (`gfv1…`): a secret, like a key.
    pub async fn capability(&self) -> Result<String, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            {
                v.capability(n)
                    .await
                    .map(|c| c.display_secret().to_string())
            }
        })
        .await
    }

    /// Lets `device` (`gfp1…`) write (the owner only).
    pub async fn allow(&self, device: String) -> Result<VolumeSummary, GofastError> {
        let device = device
            .parse()
            .map_err(|e| invalid(format!("device: {e}")))?;
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            v.add_device(n, device).await.map(summary)
        })
        .await
    }

    /// Stops taking `device`'s writes and moves the volume's keys to a new epoch it is not
    /// given: it reads nothing written from then on (the owner only).
    pub async fn revoke(&self, device: String) -> Result<VolumeSummary, GofastError> {
        let device = device
            .parse()
            .map_err(|e| invalid(format!("device: {e}")))?;
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            v.remove_device(n, device).await.map(summary)
        })
        .await
    }

    /// The directory `path` (`/` for the root), now or at snapshot `at`.
    pub async fn list(
        &self,
        path: String,
        at: Option<String>,
    ) -> Result<Vec<DirItem>, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            {
                v.list_dir(n, &path, at.as_deref()).await.map(|entries| {
                    entries
                        .into_iter()
                        .map(|e| DirItem {
                            name: e.name,
                            is_dir: e.kind == EntryKind::Dir,
                            size: e.size,
                            mtime_ns: e.mtime_ns,
                        })
                        .collect()
                })
            }
        })
        .await
    }

    /// The data of file `path` (at most 1 GiB), now or at snapshot `at`.
    pub async fn read(&self, path: String, at: Option<String>) -> Result<Vec<u8>, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            v.read(n, &path, at.as_deref()).await
        })
        .await
    }

    /// Writes `data` as file `path`; returns the new snapshot's id (none if nothing changed).
    pub async fn write(&self, path: String, data: Vec<u8>) -> Result<Option<String>, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            v.put_bytes(n, &path, data).await.map(snapshot_id)
        })
        .await
    }

    /// Writes the local file `local_path` as `path`.
    pub async fn put_file(
        &self,
        path: String,
        local_path: String,
    ) -> Result<Option<String>, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            {
                v.put_file(n, &path, std::path::Path::new(&local_path), |_| {})
                    .await
                    .map(snapshot_id)
            }
        })
        .await
    }

    /// Makes the directory `path` (and those above it).
    pub async fn mkdir(&self, path: String) -> Result<Option<String>, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            v.mkdir(n, &path).await.map(snapshot_id)
        })
        .await
    }

    /// Removes `path` (earlier snapshots keep it).
    pub async fn remove(&self, path: String) -> Result<Option<String>, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            v.remove(n, &path).await.map(snapshot_id)
        })
        .await
    }

    /// Moves `from` to `to`.
    pub async fn rename(&self, from: String, to: String) -> Result<Option<String>, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            v.rename(n, &from, &to).await.map(snapshot_id)
        })
        .await
    }

    /// Puts `path` back as it was at snapshot `at` (a new snapshot).
    pub async fn restore(&self, path: String, at: String) -> Result<Option<String>, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            v.restore(n, &path, &at).await.map(snapshot_id)
        })
        .await
    }

    /// The newest `limit` snapshots, newest first.
    pub async fn log(&self, limit: u32) -> Result<Vec<SnapshotItem>, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            {
                v.log(n, limit as usize).await.map(|log| {
                    log.into_iter()
                        .map(|l| SnapshotItem {
                            id: l.id,
                            height: l.seq,
                            time_ns: l.time_ns,
                            device: l.device.to_string(),
                            note: l.note,
                            parents: u32_of(l.parents),
                        })
                        .collect()
                })
            }
        })
        .await
    }

    /// Which old snapshots this device keeps: the newest `last`, those of the last `days` days, or
    /// both; neither keeps every snapshot (the default). Applied now and after every change.
    pub async fn set_retention(
        &self,
        last: Option<u32>,
        days: Option<u32>,
    ) -> Result<RetainSummary, GofastError> {
        if last == Some(0) {
            return Err(invalid(
                "keeping the newest 0 snapshots would drop the head",
            ));
        }
        self.with(move |node, n| async move {
            let policy = gofast_node::volume::Retention { last, days };
            let r = node.volumes().retain(&n, Some(policy)).await?;
            Ok(RetainSummary {
                kept: u32_of(r.kept),
                dropped: u32_of(r.dropped),
            })
        })
        .await
    }

    /// Reads the other devices' heads from the DHT now and takes in what is new (pushes do this
    /// at once for devices online; this is for catching up).
    pub async fn sync(&self) -> Result<SyncSummary, GofastError> {
        self.with(move |node, n| async move {
            let (v, n) = (node.volumes(), n.as_str());
            {
                v.sync(n).await.map(|r| SyncSummary {
                    heads: u32_of(r.heads),
                    fast_forwards: u32_of(r.fast_forwards),
                    merges: u32_of(r.merges),
                    conflicts: u32_of(r.conflicts.len()),
                })
            }
        })
        .await
    }
}
