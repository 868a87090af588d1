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

/// Starts the SysTick interrupt that advances time, and paints the free stack (see
/// [`peak_stack`]).
pub fn init() {
    paint_stack();
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

/// The word free stack is painted with.
const PAINT: u32 = 0x5A5A_A5A5;
/// Left unpainted below the stack pointer: the frames of `paint_stack` itself.
const PAINT_MARGIN: usize = 256;

// Symbols of cortex-m-rt's linker script: only their addresses are used.
#[allow(unsafe_code)]
unsafe extern "C" {
    /// cortex-m-rt: the start of the heap, i.e. the end of static RAM (no heap is used here).
    static mut __sheap: u32;
    /// cortex-m-rt: the initial stack pointer, the top of RAM.
    static _stack_start: u32;
}

/// Paints the RAM between the end of the statics and the stack pointer, so that [`peak_stack`]
/// can find how deep the stack ever reached.
#[allow(unsafe_code)]
fn paint_stack() {
    let bottom = core::ptr::addr_of_mut!(__sheap).cast::<u32>();
    let sp = cortex_m::register::msp::read() as usize;
    let top = sp.saturating_sub(PAINT_MARGIN) & !3;
    let mut p = bottom;
    while (p as usize) < top {
        // SAFETY: between the end of the statics (cortex-m-rt's `__sheap`; no allocator uses it)
        // and below the live stack frames: memory nothing else owns. Aligned word writes.
        unsafe {
            core::ptr::write_volatile(p, PAINT);
            p = p.add(1);
        }
    }
}

/// The deepest the stack has reached since [`init`], in bytes: from the top of RAM down to the
/// lowest word no longer holding the paint.
#[allow(unsafe_code)]
pub fn peak_stack() -> usize {
    let bottom = core::ptr::addr_of_mut!(__sheap).cast::<u32>();
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let mut p = bottom;
    // SAFETY: reads the words `paint_stack` wrote, up to the stack pointer at most (the loop stops
    // at the first word that was overwritten, which is at or below it). Aligned word reads.
    while (p as usize) < top && unsafe { core::ptr::read_volatile(p) } == PAINT {
        p = unsafe { p.add(1) };
    }
    top - p as usize
}

/// The board's Ethernet controller, once (later calls get `None`).
#[allow(unsafe_code)]
pub fn ethernet() -> Option<lan9118::Lan9118> {
    static TAKEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    if TAKEN.swap(true, core::sync::atomic::Ordering::AcqRel) {
        return None;
    }
    // SAFETY: QEMU's MPS2-AN386 has its LAN9118 at MPS2_BASE, and the flag above hands it out once.
    Some(unsafe { lan9118::Lan9118::new(lan9118::MPS2_BASE) })
}

/// 32 bytes from a hardware random number generator. The MPS2-AN386 (as QEMU models it) has none:
/// `None`, and the application falls back on its build-time randomness.
pub fn entropy() -> Option<[u8; 32]> {
    None
}

/// Nanoseconds of core time since [`init`], at the resolution of one core clock cycle (40 ns at 25
/// MHz). Under QEMU's `-icount shift=0` one instruction is one nanosecond of emulated time, so the
/// difference of two readings around busy code is its instruction count.
pub fn uptime_ns() -> u64 {
    use cortex_m::peripheral::{SCB, SYST};
    critical_section::with(|cs| {
        let ticks = DRIVER.ticks.borrow(cs).get();
        // The counter may wrap between the reads: then its interrupt is pending (masked here) and
        // the value is read again after the wrap.
        let before = SCB::is_pendst_pending();
        let mut current = SYST::get_current();
        let after = SCB::is_pendst_pending();
        if before != after {
            current = SYST::get_current();
        }
        let ticks = ticks + u64::from(after);
        let reload = u64::from(CORE_HZ / TICK_HZ);
        let cycles = ticks * reload + (reload - 1).saturating_sub(u64::from(current));
        cycles * (1_000_000_000 / u64::from(CORE_HZ))
    })
}

/// The board's network device for embassy-net.
pub type NetDevice = lan9118::net::Device<'static>;

/// Brings the Ethernet controller up and spawns its driver task; the device is embassy-net's.
pub fn network(spawner: embassy_executor::Spawner) -> Result<NetDevice, &'static str> {
    use static_cell::ConstStaticCell;
    let mut eth = ethernet().ok_or("the Ethernet controller was taken")?;
    eth.init().map_err(|_| "LAN9118 init failed")?;
    // One frame each way: the peer sends and reads one datagram at a time, frames that arrive
    // meanwhile wait in the controller's own receive FIFO, and the UDP socket keeps two datagrams.
    // (Two each way cost 3 KB more of the 64 KiB RAM budget and changed nothing in the runs.)
    // Built in its static at compile time: on the stack first, it would widen the caller's frame.
    static STATE: ConstStaticCell<lan9118::net::State<1, 1>> =
        ConstStaticCell::new(lan9118::net::State::new());
    let state = STATE.try_take().ok_or("the Ethernet state was taken")?;
    let (device, runner) = lan9118::net::new(state, eth, embassy_time::Duration::from_millis(1))
        .map_err(|_| "reading the MAC address failed")?;
    spawner.spawn(eth_task(runner).map_err(|_| "spawning the Ethernet task")?);
    Ok(device)
}

#[embassy_executor::task]
async fn eth_task(runner: lan9118::net::Runner<'static>) -> ! {
    runner.run().await
}

/// Ends the run with `code` (QEMU's exit status).
pub fn exit(code: i32) -> ! {
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
    // Where, not what: formatting the message would link core::fmt for every panic's arguments
    // (kilobytes of flash); the location finds the line.
    match info.location() {
        Some(l) => defmt::error!("panic at {=str}:{}", l.file(), l.line()),
        None => defmt::error!("panic"),
    }
    exit(101)
}
