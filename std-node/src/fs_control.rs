//! The control socket's `fs` requests: a volume's operations (`gofast fs …`), translated to
//! [`crate::volume::Volumes`] and their answers to JSON. Nothing here decides anything.

use std::path::PathBuf;

use gofast_core::fs::{EntryKind, VolumeCapability};
use gofast_core::identity::PeerId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, ErrorKind};
use crate::node::Node;
use crate::volume::{SnapshotInfo, VolumeInfo};

/// A volume operation. `Debug` names the operation and its volume only: a `Join` carries the
/// volume's capability, a secret.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsRequest {
    /// Make a volume owned by this node.
    Create {
        /// Its local name.
        volume: String,
    },
    /// Join a volume with its capability.
    Join {
        /// The local name to give it.
        volume: String,
        /// `gfv1…`.
        capability: String,
    },
    /// The capability that lets another device join (a secret).
    Share {
        /// The volume.
        volume: String,
    },
    /// Every volume here.
    Volumes,
    /// Let a device write (the owner only).
    Allow {
        /// The volume.
        volume: String,
        /// `gfp1…`.
        device: String,
    },
    /// Stop taking a device's writes (the owner only).
    Revoke {
        /// The volume.
        volume: String,
        /// `gfp1…`.
        device: String,
    },
    /// A directory's entries.
    Ls {
        /// The volume.
        volume: String,
        /// The directory.
        path: String,
        /// A snapshot (short id) instead of now.
        at: Option<String>,
    },
    /// A file's data (streamed after the `{"size": N}` answer, as `cat`).
    Cat {
        /// The volume.
        volume: String,
        /// The file.
        path: String,
        /// A snapshot (short id) instead of now.
        at: Option<String>,
    },
    /// Write a local file into the volume.
    Put {
        /// The local file (absolute).
        local: PathBuf,
        /// The volume.
        volume: String,
        /// Where in it.
        path: String,
    },
    /// Make a directory.
    Mkdir {
        /// The volume.
        volume: String,
        /// The directory.
        path: String,
    },
    /// Move an entry.
    Mv {
        /// The volume.
        volume: String,
        /// From.
        from: String,
        /// To.
        to: String,
    },
    /// Remove an entry.
    Rm {
        /// The volume.
        volume: String,
        /// The entry.
        path: String,
    },
    /// The history, newest first.
    Log {
        /// The volume.
        volume: String,
        /// Most snapshots.
        limit: usize,
    },
    /// Put back a path as it was at a snapshot.
    Restore {
        /// The volume.
        volume: String,
        /// The path.
        path: String,
        /// The snapshot (short id).
        at: String,
    },
    /// Read the other devices' heads from the DHT now.
    Sync {
        /// The volume.
        volume: String,
    },
    /// Set which snapshots this device keeps (nothing set: apply the policy in force), then
    /// apply it.
    Retain {
        /// The volume.
        volume: String,
        /// Keep the newest this many.
        last: Option<u32>,
        /// Keep those of the last this many days.
        days: Option<u32>,
        /// Keep every snapshot again (from now on).
        all: bool,
    },
}

impl std::fmt::Debug for FsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (op, volume) = match self {
            FsRequest::Create { volume } => ("Create", volume),
            FsRequest::Join { volume, .. } => ("Join", volume),
            FsRequest::Share { volume } => ("Share", volume),
            FsRequest::Volumes => return f.write_str("Volumes"),
            FsRequest::Allow { volume, .. } => ("Allow", volume),
            FsRequest::Revoke { volume, .. } => ("Revoke", volume),
            FsRequest::Ls { volume, .. } => ("Ls", volume),
            FsRequest::Cat { volume, .. } => ("Cat", volume),
            FsRequest::Put { volume, .. } => ("Put", volume),
            FsRequest::Mkdir { volume, .. } => ("Mkdir", volume),
            FsRequest::Mv { volume, .. } => ("Mv", volume),
            FsRequest::Rm { volume, .. } => ("Rm", volume),
            FsRequest::Log { volume, .. } => ("Log", volume),
            FsRequest::Restore { volume, .. } => ("Restore", volume),
            FsRequest::Sync { volume } => ("Sync", volume),
            FsRequest::Retain { volume, .. } => ("Retain", volume),
        };
        f.debug_struct(op)
            .field("volume", volume)
            .finish_non_exhaustive()
    }
}

fn peer(text: &str) -> Result<PeerId, Error> {
    text.parse()
        .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("device {text:?}: {e}")))
}

fn info_json(i: &VolumeInfo) -> Value {
    json!({
        "name": i.name,
        "owner": i.owner.to_string(),
        "devices": i.devices.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "head": i.head.as_ref().map(|(id, seq)| json!({"id": id, "seq": seq})),
        "may_write": i.may_write,
        "key_epoch": i.key_epoch,
    })
}

fn snapshot_json(s: Option<SnapshotInfo>) -> Value {
    match s {
        Some(s) => json!({
            "snapshot": hex::encode(s.at.0.id.0.get(..6).unwrap_or_default()),
            "seq": s.seq,
            "changed": true,
        }),
        None => json!({ "changed": false }),
    }
}

/// Runs `request` on `node` (every one but `Cat`, which streams: see [`read`]). `progress` gets
/// the bytes a `Put` has read so far.
pub async fn handle(
    node: &Node,
    request: FsRequest,
    progress: impl FnMut(u64) + Send + 'static,
) -> Result<Value, Error> {
    let v = node.volumes();
    Ok(match request {
        FsRequest::Create { volume } => info_json(&v.create(&volume).await?),
        FsRequest::Join { volume, capability } => {
            let cap: VolumeCapability = capability
                .parse()
                .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("{e}")))?;
            info_json(&v.join(&volume, &cap).await?)
        }
        FsRequest::Share { volume } => {
            json!({ "capability": v.capability(&volume).await?.display_secret().to_string() })
        }
        FsRequest::Volumes => Value::Array(v.list().await?.iter().map(info_json).collect()),
        FsRequest::Allow { volume, device } => {
            info_json(&v.add_device(&volume, peer(&device)?).await?)
        }
        FsRequest::Revoke { volume, device } => {
            info_json(&v.remove_device(&volume, peer(&device)?).await?)
        }
        FsRequest::Ls { volume, path, at } => Value::Array(
            v.list_dir(&volume, &path, at.as_deref())
                .await?
                .into_iter()
                .map(|e| {
                    json!({
                        "name": e.name,
                        "dir": e.kind == EntryKind::Dir,
                        "size": e.size,
                        "mtime_ns": e.mtime_ns,
                    })
                })
                .collect(),
        ),
        FsRequest::Put {
            local,
            volume,
            path,
        } => snapshot_json(v.put_file(&volume, &path, &local, progress).await?),
        FsRequest::Mkdir { volume, path } => snapshot_json(v.mkdir(&volume, &path).await?),
        FsRequest::Mv { volume, from, to } => snapshot_json(v.rename(&volume, &from, &to).await?),
        FsRequest::Rm { volume, path } => snapshot_json(v.remove(&volume, &path).await?),
        FsRequest::Restore { volume, path, at } => {
            snapshot_json(v.restore(&volume, &path, &at).await?)
        }
        FsRequest::Log { volume, limit } => Value::Array(
            v.log(&volume, limit)
                .await?
                .into_iter()
                .map(|l| {
                    json!({
                        "id": l.id,
                        "seq": l.seq,
                        "time_ns": l.time_ns,
                        "device": l.device.to_string(),
                        "note": l.note,
                        "parents": l.parents,
                    })
                })
                .collect(),
        ),
        FsRequest::Retain {
            volume,
            last,
            days,
            all,
        } => {
            let policy = match (all, last, days) {
                (true, None, None) => Some(crate::volume::Retention::default()),
                (true, _, _) => {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        "--all keeps every snapshot: give it alone",
                    ));
                }
                (false, Some(0), _) => {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        "--last 0 would drop the head: keep at least 1",
                    ));
                }
                (false, None, None) => None,
                (false, last, days) => Some(crate::volume::Retention { last, days }),
            };
            let r = v.retain(&volume, policy).await?;
            json!({
                "last": r.retention.last,
                "days": r.retention.days,
                "kept": r.kept,
                "dropped": r.dropped,
            })
        }
        FsRequest::Sync { volume } => {
            let r = v.sync(&volume).await?;
            json!({
                "heads": r.heads,
                "fast_forwards": r.fast_forwards,
                "merges": r.merges,
                "conflicts": r.conflicts.len(),
                "blocks": r.blocks,
            })
        }
        FsRequest::Cat { .. } => {
            return Err(Error::new(
                ErrorKind::Internal,
                "fs cat streams its data: it is not answered here",
            ));
        }
    })
}
