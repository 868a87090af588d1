//! The core's own time: microseconds in a `u64`, with no clock behind them.
//!
//! The driver (tokio in the node, embassy on firmware, virtual time in the simulator) reads its clock and
//! passes an [`Instant`] into every call that needs one. The epoch is the driver's choice; only
//! differences between instants mean anything. A `u64` of microseconds lasts 584,000 years, so arithmetic
//! saturates instead of failing.
//!
//! ```
//! use gofast_core::time::{Duration, Instant};
//! let now = Instant::from_micros(1_000);
//! let deadline = now + Duration::from_millis(250);
//! assert_eq!(deadline - now, Duration::from_micros(250_000));
//! assert_eq!(now - deadline, Duration::ZERO); // saturates: never panics, never wraps
//! ```

use core::ops::{Add, AddAssign, Sub};

/// A point in time, in microseconds since an epoch chosen by whoever drives the core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant(u64);

/// A span of time in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Duration(u64);

impl Instant {
    /// The driver's epoch.
    pub const ZERO: Instant = Instant(0);
    /// The latest representable instant; used as "never" for timers.
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// `self + d`, or `None` past [`Instant::MAX`].
    pub const fn checked_add(self, d: Duration) -> Option<Instant> {
        match self.0.checked_add(d.0) {
            Some(v) => Some(Instant(v)),
            None => None,
        }
    }

    /// `self + d`, clamped to [`Instant::MAX`].
    pub const fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }

    /// Time elapsed from `earlier` to `self`, or `None` if `earlier` is later.
    pub const fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        match self.0.checked_sub(earlier.0) {
            Some(v) => Some(Duration(v)),
            None => None,
        }
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);
    /// The longest representable span.
    pub const MAX: Duration = Duration(u64::MAX);

    /// `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Duration(micros)
    }
    /// `millis` milliseconds (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Duration(millis.saturating_mul(1_000))
    }
    /// `secs` seconds (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Duration(secs.saturating_mul(1_000_000))
    }
    /// The span in microseconds.
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    /// The span in whole milliseconds (rounded down).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000
    }
    /// The span in whole seconds (rounded down).
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000
    }
    /// `self + other`, clamped to [`Duration::MAX`].
    pub const fn saturating_add(self, other: Duration) -> Duration {
        Duration(self.0.saturating_add(other.0))
    }
    /// `self - other`, or zero if `other` is longer.
    pub const fn saturating_sub(self, other: Duration) -> Duration {
        Duration(self.0.saturating_sub(other.0))
    }
    /// `self * n`, clamped to [`Duration::MAX`].
    pub const fn saturating_mul(self, n: u64) -> Duration {
        Duration(self.0.saturating_mul(n))
    }
}

/// Saturates at [`Instant::MAX`]; use [`Instant::checked_add`] to detect it.
impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

/// Saturates at zero when `rhs` is later than `self`.
impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

/// Saturates at [`Duration::MAX`].
impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        self.saturating_add(rhs)
    }
}

impl From<core::time::Duration> for Duration {
    /// Saturates at [`Duration::MAX`]; sub-microsecond parts are dropped.
    fn from(d: core::time::Duration) -> Self {
        Duration(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
}

impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> Self {
        core::time::Duration::from_micros(d.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let t = Instant::from_micros(10);
        assert_eq!(t + Duration::from_micros(5), Instant::from_micros(15));
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::MAX.checked_add(Duration::from_micros(1)), None);
        assert_eq!(t - Instant::from_micros(20), Duration::ZERO);
        assert_eq!(t.checked_duration_since(Instant::from_micros(20)), None);
        assert_eq!(Duration::from_secs(u64::MAX), Duration::MAX);
        assert_eq!(Duration::from_millis(1_500).as_secs(), 1);
        assert_eq!(Duration::from_millis(1_500).as_millis(), 1_500);
    }

    #[test]
    fn converts_to_and_from_core_duration() {
        let d = core::time::Duration::from_nanos(2_500_999);
        assert_eq!(Duration::from(d), Duration::from_micros(2_500));
        assert_eq!(
            core::time::Duration::from(Duration::from_millis(3)).as_millis(),
            3
        );
        assert_eq!(Duration::from(core::time::Duration::MAX), Duration::MAX);
    }
}
