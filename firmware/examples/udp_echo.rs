//! The embassy-net integration end to end: from 192.0.2.15 under embassy-net, sends one UDP
//! datagram to 192.0.2.2:40118 and waits (1 s of emulated time) for the same bytes to come back.
//! QEMU's user-mode network delivers datagrams for its host address (192.0.2.2) to the host's
//! loopback, so a process on 127.0.0.1:40118 receives it and echoes it: `scripts/udp-echo.sh` runs
//! both. Exits (semihosting) with 0 when the echo arrives, 1 otherwise. The board (time driver,
//! exit, panic handler) is the firmware's own.
#![no_std]
#![no_main]

mod firmware {
    use defmt_semihosting as _;
    use embassy_executor::Spawner;
    use embassy_executor::task;
    use embassy_net::udp::{PacketMetadata, UdpSocket};
    use embassy_net::{Config, Ipv4Address, Ipv4Cidr, StackResources, StaticConfigV4};
    use embassy_time::{Duration, with_timeout};
    use gofast_firmware::board;
    use static_cell::StaticCell;

    const PORT: u16 = 40118;
    const HOST: Ipv4Address = Ipv4Address::new(192, 0, 2, 2);
    const PAYLOAD: &[u8] = b"gofast over lan9118";

    #[cortex_m_rt::entry]
    fn main() -> ! {
        board::init();
        static EXECUTOR: StaticCell<board::Executor> = StaticCell::new();
        EXECUTOR.init(board::Executor::new()).run(|spawner| {
            spawner.spawn(unwrap(echo(spawner)));
        })
    }

    #[task]
    async fn echo(spawner: Spawner) {
        let device = match board::network(spawner) {
            Ok(d) => d,
            Err(why) => fail(why),
        };

        let config = Config::ipv4_static(StaticConfigV4 {
            address: Ipv4Cidr::new(Ipv4Address::new(192, 0, 2, 15), 24),
            gateway: Some(HOST),
            dns_servers: Default::default(),
        });
        static RESOURCES: StaticCell<StackResources<2>> = StaticCell::new();
        let (stack, net_runner) = embassy_net::new(
            device,
            config,
            RESOURCES.init(StackResources::new()),
            0x9118,
        );
        spawner.spawn(unwrap(net_task(net_runner)));
        stack.wait_config_up().await;

        let (mut rx_meta, mut tx_meta) = ([PacketMetadata::EMPTY; 2], [PacketMetadata::EMPTY; 2]);
        let (mut rx_buf, mut tx_buf) = ([0u8; 256], [0u8; 256]);
        let mut socket =
            UdpSocket::new(stack, &mut rx_meta, &mut rx_buf, &mut tx_meta, &mut tx_buf);
        if socket.bind(PORT).is_err() {
            fail("bind");
        }
        if socket.send_to(PAYLOAD, (HOST, PORT)).await.is_err() {
            fail("send_to");
        }
        defmt::info!("sent {} bytes to 192.0.2.2:{}", PAYLOAD.len(), PORT);
        let mut buf = [0u8; 64];
        match with_timeout(Duration::from_secs(1), socket.recv_from(&mut buf)).await {
            Ok(Ok((n, meta))) if &buf[..n] == PAYLOAD && meta.endpoint.port == PORT => {
                defmt::info!("echo received: {=[u8]:a}", &buf[..n]);
                board::exit(0)
            }
            Ok(Ok((n, _))) => fail_len("unexpected datagram", n),
            Ok(Err(_)) => fail("recv_from"),
            Err(_) => fail("no echo within 1 s"),
        }
    }

    #[embassy_executor::task]
    async fn net_task(mut runner: embassy_net::Runner<'static, board::NetDevice>) -> ! {
        runner.run().await
    }

    fn unwrap<T, E>(r: Result<T, E>) -> T {
        match r {
            Ok(t) => t,
            Err(_) => fail("spawn"),
        }
    }

    fn fail(why: &str) -> ! {
        defmt::error!("FAILED: {=str}", why);
        board::exit(1)
    }

    fn fail_len(why: &str, n: usize) -> ! {
        defmt::error!("FAILED: {=str} ({} bytes)", why, n);
        board::exit(1)
    }
}
