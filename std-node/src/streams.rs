//! Streams on a node: keeping the entries devices push (`docs/spec/exchange.md`, "Pushed blocks"),
//! and reading a publisher's stream back from its head record, every entry checked
//! (`docs/spec/stream.md`).

use std::sync::Arc;

use gofast_core::block::{Block, BlockId, open_in_place};
use gofast_core::identity::PeerId;
use gofast_core::stream::{Head, head_key, read_entry};
use tokio::sync::mpsc;
use tracing::warn;

use crate::error::{Error, ErrorKind};
use crate::events::{EventSender, NodeEvent};
use crate::net::{NodeHandle, PushedBlock};
use crate::store::{BlockStore, Class};

/// Stores the blocks the network task accepted, then tells each pusher. Pushed entries are cache
/// blocks: kept while the cache has room and they are worth it, like blocks fetched for others
/// (ARCHITECTURE: known gaps). Ends when the network task drops its sender.
pub(crate) async fn keep_pushed(
    mut pushed: mpsc::Receiver<PushedBlock>,
    store: Arc<BlockStore>,
    net: NodeHandle,
    events: EventSender,
) {
    while let Some(p) = pushed.recv().await {
        let (peer, id) = (p.peer, p.id);
        let s = Arc::clone(&store);
        let stored =
            match tokio::task::spawn_blocking(move || s.put(&p.id, &p.data, Class::Cache)).await {
                Ok(Ok(_)) => true,
                Ok(Err(e)) => {
                    warn!(%peer, error = %e, "a pushed block could not be stored");
                    false
                }
                Err(e) => {
                    warn!(%peer, error = %e, "the store task for a pushed block failed");
                    false
                }
            };
        if stored {
            events.send(NodeEvent::BlockPushed { peer, id });
        }
        if net.push_done(peer, id, stored).await.is_err() {
            return;
        }
    }
}

/// One reading of a stream, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamReading {
    /// Its place in the stream (1 is the first).
    pub seq: u64,
    /// When it was taken, in the publisher's milliseconds.
    pub time_ms: u64,
    /// The block it is in.
    pub block: BlockId,
    /// The reading's bytes.
    pub reading: Vec<u8>,
}

/// A stream read back from its head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamRead {
    /// The newest entries, oldest first.
    pub readings: Vec<StreamReading>,
    /// The head's sequence number (the newest entry's).
    pub head_seq: u64,
    /// The chain stopped before entry 1 because this entry's block is not held here (streams
    /// are kept as cache blocks; older entries may have been evicted).
    pub missing_before: Option<u64>,
}

/// Reads the newest `limit` entries of `publisher`'s stream `name`: its head record from the DHT,
/// then the entries from the store, each entry's signature, sequence number and link checked.
pub(crate) async fn read(
    net: &NodeHandle,
    store: &Arc<BlockStore>,
    publisher: PeerId,
    name: &str,
    limit: usize,
) -> Result<StreamRead, Error> {
    let key = head_key(&publisher, name.as_bytes()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("stream name {name:?}: {e}"),
        )
    })?;
    let record = net.get_record(key).await?.ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            format!("no head record of stream {name:?} of {publisher} was found"),
        )
    })?;
    let head = Head::from_record(&record, name.as_bytes()).map_err(|e| {
        Error::new(
            ErrorKind::Corrupt,
            format!("the head record of stream {name:?}: {e}"),
        )
    })?;
    let mut readings = Vec::new();
    let mut next = Some((head.entry.clone(), head.seq));
    let mut missing_before = None;
    while let Some((r, expected)) = next.take() {
        if readings.len() >= limit {
            break;
        }
        let s = Arc::clone(store);
        let id = r.id;
        let block = tokio::task::spawn_blocking(move || s.get(&id))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("store task: {e}")))??;
        let Some(mut block) = block else {
            missing_before = Some(expected);
            break;
        };
        let data = match open_in_place(&r, &mut block) {
            Ok(Block::Data(d)) => d,
            Ok(Block::Tree(_)) | Err(_) => {
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    format!("entry {expected} of stream {name:?} is not an entry block"),
                ));
            }
        };
        let entry = read_entry(&publisher, name.as_bytes(), data).map_err(|e| {
            Error::new(
                ErrorKind::Corrupt,
                format!("entry {expected} of stream {name:?}: {e}"),
            )
        })?;
        if entry.seq != expected {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!(
                    "stream {name:?}: entry {} found where entry {expected} belongs",
                    entry.seq
                ),
            ));
        }
        readings.push(StreamReading {
            seq: entry.seq,
            time_ms: entry.time_ms,
            block: r.id,
            reading: entry.reading.to_vec(),
        });
        next = entry.prev.map(|p| (p, expected - 1));
    }
    readings.reverse();
    Ok(StreamRead {
        readings,
        head_seq: head.seq,
        missing_before,
    })
}
