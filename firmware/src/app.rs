//! The application: IPv4 on the board's network device, then the peer's loop. It moves datagrams
//! between the UDP socket and [`Peer`], fires the timers, pings the node once the session is up, and
//! publishes a reading every period (`publisher.rs`). What a test on the host checks is logged as
//! defmt lines with `key=value` figures; instruction counts are emulated nanoseconds of the core's
//! work (under QEMU's `-icount shift=0`, one per instruction), the IP stack's tasks not included.
//!
//! With `READINGS` configured (a test run), the run ends with exit code 0 once that many readings are
//! published and the pings both ways were answered; 2 if that did not happen within [`RUN_LIMIT`];
//! 3 if the network could not start.

use embassy_futures::select::{Either, select};
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{Config, Ipv4Address, Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_time::Timer;
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::keyed_hash;
use gofast_core::dht::QueryId;
use gofast_core::identity::{KeyPair, PeerId};
use gofast_core::time::{Duration, Instant};
use gofast_firmware::board;
use static_cell::{ConstStaticCell, StaticCell};

use crate::config;
use crate::peer::{Done, Happened, MAX_DATAGRAM, Peer};
use crate::publisher::Publisher;
use crate::sensor::synthetic_reading;

/// The device's address in QEMU's user network (its default guest address), and its UDP port.
const ADDRESS: Ipv4Address = Ipv4Address::new(192, 0, 2, 15);
const PORT: u16 = 40300;
/// A test run that has not finished by then has failed.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Emulated nanoseconds spent in the core's work, summed over the calls timed.
#[derive(Default)]
struct Busy(u64);

impl Busy {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t0 = board::uptime_ns();
        let out = f();
        self.0 += board::uptime_ns().saturating_sub(t0);
        out
    }
}

fn now() -> Instant {
    Instant::from_micros(embassy_time::Instant::now().as_micros())
}

fn at(t: Instant) -> embassy_time::Instant {
    embassy_time::Instant::from_micros(t.as_micros())
}

/// Where a test run stands.
#[derive(Default)]
struct Progress {
    ping: Option<QueryId>,
    pinged_node: bool,
    /// The node pinged this device (and its DHT answered).
    node_pinged: bool,
    /// Busy time when the reading in progress was taken.
    reading_started: Option<u64>,
    /// The first session is up (the handshake's instructions were reported).
    connected_once: bool,
}

/// Runs the peer; returns the run's exit code (a run without `READINGS` does not end).
pub(crate) async fn run(spawner: embassy_executor::Spawner) -> i32 {
    let device = match board::network(spawner) {
        Ok(d) => d,
        Err(why) => {
            defmt::error!("network: {=str}", why);
            return 3;
        }
    };
    let net_config = Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ADDRESS, 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    // Buffers and resources are built in their statics at compile time (`ConstStaticCell`):
    // `StaticCell::init` builds its value on the stack first, and this function's frame, which
    // every step of the run sits on, would keep room for all of them (13.9 KB).
    static RESOURCES: ConstStaticCell<StackResources<2>> =
        ConstStaticCell::new(StackResources::new());
    let Some(resources) = RESOURCES.try_take() else {
        return 3;
    };
    let (stack, runner) = embassy_net::new(
        device,
        net_config,
        resources,
        u64::from_le_bytes(*config::DEVICE_SEED.first_chunk().unwrap_or(&[0; 8])),
    );
    if let Ok(task) = net_task(runner) {
        spawner.spawn(task);
    } else {
        return 3;
    }
    stack.wait_config_up().await;

    // The node may send a few datagrams at once (an answer, a ping, a rekey): room for two whole
    // frames or several small ones. Sending waits for room, so one frame each way is enough.
    static RX_META: ConstStaticCell<[PacketMetadata; 4]> =
        ConstStaticCell::new([PacketMetadata::EMPTY; 4]);
    static TX_META: ConstStaticCell<[PacketMetadata; 2]> =
        ConstStaticCell::new([PacketMetadata::EMPTY; 2]);
    static RX_BUF: ConstStaticCell<[u8; 2 * MAX_DATAGRAM]> =
        ConstStaticCell::new([0; 2 * MAX_DATAGRAM]);
    static TX_BUF: ConstStaticCell<[u8; MAX_DATAGRAM]> = ConstStaticCell::new([0; MAX_DATAGRAM]);
    let (Some(rx_meta), Some(rx_buf), Some(tx_meta), Some(tx_buf)) = (
        RX_META.try_take(),
        RX_BUF.try_take(),
        TX_META.try_take(),
        TX_BUF.try_take(),
    ) else {
        return 3;
    };
    let mut socket = UdpSocket::new(stack, rx_meta, rx_buf, tx_meta, tx_buf);
    if socket.bind(PORT).is_err() {
        defmt::error!("cannot bind UDP port {}", PORT);
        return 3;
    }

    let identity = KeyPair::from_seed(&SecretBytes::new(config::DEVICE_SEED));
    let Ok(node) = PeerId::from_bytes(&config::NODE) else {
        defmt::error!("the configured node id is not a valid key");
        return 3;
    };
    defmt::info!(
        "device peer={=str} node={=str} at {}.{}.{}.{}:{}",
        identity.peer_id().to_text(&mut [0; PeerId::TEXT_LEN]),
        node.to_text(&mut [0; PeerId::TEXT_LEN]),
        config::NODE_ADDR.0[0],
        config::NODE_ADDR.0[1],
        config::NODE_ADDR.0[2],
        config::NODE_ADDR.0[3],
        config::NODE_ADDR.1
    );
    let entropy = board::entropy().unwrap_or_else(|| {
        // No generator: the build's randomness, so that two builds never share session keys. Boots
        // of one build repeat them (ARCHITECTURE: known gaps).
        keyed_hash(
            &SecretBytes::new(config::BUILD_ENTROPY),
            &config::DEVICE_SEED,
        )
    });

    let started = now();
    let mut busy = Busy::default();
    let peer = busy.time(|| make_peer(identity, node, entropy, started));
    let publisher = make_publisher(started);
    let mut progress = Progress::default();
    static FRAME: ConstStaticCell<[u8; MAX_DATAGRAM]> = ConstStaticCell::new([0; MAX_DATAGRAM]);
    let Some(frame) = FRAME.try_take() else {
        return 3;
    };
    let deadline = started.saturating_add(RUN_LIMIT);
    busy.time(|| peer.on_timeout(started));

    loop {
        if let Some(code) = step(peer, publisher, &mut progress, &mut busy, deadline) {
            return code;
        }
        // Last, what everything above made (requests, answers, pushes) leaves before the wait.
        while let Some(n) = busy.time(|| peer.poll_transmit(now(), frame)) {
            let to = (Ipv4Address::from(config::NODE_ADDR.0), config::NODE_ADDR.1);
            if socket.send_to(&frame[..n], to).await.is_err() {
                defmt::warn!("a datagram could not be sent");
            }
        }
        let wake = [
            peer.poll_timeout(),
            publisher.poll_timeout(),
            Some(deadline),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(deadline);
        match select(socket.recv_from(frame), Timer::at(at(wake))).await {
            Either::First(Ok((n, meta))) => {
                let from =
                    core::net::SocketAddr::new(meta.endpoint.addr.into(), meta.endpoint.port);
                busy.time(|| peer.on_datagram(now(), from, &mut frame[..n]));
            }
            // Longer than the buffer: not a frame of the node's (they fit).
            Either::First(Err(_)) => {}
            Either::Second(()) => busy.time(|| peer.on_timeout(now())),
        }
    }
}

/// The application's work after each input: what happened on the link (session up, pings, the
/// node's answers to pushes and stores), the next reading when it is due, and whether a test run is
/// over (its exit code). Synchronous and out of line: its values (a signed head record, a sealed
/// entry) live on the stack only while it runs, not in the async loop's frame for the whole run.
#[inline(never)]
fn step(
    peer: &mut Peer,
    publisher: &mut Publisher,
    progress: &mut Progress,
    busy: &mut Busy,
    deadline: Instant,
) -> Option<i32> {
    while let Some(h) = peer.poll_happened() {
        match h {
            Happened::Connected => {
                if !progress.connected_once {
                    // The handshake's core work: making the peer, the first message, the
                    // answer's processing (nothing else ran before).
                    progress.connected_once = true;
                    defmt::info!(
                        "session established with node {=str}; handshake_instructions={}",
                        peer.node().to_text(&mut [0; PeerId::TEXT_LEN]),
                        busy.0
                    );
                } else {
                    defmt::info!("session established again");
                }
                progress.ping = peer.ping_node(now());
            }
            Happened::Disconnected => defmt::warn!("session closed; dialling again"),
            Happened::Dht(id, Done::Ping(answered), took) if Some(id) == progress.ping => {
                if answered {
                    progress.pinged_node = true;
                    defmt::info!("dht ping to node answered rtt_ms={}", took.as_millis());
                } else {
                    defmt::warn!("dht ping to node unanswered; trying again");
                    progress.ping = peer.ping_node(now());
                }
            }
            Happened::Dht(id, Done::Stored(stored, refused, failed), _) => {
                let seq = publisher.seq();
                if publisher.on_stored(id, stored) {
                    let spent = progress
                        .reading_started
                        .take()
                        .map_or(0, |b| busy.0.saturating_sub(b));
                    defmt::info!(
                        "reading seq={} published (head stored at {} peers) reading_instructions={}",
                        seq,
                        stored,
                        spent
                    );
                } else if stored == 0 {
                    defmt::warn!(
                        "head {} not stored (refused {}, unanswered {}); again next period",
                        seq,
                        refused,
                        failed
                    );
                }
            }
            Happened::Dht(..) => {}
            Happened::Pushed(id, kept) => {
                let key = peer.identity();
                match busy.time(|| publisher.on_pushed(key, &id, kept)) {
                    Ok(Some(record)) => {
                        let q = busy.time(|| peer.put_record(now(), record));
                        publisher.put_started(q);
                    }
                    Ok(_) if !kept => {
                        defmt::warn!("the node refused entry {}", publisher.seq());
                    }
                    Ok(_) => {}
                    Err(e) => defmt::error!("signing the head: {}", e),
                }
            }
        }
    }
    if !progress.node_pinged && peer.stats().pings_served > 0 {
        progress.node_pinged = true;
        defmt::info!("dht ping from node answered");
    }
    if publisher.on_timeout(now()) {
        defmt::warn!(
            "no answer to the push of entry {}; again next period",
            publisher.seq()
        );
    }
    if peer.is_connected() {
        let t = now();
        let reading = synthetic_reading(publisher.seq());
        let before = busy.0;
        let key = peer.identity();
        match busy.time(|| publisher.take_reading(key, t, reading.as_bytes())) {
            Ok(Some((id, block))) => {
                progress.reading_started = Some(before);
                if !busy.time(|| peer.push_block(id, block)) {
                    publisher.push_failed();
                    defmt::warn!("entry {} not queued; again next period", publisher.seq());
                }
            }
            Ok(_) => {}
            Err(e) => defmt::error!("sealing entry {}: {}", publisher.seq(), e),
        }
    }
    if let Some(readings) = config::READINGS {
        if progress.pinged_node
            && progress.node_pinged
            && publisher.published >= u64::from(readings)
        {
            let s = peer.stats();
            defmt::info!(
                "run complete: readings={} sessions={} refused={} dropped={}",
                publisher.published,
                s.sessions,
                s.refused,
                s.dropped
            );
            return Some(0);
        }
        if now() >= deadline {
            let s = peer.stats();
            defmt::error!(
                "run incomplete after {}s: connected={} pinged_node={} node_pinged={} readings={} refused={} dropped={}",
                RUN_LIMIT.as_secs(),
                peer.is_connected(),
                progress.pinged_node,
                progress.node_pinged,
                publisher.published,
                s.refused,
                s.dropped
            );
            return Some(2);
        }
    }
    None
}

/// The peer, in its static. Outside the async loop: a `Peer` is tens of KiB, and a temporary of
/// the loop's would stay in its frame for the whole run.
#[inline(never)]
fn make_peer(
    identity: KeyPair,
    node: PeerId,
    entropy: [u8; 32],
    now: Instant,
) -> &'static mut Peer {
    static PEER: StaticCell<Peer> = StaticCell::new();
    PEER.init_with(|| Peer::new(identity, node, config::NODE_ADDR, entropy, now))
}

/// The publisher, in its static (it holds an entry block).
#[inline(never)]
fn make_publisher(now: Instant) -> &'static mut Publisher {
    static PUBLISHER: StaticCell<Publisher> = StaticCell::new();
    PUBLISHER.init_with(|| Publisher::new(now, Duration::from_millis(config::PERIOD_MS)))
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, board::NetDevice>) -> ! {
    runner.run().await
}
