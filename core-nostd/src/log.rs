//! The one logging shim of the core: `defmt` on firmware, `log` on std, nothing otherwise.
//!
//! Every module logs through these macros, never through `defmt` or `log` directly, so that the core
//! builds the same way for each platform. Arguments must be `defmt::Format` and `core::fmt::Display`
//! so that both backends accept them; never pass key material or user data.

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!(
    "gofast-core: the features `defmt` and `log` are mutually exclusive; enable the one your platform logs with"
);

#[cfg(feature = "defmt")]
macro_rules! core_log {
    ($level:ident, $($arg:expr),+ $(,)?) => { ::defmt::$level!($($arg),+) };
}

#[cfg(all(feature = "log", not(feature = "defmt")))]
macro_rules! core_log {
    ($level:ident, $($arg:expr),+ $(,)?) => { ::log::$level!($($arg),+) };
}

#[cfg(not(any(feature = "defmt", feature = "log")))]
macro_rules! core_log {
    // Borrow the arguments (cheap: they are plain values) so that a build without logging has no
    // unused-variable warnings; nothing is formatted or emitted.
    ($level:ident, $fmt:expr $(, $arg:expr)* $(,)?) => {{ $( let _ = &$arg; )* }};
}

#[allow(unused_macros)]
macro_rules! debug {
    ($($arg:expr),+ $(,)?) => { core_log!(debug, $($arg),+) };
}

#[allow(unused_macros)]
macro_rules! warn {
    ($($arg:expr),+ $(,)?) => { core_log!(warn, $($arg),+) };
}
