//! The no_std proof: a `#![no_main]` binary for `thumbv7em-none-eabihf` that links `gofast-core` built
//! without default features and defines no global allocator, so any use of `alloc` in that build fails
//! to link. It runs one pass through every module so that the linker keeps real code, not just symbols.
//!
//! On the host the same self-test runs as an ordinary program (`cargo run -p gofast-core-nostd-check`).
#![cfg_attr(target_os = "none", no_std, no_main)]

mod self_test;

#[cfg(target_os = "none")]
mod bare_metal {
    use core::hint::black_box;

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let verdict = super::self_test::run();
        loop {
            black_box(&verdict);
        }
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        loop {
            core::hint::spin_loop();
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    match self_test::run() {
        Ok(()) => println!("nostd-check self-test: ok"),
        Err(step) => {
            eprintln!("nostd-check self-test failed at: {step}");
            std::process::exit(1);
        }
    }
}
