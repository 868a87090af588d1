//! The thread-mode executor every Cortex-M board uses: embassy's raw executor, idling on `WFI`.
//!
//! embassy's own Cortex-M executor idles on `WFE`, woken by `SEV`. QEMU 7.2 executes `WFE` as a
//! no-op on M-profile cores, so that idle loop spins: under `-icount shift=0` the emulated clock
//! then runs at emulation speed (a second of firmware time took about a minute) and instruction
//! counts measure the spinning. `WFI` halts the emulated core until an interrupt is pending, and on
//! silicon it is the usual sleep. The pender sets a flag; the loop checks it with interrupts masked
//! before sleeping, so a wake between the check and the `WFI` leaves the interrupt pending and the
//! `WFI` returns at once.
#![allow(unsafe_code)]

use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, Ordering};

use embassy_executor::{Spawner, raw};

/// Set by the pender: a task was woken, poll again before sleeping.
static WOKEN: AtomicBool = AtomicBool::new(false);

// SAFETY (of the export): embassy-executor calls the `__pender` symbol when one of its executors has
// work; with no platform feature enabled, the application must define exactly one, and this is it.
#[unsafe(export_name = "__pender")]
fn pender(_context: *mut ()) {
    WOKEN.store(true, Ordering::Release);
}

/// The executor: run it once, from `main`, in a `StaticCell`.
pub struct Executor {
    inner: raw::Executor,
    not_send: PhantomData<*mut ()>,
}

impl core::fmt::Debug for Executor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Executor")
    }
}

impl Default for Executor {
    fn default() -> Self {
        Self::new()
    }
}

impl Executor {
    /// An executor with no tasks yet.
    pub fn new() -> Self {
        Executor {
            inner: raw::Executor::new(core::ptr::null_mut()),
            not_send: PhantomData,
        }
    }

    /// Calls `init` with a spawner for the first tasks, then runs them forever.
    pub fn run(&'static mut self, init: impl FnOnce(Spawner)) -> ! {
        init(self.inner.spawner());
        loop {
            WOKEN.store(false, Ordering::Release);
            // SAFETY: `poll` is called from this loop only, never from the pender (which only sets
            // a flag), so never reentrantly.
            unsafe { self.inner.poll() };
            cortex_m::interrupt::free(|_| {
                if !WOKEN.load(Ordering::Acquire) {
                    // With interrupts masked, a pending one still ends the WFI; its handler runs
                    // when `free` unmasks them.
                    cortex_m::asm::wfi();
                }
            });
        }
    }
}
