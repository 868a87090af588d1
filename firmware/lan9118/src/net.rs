//! embassy-net over the LAN9118, without interrupts.
//!
//! # Why a runner task and a channel
//!
//! The device is polled: nothing wakes a task when a frame arrives. Implementing
//! `embassy_net_driver::Driver` directly on [`Lan9118`] would force `receive` to re-wake its waker
//! every time it finds nothing, so the network task would spin and the executor would never sleep.
//! Instead, `embassy-net-driver-channel` provides the `Driver` ([`Device`]) over two bounded
//! queues, and [`Runner::run`] (its own task) moves frames between those queues and the device:
//!
//! - RX: every `poll` period it pops whatever frames the device holds, as many as the RX queue has
//!   room for (the rest wait in the device's FIFO, about 10 KiB in QEMU; when that is full the
//!   device drops). Receive latency is therefore at most one period.
//! - TX: it waits for the stack to queue a frame *or* the period to end, whichever comes first, so
//!   sending adds no latency.
//! - Link state follows the PHY, read once a period.
//!
//! All memory is in the caller's [`State`]: `N_RX + N_TX` buffers of [`MTU`] bytes.
//!
//! ```ignore
//! static STATE: StaticCell<lan9118::net::State<4, 4>> = StaticCell::new();
//! let mut eth = unsafe { Lan9118::new(lan9118::MPS2_BASE) };
//! eth.init()?;
//! let (device, runner) = lan9118::net::new(STATE.init(State::new()), eth, Duration::from_millis(2))?;
//! spawner.spawn(eth_task(runner).unwrap());   // async fn eth_task(r: Runner<'static>) -> ! { r.run().await }
//! let (stack, net_runner) = embassy_net::new(device, config, resources, seed);
//! ```

use embassy_futures::select::{Either, select};
use embassy_net_driver_channel as ch;
use embassy_net_driver_channel::driver::{HardwareAddress, LinkState};
use embassy_time::{Duration, Timer};

use crate::{Error, Lan9118};

/// The largest frame the stack hands over or receives: Ethernet header and 1500 bytes of payload
/// (embassy-net counts the header in the MTU, not the FCS).
pub const MTU: usize = 1514;

/// The queues' memory: `N_RX` received and `N_TX` outgoing frames of [`MTU`] bytes. Make it a
/// `static` (e.g. through `static_cell`): the [`Device`] and [`Runner`] borrow it.
pub type State<const N_RX: usize, const N_TX: usize> = ch::State<MTU, N_RX, N_TX>;

/// What embassy-net takes (`embassy_net::new(device, ..)`): implements `embassy_net_driver::Driver`.
pub type Device<'d> = ch::Device<'d, MTU>;

/// Moves frames between the LAN9118 and the [`Device`]'s queues; run it in its own task.
pub struct Runner<'d> {
    ch: ch::Runner<'d, MTU>,
    dev: Lan9118,
    poll: Duration,
}

/// Builds the embassy-net [`Device`] and its [`Runner`] over an initialised device (after
/// [`Lan9118::init`] and, if wanted, [`Lan9118::set_mac_address`]: its address is read here).
/// `poll` is how often the runner looks for received frames (1 to 10 ms is reasonable).
pub fn new<'d, const N_RX: usize, const N_TX: usize>(
    state: &'d mut State<N_RX, N_TX>,
    mut dev: Lan9118,
    poll: Duration,
) -> Result<(Device<'d>, Runner<'d>), Error> {
    let mac = dev.mac_address()?;
    let (ch, device) = ch::new(state, HardwareAddress::Ethernet(mac));
    Ok((device, Runner { ch, dev, poll }))
}

impl Runner<'_> {
    /// Runs forever. Frames the device drops (too long, bad) are counted in its [`crate::Stats`];
    /// frames the stack gives that the device refuses (bad length) are dropped.
    pub async fn run(self) -> ! {
        let Runner { ch, mut dev, poll } = self;
        let (state, mut rx, mut tx) = ch.split();
        let mut period_over = true;
        loop {
            if period_over {
                // Once a period. A failed PHY read (timeout) counts as link down.
                let up = dev.link_up().unwrap_or(false);
                state.set_link_state(if up { LinkState::Up } else { LinkState::Down });
            }

            while let Some(buf) = rx.try_rx_buf() {
                match dev.receive(buf) {
                    None => break,
                    Some(Ok(len)) => rx.rx_done(len),
                    // Dropped and counted; the buffer is still free for the next frame.
                    Some(Err(_)) => {}
                }
            }

            period_over = false;
            match select(tx.tx_buf(), Timer::after(poll)).await {
                Either::First(frame) => {
                    if dev.transmit(frame) == Err(Error::TxFifoFull) {
                        // Keep the frame queued and retry after a period: the FIFO drains at line
                        // rate (QEMU's never fills: it sends each frame as its last word arrives).
                        Timer::after(poll).await;
                        period_over = true;
                    } else {
                        tx.tx_done();
                    }
                }
                Either::Second(()) => period_over = true,
            }
        }
    }
}
