//! The one tokio runtime every node of this library runs on, and how calls reach it.
//!
//! Foreign code awaits futures with its own machinery (coroutines, Swift tasks, asyncio) and
//! knows nothing of tokio; the node needs a tokio runtime for its sockets and timers. So each call
//! spawns its work here and hands the foreign side a future of the task's end, which aborts the
//! task when dropped: a cancelled coroutine or asyncio task stops the work.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::error::GofastError;

/// Worker threads: a phone has few cores and the node's heavy work (hashing, sealing, the store)
/// runs on blocking threads of its own.
const WORKERS: usize = 2;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The runtime, made on first use.
pub(crate) fn runtime() -> Result<&'static Runtime, GofastError> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKERS)
                .thread_name("gofast")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))
        })
        .as_ref()
        .map_err(|e| GofastError::Internal(e.clone()))
}

/// Runs `work` on the runtime; the result arrives when it ends. Dropping the returned future
/// aborts the work.
pub(crate) async fn run<T: Send + 'static>(
    work: impl Future<Output = Result<T, GofastError>> + Send + 'static,
) -> Result<T, GofastError> {
    let task = AbortOnDrop(runtime()?.spawn(work));
    task.await
}

/// A task that is aborted when its handle is dropped before it ends.
#[derive(Debug)]
pub(crate) struct AbortOnDrop<T>(pub(crate) JoinHandle<Result<T, GofastError>>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, GofastError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| match joined {
            Ok(result) => result,
            Err(e) if e.is_cancelled() => Err(GofastError::Cancelled("cancelled".into())),
            Err(_) => Err(GofastError::Internal(
                "a bug: the node's work panicked (see the log)".into(),
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_the_work_comes_back_as_internal() {
        let rt = runtime().unwrap();
        let r: Result<(), _> = rt.block_on(run(async { panic!("a bug") }));
        assert!(matches!(r, Err(GofastError::Internal(_))));
    }

    /// Tells when it is dropped: the work it lives in has ended.
    struct Dropped(Option<tokio::sync::oneshot::Sender<()>>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
        }
    }

    #[test]
    fn dropping_the_call_aborts_its_work() {
        let rt = runtime().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        rt.block_on(async move {
            let call = run(async move {
                let _guard = Dropped(Some(tx));
                let _ = started_tx.send(());
                std::future::pending::<Result<(), GofastError>>().await
            });
            let mut call = Box::pin(call);
            // Poll the call until its work has started, then drop it.
            tokio::select! {
                _ = &mut call => unreachable!("pending work finished"),
                started = started_rx => started.unwrap(),
            }
            drop(call);
            tokio::time::timeout(std::time::Duration::from_secs(30), rx)
                .await
                .expect("the work was aborted in time")
                .expect("the guard reported its drop");
        });
    }
}
