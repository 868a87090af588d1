//! Long work (adding a file, getting one) as a handle: await its end, watch its progress, cancel
//! it; dropping the handle cancels it too.

use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use crate::error::GofastError;
use crate::runtime::AbortOnDrop;

/// How far a transfer is. Called often (at most about ten times a second is typical); keep it
/// quick.
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    /// `done` bytes of `total` (unknown until the tree's root is read, for a get).
    fn on_progress(&self, done: u64, total: Option<u64>);
}

/// What a finished transfer did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct TransferResult {
    /// The data's URI (`gofast:gfb1…`): for an add, the capability to read what was added.
    pub uri: String,
    /// Data bytes.
    pub size: u64,
    /// Blocks: made (add) or received from providers (get).
    pub blocks: u64,
}

type Work = JoinHandle<Result<TransferResult, GofastError>>;

/// A transfer under way.
#[derive(Debug, uniffi::Object)]
pub struct Transfer {
    work: Mutex<Option<Work>>,
    abort: tokio::task::AbortHandle,
}

impl Transfer {
    pub(crate) fn new(work: Work) -> Self {
        let abort = work.abort_handle();
        Transfer {
            work: Mutex::new(Some(work)),
            abort,
        }
    }
}

#[uniffi::export]
impl Transfer {
    /// Waits for the end. Once only: a second call fails with `InvalidInput`. A caller that
    /// stops waiting (its coroutine or task cancelled) cancels the transfer.
    pub async fn wait(self: Arc<Self>) -> Result<TransferResult, GofastError> {
        let work = self
            .work
            .lock()
            .map_err(|_| GofastError::Internal("a transfer's lock was poisoned".into()))?
            .take()
            .ok_or_else(|| {
                GofastError::InvalidInput("this transfer was waited for already".into())
            })?;
        AbortOnDrop(work).await
    }

    /// Cancels it: `wait` then fails with `Cancelled`. What was stored stays for a retry; a file
    /// being written is removed. Cancelling a finished transfer does nothing.
    pub fn cancel(&self) {
        self.abort.abort();
    }

    /// Whether it has ended (finished, failed or cancelled).
    pub fn is_finished(&self) -> bool {
        self.abort.is_finished()
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

/// Hands progress to a foreign listener at most every `STEP` bytes (and at the end), so a fast
/// transfer does not cross the boundary for every block.
pub(crate) struct Throttle {
    listener: Arc<dyn ProgressListener>,
    last: Option<u64>,
}

const STEP: u64 = 1 << 20;

impl Throttle {
    pub(crate) fn new(listener: Arc<dyn ProgressListener>) -> Self {
        Throttle {
            listener,
            last: None,
        }
    }

    pub(crate) fn report(&mut self, done: u64, total: Option<u64>) {
        let due = match self.last {
            None => true,
            Some(last) => done >= last.saturating_add(STEP) || total.is_some_and(|t| done >= t),
        };
        if due && self.last != Some(done) {
            self.last = Some(done);
            self.listener.on_progress(done, total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Calls(Mutex<Vec<(u64, Option<u64>)>>);

    impl ProgressListener for Calls {
        fn on_progress(&self, done: u64, total: Option<u64>) {
            self.0.lock().unwrap().push((done, total));
        }
    }

    #[test]
    fn progress_crosses_once_per_mebibyte_and_at_the_end() {
        let calls = Arc::new(Calls::default());
        let mut t = Throttle::new(Arc::clone(&calls) as Arc<dyn ProgressListener>);
        let total = Some(3 * STEP + 10);
        for done in (0..=3 * STEP + 10).step_by(4096) {
            t.report(done, total);
        }
        t.report(3 * STEP + 10, total);
        t.report(3 * STEP + 10, total);
        let seen = calls.0.lock().unwrap().clone();
        let dones: Vec<u64> = seen.iter().map(|c| c.0).collect();
        assert_eq!(dones, vec![0, STEP, 2 * STEP, 3 * STEP, 3 * STEP + 10]);
    }
}
