//! The board: one module per board behind a feature, the same functions in each.

mod executor;
#[cfg(feature = "mps2-an386")]
mod mps2_an386;

pub use executor::Executor;
#[cfg(feature = "mps2-an386")]
pub use mps2_an386::{NetDevice, entropy, ethernet, exit, init, network, peak_stack, uptime_ns};

#[cfg(not(feature = "mps2-an386"))]
compile_error!("choose a board feature: mps2-an386");
