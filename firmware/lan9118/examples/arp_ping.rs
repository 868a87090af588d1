//! Proof that the driver moves frames both ways under QEMU. Sets its own MAC address, sends three
//! frames to itself through the PHY loopback (short, too long for the buffer, odd-sized), then asks
//! QEMU's user-mode network "who has 192.0.2.2?" from 192.0.2.15 and waits for the answer. Exits
//! (semihosting) with 0 when the ARP reply arrives and every check passed, 1 otherwise. No embassy:
//! a plain polling loop.
//!
//! ```text
//! qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic \
//!   -semihosting-config enable=on,target=native \
//!   -nic user,model=lan9118,net=192.0.2.0/24,host=192.0.2.2 -kernel arp_ping
//! ```
#![cfg_attr(target_os = "none", no_std, no_main)]

/// Host builds (`cargo test --target x86_64-...`) compile the example to nothing.
#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod firmware {
    use cortex_m as _; // its critical-section implementation (defmt needs one)
    use cortex_m_rt::entry;
    use defmt_semihosting as _;
    use lan9118::{Error, Lan9118, MAX_FRAME_LEN, MPS2_BASE};

    /// A locally administered address.
    const OUR_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x91, 0x18];
    const OUR_IP: [u8; 4] = [192, 0, 2, 15];
    const HOST_IP: [u8; 4] = [192, 0, 2, 2];
    /// Requests sent before giving up, and receive polls after each. QEMU's user network answers
    /// while the request is being sent (the reply is in the RX FIFO when `transmit` returns); the
    /// bound only keeps a broken run from hanging (about 1 s of QEMU time per attempt).
    const ATTEMPTS: u32 = 3;
    const POLLS_PER_ATTEMPT: u32 = 200_000;

    #[entry]
    fn main() -> ! {
        // SAFETY: QEMU's MPS2-AN386 has its LAN9118 at MPS2_BASE, and nothing else here touches it.
        let mut eth = unsafe { Lan9118::new(MPS2_BASE) };
        let Ok(id) = eth.probe() else {
            fail("no LAN9118")
        };
        if eth.init().is_err() {
            fail("LAN9118 init failed");
        }
        // Replace QEMU's address (52:54:00:12:34:56 unless `-nic ...,mac=` says otherwise) and read
        // it back: the reply must come to the new one, through the MAC's address filter.
        if eth.set_mac_address(OUR_MAC).is_err() || eth.mac_address() != Ok(OUR_MAC) {
            fail("MAC address not set");
        }
        let mac = OUR_MAC;
        defmt::info!("LAN9118 (ID_REV {=u32:#010x}) up, MAC {=[u8]:02x}", id, mac);

        let mut buf = [0u8; MAX_FRAME_LEN];
        loopback_test(&mut eth, &mut buf);

        let request = arp_request(mac);
        for attempt in 1..=ATTEMPTS {
            if eth.transmit(&request).is_err() {
                fail("transmit refused");
            }
            for poll in 0..POLLS_PER_ATTEMPT {
                let len = match eth.receive(&mut buf) {
                    None => continue,
                    Some(Err(_)) => continue, // dropped and counted
                    Some(Ok(len)) => len,
                };
                if let Some(host_mac) = arp_reply_from_host(&buf[..len], mac) {
                    defmt::info!(
                        "ARP reply ({} bytes): 192.0.2.2 is at {=[u8]:02x} (attempt {}, poll {}, {})",
                        len,
                        host_mac,
                        attempt,
                        poll,
                        defmt::Debug2Format(&eth.stats())
                    );
                    semihosting::process::exit(0);
                }
                defmt::info!("ignored a {}-byte frame", len);
            }
        }
        fail("no ARP reply")
    }

    /// Through the PHY's loopback, frames to ourselves must come back byte for byte, without the
    /// FCS, short ones padded with zeros to the 60-byte Ethernet minimum (QEMU pads them, as the
    /// wire would). 61 bytes: the FCS QEMU appends straddles two FIFO words.
    fn loopback_test(eth: &mut Lan9118, buf: &mut [u8]) {
        let mut frame = [0u8; 61];
        frame[0..6].copy_from_slice(&OUR_MAC);
        frame[6..12].copy_from_slice(&OUR_MAC);
        frame[12..14].copy_from_slice(&0x88b5u16.to_be_bytes()); // local experimental EtherType
        for (i, b) in frame[14..].iter_mut().enumerate() {
            *b = i as u8 ^ 0xa5;
        }
        if eth.set_loopback(true).is_err() {
            fail("loopback: on");
        }
        // (bytes sent, room in the buffer): the second frame does not fit and must be dropped,
        // counted, and leave the FIFO in step for the third.
        for (sent, room) in [(45, buf.len()), (61, 32), (61, buf.len())] {
            if eth.transmit(&frame[..sent]).is_err() {
                fail("loopback: send");
            }
            let expected = sent.max(60);
            match (0..POLLS_PER_ATTEMPT).find_map(|_| eth.receive(&mut buf[..room])) {
                Some(Ok(len))
                    if len == expected
                        && buf[..sent] == frame[..sent]
                        && buf[sent..len].iter().all(|&b| b == 0) =>
                {
                    defmt::info!("loopback: {} bytes back intact as {}", sent, len)
                }
                Some(Err(Error::FrameTooLong(len))) if len == expected && room < len => {
                    defmt::info!("loopback: {} bytes dropped: longer than {}", len, room)
                }
                Some(Ok(len)) => fail_len("loopback: frame differs", len),
                Some(Err(_)) => fail("loopback: unexpected error"),
                None => fail("loopback: nothing came back"),
            }
        }
        if eth.set_loopback(false).is_err() {
            fail("loopback: off");
        }
    }

    /// Broadcast "who has 192.0.2.2? tell 192.0.2.15".
    fn arp_request(mac: [u8; 6]) -> [u8; 42] {
        let mut f = [0u8; 42];
        f[0..6].copy_from_slice(&[0xff; 6]); // destination: broadcast
        f[6..12].copy_from_slice(&mac);
        f[12..14].copy_from_slice(&0x0806u16.to_be_bytes()); // ARP
        f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]); // Ethernet/IPv4, request
        f[22..28].copy_from_slice(&mac); // sender hardware address
        f[28..32].copy_from_slice(&OUR_IP);
        // target hardware address: unknown (zero)
        f[38..42].copy_from_slice(&HOST_IP);
        f
    }

    /// The host's MAC if `f` is an ARP reply from 192.0.2.2 to us.
    fn arp_reply_from_host(f: &[u8], mac: [u8; 6]) -> Option<[u8; 6]> {
        let is_reply = f.len() >= 42
            && f[0..6] == mac
            && f[12..14] == [0x08, 0x06]
            && f[14..22] == [0, 1, 0x08, 0x00, 6, 4, 0, 2]
            && f[28..32] == HOST_IP
            && f[32..38] == mac
            && f[38..42] == OUR_IP;
        is_reply.then(|| f[22..28].try_into().unwrap_or_default())
    }

    fn fail(why: &str) -> ! {
        defmt::error!("FAILED: {=str}", why);
        semihosting::process::exit(1)
    }

    fn fail_len(why: &str, len: usize) -> ! {
        defmt::error!("FAILED: {=str} ({} bytes)", why, len);
        semihosting::process::exit(1)
    }

    /// panic-probe would hang under QEMU: exit with failure instead.
    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        semihosting::process::exit(101)
    }
}
