//! gofast on a microcontroller: `gofast-core` under embassy on a Cortex-M4F.
//!
//! The application code is board-independent; `board` holds what one board needs (clock, time
//! driver, how the run ends). Today it runs the self-test against the project's golden file and
//! exits with its verdict (under QEMU, the process exit code).
#![no_std]
#![no_main]

mod self_test;

use defmt_semihosting as _;
use gofast_firmware::board;
use static_cell::StaticCell;

#[cortex_m_rt::entry]
fn main() -> ! {
    board::init();
    static EXECUTOR: StaticCell<board::Executor> = StaticCell::new();
    EXECUTOR
        .init(board::Executor::new())
        .run(|spawner| match self_test_task() {
            Ok(task) => spawner.spawn(task),
            Err(_) => board::exit(1),
        })
}

#[embassy_executor::task]
async fn self_test_task() {
    defmt::info!("gofast firmware: self-test against the golden file");
    let verdict = self_test::run().await;
    // The xtask reads this line for the size report.
    defmt::info!("peak_stack_bytes={}", board::peak_stack());
    match verdict {
        Ok(checked) => {
            defmt::info!("self-test passed: {} golden vectors", checked);
            board::exit(0)
        }
        Err(step) => {
            defmt::error!("self-test FAILED at {}", step);
            board::exit(1)
        }
    }
}
