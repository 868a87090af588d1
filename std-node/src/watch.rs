//! `gofast watch`: a node's events as JSON lines, for scripts and for measuring (the sync bench
//! waits on them). The node sends each event as it happens until the caller hangs up.

use serde_json::{Value, json};

use crate::events::NodeEvent;

/// An event as JSON: `{"event": "<name>", …fields}`. Ids as text, times as numbers.
pub fn event_json(e: &NodeEvent) -> Value {
    match e {
        NodeEvent::PeerConnected { peer, addr } => {
            json!({"event": "peer_connected", "peer": peer.to_string(), "addr": addr.to_string()})
        }
        NodeEvent::PeerDisconnected { peer } => {
            json!({"event": "peer_disconnected", "peer": peer.to_string()})
        }
        NodeEvent::Added { root, size } => {
            json!({"event": "added", "root": root.to_string(), "size": size})
        }
        NodeEvent::Fetched { root, size } => {
            json!({"event": "fetched", "root": root.to_string(), "size": size})
        }
        NodeEvent::BlockPushed { peer, id } => {
            json!({"event": "block_pushed", "peer": peer.to_string(), "block": id.to_string()})
        }
        NodeEvent::VolumeChanged {
            volume,
            snapshot,
            by,
        } => json!({
            "event": "volume_changed",
            "volume": volume,
            "snapshot": hex::encode(snapshot.0),
            "by": by.to_string(),
        }),
        NodeEvent::VolumeDevicesChanged { volume, devices } => json!({
            "event": "volume_devices_changed",
            "volume": volume,
            "devices": devices.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
        NodeEvent::VolumeHeadRefused { volume, device } => json!({
            "event": "volume_head_refused",
            "volume": volume,
            "device": device.to_string(),
        }),
        NodeEvent::VolumeConflict {
            volume,
            path,
            kept_as,
        } => json!({
            "event": "volume_conflict",
            "volume": volume,
            "path": path,
            "kept_as": kept_as,
        }),
        NodeEvent::FolderSynced {
            volume,
            uploaded,
            downloaded,
            removed,
        } => json!({
            "event": "folder_synced",
            "volume": volume,
            "uploaded": uploaded,
            "downloaded": downloaded,
            "removed": removed,
        }),
        NodeEvent::Suspended => json!({"event": "suspended"}),
        NodeEvent::Resumed => json!({"event": "resumed"}),
    }
}
