//! What a node tells those who watch it: peers coming and going, data added and fetched, suspend
//! and resume. Phone apps and the web UI show these; tests wait on them instead of polling.

use std::net::SocketAddr;

use gofast_core::block::BlockId;
use gofast_core::identity::PeerId;
use tokio::sync::broadcast;

/// Events held for a slow subscriber before it misses some (it then learns how many it missed).
pub const EVENT_QUEUE: usize = 256;

/// Something that happened in a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// A secure session to `peer` completed its handshake (again, if it replaced an older one).
    PeerConnected {
        /// Who.
        peer: PeerId,
        /// Its UDP address.
        addr: SocketAddr,
    },
    /// The session to `peer` ended (closed, idle, or dropped to make room).
    PeerDisconnected {
        /// Who.
        peer: PeerId,
    },
    /// Data was added and pinned; `root` is its tree's root.
    Added {
        /// The root block.
        root: BlockId,
        /// Data bytes.
        size: u64,
    },
    /// A tree was fetched whole and pinned.
    Fetched {
        /// The root block.
        root: BlockId,
        /// Data bytes.
        size: u64,
    },
    /// A block `peer` pushed (a stream entry of a device) was stored.
    BlockPushed {
        /// The pusher.
        peer: PeerId,
        /// The block.
        id: BlockId,
    },
    /// A volume moved to a new snapshot: this device's change, or another device's taken in
    /// (fast-forwarded or merged).
    VolumeChanged {
        /// The volume's local name.
        volume: String,
        /// The new snapshot's block.
        snapshot: BlockId,
        /// The device that made the snapshot.
        by: PeerId,
    },
    /// The owner's newer device list of a volume was taken in (or, on the owner, changed).
    VolumeDevicesChanged {
        /// The volume's local name.
        volume: String,
        /// Who may write now.
        devices: Vec<PeerId>,
    },
    /// A head of a device not on a volume's device list (a removed device still writing) was
    /// refused.
    VolumeHeadRefused {
        /// The volume's local name.
        volume: String,
        /// The device.
        device: PeerId,
    },
    /// A pass of a folder sync (`gofast sync`) moved files between the folder and the volume.
    FolderSynced {
        /// The volume's local name.
        volume: String,
        /// Files put into the volume.
        uploaded: usize,
        /// Files written into the folder.
        downloaded: usize,
        /// Files removed on either side.
        removed: usize,
    },
    /// A merge kept two versions of a file, or an edit over a removal (`docs/spec/volume.md`).
    VolumeConflict {
        /// The volume's local name.
        volume: String,
        /// The path both sides changed.
        path: String,
        /// Where the older version went (`None`: an edit kept over a removal).
        kept_as: Option<String>,
    },
    /// The node stopped all traffic (see `Node::suspend`).
    Suspended,
    /// The node runs again after a suspend.
    Resumed,
}

/// The sending side, shared by the parts of a node that report events. Sending never waits: a
/// subscriber that falls more than [`EVENT_QUEUE`] events behind loses the oldest.
#[derive(Clone, Debug)]
pub struct EventSender(broadcast::Sender<NodeEvent>);

impl Default for EventSender {
    fn default() -> Self {
        EventSender(broadcast::channel(EVENT_QUEUE).0)
    }
}

impl EventSender {
    /// Reports `event` to every subscriber (none is fine).
    pub fn send(&self, event: NodeEvent) {
        let _ = self.0.send(event);
    }

    /// A new subscriber: it sees the events sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.0.subscribe()
    }
}
