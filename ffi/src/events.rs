//! Events, pushed to a listener the app implements (Kotlin `Flow` and Swift `AsyncStream`
//! wrappers in `bindings/` build on it).

use std::sync::{Arc, Mutex};

use gofast_node::events::NodeEvent;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

/// Something that happened in a node.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Event {
    /// A secure session to a peer completed its handshake.
    PeerConnected {
        /// Its identity (`gfp1…`).
        peer: String,
        /// Its address.
        address: String,
    },
    /// A peer's session ended.
    PeerDisconnected {
        /// Its identity.
        peer: String,
    },
    /// Data was added and pinned. (The root's id only: the URI, which can read the data, is not
    /// broadcast.)
    Added {
        /// The root block's id (hex).
        root_id: String,
        /// Data bytes.
        size: u64,
    },
    /// A tree was fetched whole and pinned.
    Fetched {
        /// The root block's id (hex).
        root_id: String,
        /// Data bytes.
        size: u64,
    },
    /// A block a device pushed (an entry of its stream) was stored.
    BlockPushed {
        /// The device's `gfp1…` id.
        peer: String,
        /// The block's id.
        block_id: String,
    },
    /// A volume moved to a new snapshot (this device's change, or another's taken in).
    VolumeChanged {
        /// The volume's local name.
        volume: String,
        /// The new snapshot's block id.
        snapshot_id: String,
        /// The `gfp1…` id of the device that made it.
        by: String,
    },
    /// A volume's device list changed.
    VolumeDevicesChanged {
        /// The volume's local name.
        volume: String,
        /// The `gfp1…` ids of the devices that may write now.
        devices: Vec<String>,
    },
    /// A device not on a volume's list (a removed one) tried to write; refused.
    VolumeHeadRefused {
        /// The volume's local name.
        volume: String,
        /// The device's `gfp1…` id.
        device: String,
    },
    /// A folder sync pass moved files between a folder and a volume.
    FolderSynced {
        /// The volume's local name.
        volume: String,
        /// Files put into the volume.
        uploaded: u64,
        /// Files written into the folder.
        downloaded: u64,
        /// Files removed on either side.
        removed: u64,
    },
    /// A merge kept both versions of a path (or an edit over a removal).
    VolumeConflict {
        /// The volume's local name.
        volume: String,
        /// The path both sides changed.
        path: String,
        /// Where the older version went; empty for an edit kept over a removal.
        kept_as: String,
    },
    /// The node was suspended.
    Suspended,
    /// The node runs again.
    Resumed,
    /// The listener fell behind and this many events were lost.
    Missed {
        /// How many.
        count: u64,
    },
}

impl From<NodeEvent> for Event {
    fn from(e: NodeEvent) -> Self {
        match e {
            NodeEvent::PeerConnected { peer, addr } => Event::PeerConnected {
                peer: peer.to_string(),
                address: addr.to_string(),
            },
            NodeEvent::PeerDisconnected { peer } => Event::PeerDisconnected {
                peer: peer.to_string(),
            },
            NodeEvent::Added { root, size } => Event::Added {
                root_id: root.to_string(),
                size,
            },
            NodeEvent::Fetched { root, size } => Event::Fetched {
                root_id: root.to_string(),
                size,
            },
            NodeEvent::BlockPushed { peer, id } => Event::BlockPushed {
                peer: peer.to_string(),
                block_id: id.to_string(),
            },
            NodeEvent::VolumeChanged {
                volume,
                snapshot,
                by,
            } => Event::VolumeChanged {
                volume,
                snapshot_id: snapshot.to_string(),
                by: by.to_string(),
            },
            NodeEvent::VolumeDevicesChanged { volume, devices } => Event::VolumeDevicesChanged {
                volume,
                devices: devices.iter().map(ToString::to_string).collect(),
            },
            NodeEvent::VolumeHeadRefused { volume, device } => Event::VolumeHeadRefused {
                volume,
                device: device.to_string(),
            },
            NodeEvent::FolderSynced {
                volume,
                uploaded,
                downloaded,
                removed,
            } => Event::FolderSynced {
                volume,
                uploaded: uploaded as u64,
                downloaded: downloaded as u64,
                removed: removed as u64,
            },
            NodeEvent::VolumeConflict {
                volume,
                path,
                kept_as,
            } => Event::VolumeConflict {
                volume,
                path,
                kept_as: kept_as.unwrap_or_default(),
            },
            NodeEvent::Suspended => Event::Suspended,
            NodeEvent::Resumed => Event::Resumed,
        }
    }
}

/// Receives a node's events, one call at a time and in order, on a thread of the library's: keep
/// it quick (hand the event to the app's own queue).
#[uniffi::export(with_foreign)]
pub trait EventListener: Send + Sync {
    /// One event.
    fn on_event(&self, event: Event);
}

/// A subscription to a node's events: they stop when it is unsubscribed or dropped.
#[derive(Debug, uniffi::Object)]
pub struct Subscription {
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Subscription {
    pub(crate) fn start(
        runtime: &tokio::runtime::Runtime,
        mut events: tokio::sync::broadcast::Receiver<NodeEvent>,
        listener: Arc<dyn EventListener>,
    ) -> Self {
        let task = runtime.spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(e) => Event::from(e),
                    Err(RecvError::Lagged(n)) => Event::Missed { count: n },
                    Err(RecvError::Closed) => return,
                };
                // The listener is foreign code that may block: off the runtime's workers.
                let l = Arc::clone(&listener);
                if tokio::task::spawn_blocking(move || l.on_event(event))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        Subscription {
            task: Mutex::new(Some(task)),
        }
    }
}

#[uniffi::export]
impl Subscription {
    /// Stops the events (also done when the subscription is dropped). Not named `close`: the
    /// generated Kotlin gives every object a `close` of its own (AutoCloseable).
    pub fn unsubscribe(&self) {
        if let Ok(mut t) = self.task.lock()
            && let Some(task) = t.take()
        {
            task.abort();
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.unsubscribe();
    }
}
