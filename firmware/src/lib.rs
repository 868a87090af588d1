//! The board support the firmware and its examples share: one module per board behind a feature
//! (clock and time driver, how a run ends, the panic handler, the stack measurement).
#![no_std]

pub mod board;
