//! The core's time from the OS clock: microseconds since the node started.

use gofast_core::time::Instant;

/// Maps the monotonic OS clock to the core's [`Instant`] and back.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    start: tokio::time::Instant,
}

impl Clock {
    pub(super) fn new() -> Self {
        Clock {
            start: tokio::time::Instant::now(),
        }
    }

    /// Now, as the core counts it. Starts at 1 µs so that zero never means "now".
    pub(super) fn now(&self) -> Instant {
        let micros = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        Instant::from_micros(micros.saturating_add(1))
    }

    /// The OS instant of a core instant, for tokio's timers.
    pub(super) fn to_tokio(self, at: Instant) -> tokio::time::Instant {
        self.start + std::time::Duration::from_micros(at.as_micros().saturating_sub(1))
    }
}
