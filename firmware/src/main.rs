//! gofast on a microcontroller: `gofast-core` under embassy on a Cortex-M4F.
//!
//! The application code is board-independent; `board` holds what one board needs (clock, time
//! driver, network device, how the run ends). The firmware first runs its self-test against the
//! project's golden file (a failure ends the run with exit code 1), then brings up IPv4 and runs
//! the peer: a secure session to its configured std node, a DHT ping of the node, answers to the
//! node's requests, and a reading published into its stream every period (`app.rs`).
#![no_std]
#![no_main]

mod app;
mod config;
mod peer;
mod publisher;
mod self_test;
mod sensor;

use defmt_semihosting as _;
use embassy_executor::Spawner;
use gofast_firmware::board;
use static_cell::StaticCell;

#[cortex_m_rt::entry]
fn main() -> ! {
    board::init();
    static EXECUTOR: StaticCell<board::Executor> = StaticCell::new();
    EXECUTOR
        .init(board::Executor::new())
        .run(|spawner| match main_task(spawner) {
            Ok(task) => spawner.spawn(task),
            Err(_) => board::exit(1),
        })
}

#[embassy_executor::task]
async fn main_task(spawner: Spawner) {
    defmt::info!("gofast firmware: self-test against the golden file");
    match self_test::run().await {
        Ok(checked) => defmt::info!("self-test passed: {} golden vectors", checked),
        Err(step) => {
            defmt::error!("self-test FAILED at {}", step);
            board::exit(1)
        }
    }
    let code = app::run(spawner).await;
    // The xtask reads this line for the size report.
    defmt::info!("peak_stack_bytes={}", board::peak_stack());
    board::exit(code)
}
