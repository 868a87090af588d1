//! Arm MPS2-AN386 (Cortex-M4F, 25 MHz) as QEMU models it: SysTick drives embassy-time at 1 kHz, and
//! the run ends through semihosting (QEMU exits with the code).

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

/// The core clock: SysTick counts it.
const CORE_HZ: u32 = 25_000_000;
/// embassy-time's tick rate (the `tick-hz-1_000` feature).
const TICK_HZ: u32 = 1_000;

/// Starts the SysTick interrupt that advances time.
pub(crate) fn init() {
    let Some(mut p) = cortex_m::Peripherals::take() else {
        // Taken already: init ran before; SysTick is running.
        return;
    };
    p.SYST.set_clock_source(SystClkSource::Core);
    p.SYST.set_reload(CORE_HZ / TICK_HZ - 1);
    p.SYST.clear_current();
    p.SYST.enable_interrupt();
    p.SYST.enable_counter();
}

/// Ends the run with `code` (QEMU's exit status).
pub(crate) fn exit(code: i32) -> ! {
    semihosting::process::exit(code)
}

/// Time in ticks since boot, and the timers waiting on it.
struct SysTickDriver {
    ticks: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
    /// The earliest expiry in the queue (`u64::MAX`: none).
    alarm: Mutex<Cell<u64>>,
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    queue: Mutex::new(RefCell::new(Queue::new())),
    alarm: Mutex::new(Cell::new(u64::MAX)),
});

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut queue = self.queue.borrow_ref_mut(cs);
            if queue.schedule_wake(at, waker) {
                let now = self.ticks.borrow(cs).get();
                self.alarm.borrow(cs).set(queue.next_expiration(now));
            }
        });
    }
}

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let ticks = DRIVER.ticks.borrow(cs);
        let now = ticks.get().wrapping_add(1);
        ticks.set(now);
        let alarm = DRIVER.alarm.borrow(cs);
        if now >= alarm.get() {
            alarm.set(DRIVER.queue.borrow_ref_mut(cs).next_expiration(now));
        }
    });
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    exit(101)
}
