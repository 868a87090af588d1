//! The sensor publisher: every period it takes a reading, seals it as the next entry of the device's
//! stream (`gofast_core::stream`), pushes the entry's block to the node, and once the node has it,
//! stores the new head record through the DHT. An entry the node refused, or a head that was not
//! stored, is tried again at the next period; the stream never names a block the node did not keep.

use gofast_core::block::{BlockId, BlockRef};
use gofast_core::dht::QueryId;
use gofast_core::identity::KeyPair;
use gofast_core::record::Record;
use gofast_core::stream::{Entry, Head, MAX_ENTRY_BLOCK_LEN, StreamError, seal_entry};
use gofast_core::time::{Duration, Instant};

/// The stream's name.
pub(crate) const STREAM: &[u8] = b"sensor";
/// How long the node's answer to a push may take. Datagrams can be lost and a push is not repeated
/// by the session: past this, the reading is taken again (as the same entry number).
const PUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the current reading is.
#[derive(Debug)]
enum Stage {
    /// Waiting for the next period.
    Idle,
    /// The entry was pushed; waiting for the node's Have until `until`.
    Pushed { entry: BlockRef, until: Instant },
    /// The node keeps the entry; waiting for the head's store.
    Storing {
        entry: BlockRef,
        put: Option<QueryId>,
    },
}

/// The publisher's state: the stream's next sequence number and last entry.
pub(crate) struct Publisher {
    seq: u64,
    prev: Option<BlockRef>,
    stage: Stage,
    next_at: Instant,
    period: Duration,
    block: [u8; MAX_ENTRY_BLOCK_LEN],
    block_len: usize,
    /// Readings published (their head stored).
    pub(crate) published: u64,
}

impl core::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Publisher")
            .field("seq", &self.seq)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A stream starting at entry 1, its first reading due at `first`.
    pub(crate) fn new(first: Instant, period: Duration) -> Self {
        Publisher {
            seq: 1,
            prev: None,
            stage: Stage::Idle,
            next_at: first,
            period,
            block: [0; MAX_ENTRY_BLOCK_LEN],
            block_len: 0,
            published: 0,
        }
    }

    /// When the next reading is due (while idle), or when a push stops waiting for its answer.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match &self.stage {
            Stage::Idle => Some(self.next_at),
            Stage::Pushed { until, .. } => Some(*until),
            Stage::Storing { .. } => None,
        }
    }

    /// Time has come to `now`: a push unanswered past its time is given up (the reading is taken
    /// again at the next period). Whether one was.
    pub(crate) fn on_timeout(&mut self, now: Instant) -> bool {
        if let Stage::Pushed { until, .. } = self.stage
            && now >= until
        {
            self.stage = Stage::Idle;
            return true;
        }
        false
    }

    /// The push could not even be queued: the reading is taken again at the next period.
    pub(crate) fn push_failed(&mut self) {
        if matches!(self.stage, Stage::Pushed { .. }) {
            self.stage = Stage::Idle;
        }
    }

    /// The sequence number of the reading in progress (or next).
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// At `now`: takes `reading` and seals the next entry if one is due; the block to push (its id
    /// and bytes).
    pub(crate) fn take_reading(
        &mut self,
        key: &KeyPair,
        now: Instant,
        reading: &[u8],
    ) -> Result<Option<(BlockId, &[u8])>, StreamError> {
        if !matches!(self.stage, Stage::Idle) || now < self.next_at {
            return Ok(None);
        }
        self.next_at = now.saturating_add(self.period);
        let entry = Entry {
            seq: self.seq,
            time_ms: now.as_micros() / 1000,
            prev: self.prev.clone(),
            reading,
        };
        let (len, r) = seal_entry(key, STREAM, &entry, &mut self.block)?;
        self.block_len = len;
        let id = r.id;
        self.stage = Stage::Pushed {
            entry: r,
            until: now.saturating_add(PUSH_TIMEOUT),
        };
        Ok(self.block.get(..len).map(|b| (id, b)))
    }

    /// The node's answer to a push: on Have, the head record to store through the DHT.
    pub(crate) fn on_pushed(
        &mut self,
        key: &KeyPair,
        id: &BlockId,
        kept: bool,
    ) -> Result<Option<Record>, StreamError> {
        let Stage::Pushed { entry, .. } = &self.stage else {
            return Ok(None);
        };
        if entry.id != *id {
            return Ok(None);
        }
        if !kept {
            // Tried again, as a new entry of the same number, at the next period.
            self.stage = Stage::Idle;
            return Ok(None);
        }
        let entry = entry.clone();
        let record = Head {
            seq: self.seq,
            entry: entry.clone(),
        }
        .sign(key, STREAM)?;
        self.stage = Stage::Storing { entry, put: None };
        Ok(Some(record))
    }

    /// The DHT query that stores the head.
    pub(crate) fn put_started(&mut self, id: Option<QueryId>) {
        match (&mut self.stage, id) {
            (Stage::Storing { put, .. }, Some(id)) => *put = Some(id),
            // No query slot: the reading is taken again at the next period.
            (Stage::Storing { .. }, None) => self.stage = Stage::Idle,
            _ => {}
        }
    }

    /// A DHT store ended; whether it was this publisher's and published the reading.
    pub(crate) fn on_stored(&mut self, id: QueryId, stored: u8) -> bool {
        let Stage::Storing { entry, put } = &self.stage else {
            return false;
        };
        if *put != Some(id) {
            return false;
        }
        if stored == 0 {
            self.stage = Stage::Idle;
            return false;
        }
        self.prev = Some(entry.clone());
        self.seq += 1;
        self.published += 1;
        self.stage = Stage::Idle;
        true
    }
}
