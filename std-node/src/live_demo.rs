//! `gofast demo`: a live gofast network on this machine, with a readable report.
//!
//! Several real nodes, each with its own keys and redb block store in a temporary directory,
//! talking over UDP and TCP on 127.0.0.1: they join through one of them, one adds a file, another
//! finds its provider through the DHT alone and fetches it, a third fetches from two providers at
//! once while one of them is killed mid-transfer; two of them share a volume (a write on one is
//! seen on the other) and one pushes a folder to another twice (the second time only the edit
//! travels); then the stores on disk are searched for the file's plaintext. Every claim the
//! report makes is checked first; a failed check is an error.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use gofast_core::crypto::hash::hash;
use rand_core::Rng;

use crate::error::{Error, ErrorKind};
use crate::net::BootstrapPeer;
use crate::node::{Node, NodeOptions};
use crate::rng::os_rng;

/// What the demo runs on.
#[derive(Clone, Debug)]
pub struct Options {
    /// Nodes in the network (at least 4).
    pub nodes: usize,
    /// A file to add instead of random data.
    pub file: Option<PathBuf>,
    /// Bytes of random data otherwise.
    pub size: u64,
}

/// The largest input the demo takes (it keeps one copy in memory to compare).
pub const MAX_DEMO_INPUT: u64 = 1 << 30;

fn check(ok: bool, what: &str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Internal,
            format!("demo check failed: {what}"),
        ))
    }
}

fn io(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("writing the report: {e}"))
}

fn mb_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}

/// Runs the demo, printing the report to `out`.
pub async fn run(opts: &Options, out: &mut impl Write) -> Result<(), Error> {
    if opts.nodes < 4 {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "the demo needs at least 4 nodes",
        ));
    }
    let work = tempfile::tempdir()
        .map_err(|e| Error::new(ErrorKind::Io, format!("making a temporary directory: {e}")))?;
    let (data, what) = match &opts.file {
        Some(p) => {
            let len = std::fs::metadata(p)
                .map_err(|e| Error::file(p, "read", &e))?
                .len();
            if len > MAX_DEMO_INPUT {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{} is {len} bytes; the demo takes at most {MAX_DEMO_INPUT}",
                        p.display()
                    ),
                ));
            }
            (
                std::fs::read(p).map_err(|e| Error::file(p, "read", &e))?,
                p.display().to_string(),
            )
        }
        None => {
            let len = usize::try_from(opts.size.min(MAX_DEMO_INPUT)).unwrap_or(0);
            let mut d = vec![0u8; len];
            os_rng().fill_bytes(&mut d);
            (d, format!("{len} random bytes"))
        }
    };
    let input = work.path().join("input");
    std::fs::write(&input, &data).map_err(|e| Error::file(&input, "write", &e))?;

    writeln!(
        out,
        "gofast demo: a live network of {} nodes on 127.0.0.1",
        opts.nodes
    )
    .map_err(io)?;
    writeln!(
        out,
        "  each node has its own keys and redb block store under {}",
        work.path().display()
    )
    .map_err(io)?;

    // 1. The network.
    let t = Instant::now();
    let mut nodes: Vec<Option<Node>> = Vec::new();
    for i in 0..opts.nodes {
        let dir = work.path().join(format!("node{i}"));
        Node::init(&dir)?;
        nodes.push(Some(Node::start(NodeOptions::new(&dir)).await?));
    }
    let entry = BootstrapPeer {
        peer: None,
        addr: node(&nodes, 0)?.local_addr(),
    };
    for round in 0..2 {
        for i in 1..opts.nodes {
            let found = node(&nodes, i)?.net().add_peer(entry).await?;
            if round == 0 {
                check(found >= 1, "a joining node finds peers")?;
            }
        }
    }
    let mut contacts = Vec::new();
    for n in nodes.iter().flatten() {
        contacts.push(n.net_stats().await?.contacts);
    }
    check(contacts.iter().all(|&c| c >= 2), "every node knows peers")?;
    writeln!(
        out,
        "[1] network up in {} ms: node 0 at {}; the others joined knowing only its address (routing tables: {:?} contacts)",
        t.elapsed().as_millis(),
        node(&nodes, 0)?.local_addr(),
        contacts
    )
    .map_err(io)?;

    // 2. Add on node 1.
    let (a, f, e) = (1, opts.nodes - 1, opts.nodes - 2);
    let t = Instant::now();
    let added = node(&nodes, a)?.add_file(&input, |_| {}).await?;
    let secs = t.elapsed().as_secs_f64();
    check(
        added.size == data.len() as u64,
        "the added size is the input's",
    )?;
    check(added.announced_to >= 1, "the root is announced")?;
    writeln!(
        out,
        "[2] node {a} added {what}: {} encrypted blocks in {:.0} ms ({:.0} MB/s); root announced to {} peers",
        added.blocks,
        secs * 1e3,
        mb_s(added.size, secs),
        added.announced_to
    )
    .map_err(io)?;

    // 3. Node f finds the provider through the DHT alone and fetches.
    let t = Instant::now();
    let dest_f = work.path().join("got-by-f");
    let got = node(&nodes, f)?
        .get_to_file(&added.root, "demo", &dest_f, |_| {})
        .await?;
    let secs = t.elapsed().as_secs_f64();
    let same =
        hash(&std::fs::read(&dest_f).map_err(|e| Error::file(&dest_f, "read", &e))?) == hash(&data);
    check(same, "the fetched file is byte-identical")?;
    check(got.providers >= 1, "the DHT named a provider")?;
    writeln!(
        out,
        "[3] node {f} asked the DHT who provides the root ({} provider), fetched {} blocks and verified each by its id: byte-identical, {:.0} ms ({:.0} MB/s)",
        got.providers,
        got.fetch.progress.received,
        secs * 1e3,
        mb_s(got.size, secs)
    )
    .map_err(io)?;

    // 4. Node f provides too (a node announces what it fetched); node e fetches from both, and f
    // is killed mid-transfer.
    let kill = node(&nodes, f)?.serving_abort_handle();
    let killed = Arc::new(AtomicBool::new(false));
    let k2 = Arc::clone(&killed);
    let total_blocks = added.blocks;
    let t = Instant::now();
    let dest_e = work.path().join("got-by-e");
    let got = node(&nodes, e)?
        .get_to_file(&added.root, "demo", &dest_e, move |p| {
            if !k2.load(Ordering::Relaxed) && p.received * 10 >= total_blocks * 3 {
                kill.abort();
                k2.store(true, Ordering::Relaxed);
            }
        })
        .await?;
    let secs = t.elapsed().as_secs_f64();
    let same =
        hash(&std::fs::read(&dest_e).map_err(|e| Error::file(&dest_e, "read", &e))?) == hash(&data);
    check(same, "the resumed fetch is byte-identical")?;
    let from: Vec<String> = got
        .fetch
        .delivered
        .iter()
        .map(|(p, n)| format!("{n} from {}", p.short()))
        .collect();
    writeln!(
        out,
        "[4] node {f} became a second provider by fetching; node {e} fetched from {} providers at once; node {f} was killed after {} blocks and the fetch finished from the others{}: byte-identical, {:.0} ms ({})",
        got.providers,
        total_blocks * 3 / 10,
        if got.fetch.lost.is_empty() { " (its connection closed only after the others had sent the rest)" } else { "" },
        secs * 1e3,
        from.join(", ")
    )
    .map_err(io)?;
    check(
        killed.load(Ordering::Relaxed) || total_blocks < 4,
        "the provider was killed mid-transfer",
    )?;

    // 5. A volume on two devices: a write on one is seen on the other.
    let (va, ve) = (node(&nodes, a)?, node(&nodes, e)?);
    va.volumes().create("home").await?;
    va.volumes()
        .put_bytes("home", "/notes.txt", b"first".to_vec())
        .await?;
    let cap = va.volumes().capability("home").await?;
    ve.volumes().join("home", &cap).await?;
    va.volumes().add_device("home", ve.peer_id()).await?;
    let mut events = ve.subscribe();
    let t = Instant::now();
    let written = va
        .volumes()
        .put_bytes("home", "/notes.txt", b"second, from node a".to_vec())
        .await?
        .ok_or_else(|| Error::new(ErrorKind::Internal, "the write made no snapshot"))?;
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Ok(crate::events::NodeEvent::VolumeChanged { snapshot, .. })
                    if snapshot == written.at.0.id =>
                {
                    return true;
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return false,
            }
        }
    })
    .await
    .unwrap_or(false);
    let ms = t.elapsed().as_millis();
    check(seen, "the other device takes the write in")?;
    let read = ve.volumes().read("home", "/notes.txt", None).await?;
    check(
        read == b"second, from node a",
        "the other device reads the write",
    )?;
    writeln!(
        out,
        "[5] nodes {a} and {e} share a volume: a write on node {a} was pushed to node {e}, fetched and readable there {ms} ms after it began"
    )
    .map_err(io)?;

    // 6. A folder pushed twice: the second time only the edited chunk travels.
    let album = work.path().join("album");
    std::fs::create_dir_all(&album).map_err(|e| Error::file(&album, "create", &e))?;
    for i in 0..4 {
        let mut d = vec![0u8; 1 << 20];
        os_rng().fill_bytes(&mut d);
        let p = album.join(format!("photo{i}.raw"));
        std::fs::write(&p, &d).map_err(|e| Error::file(&p, "write", &e))?;
        // Photos taken an hour ago. Files written moments before a push are read again by the
        // next one (their time may not show a rewrite within the same clock tick).
        std::fs::File::options()
            .write(true)
            .open(&p)
            .and_then(|f| f.set_modified(SystemTime::now() - Duration::from_secs(3600)))
            .map_err(|e| Error::file(&p, "set the time of", &e))?;
    }
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).map_err(|e| Error::file(&inbox, "create", &e))?;
    ve.tree_pushes().allow(va.peer_id(), &inbox)?;
    let first = va
        .push_tree(&album, ve.peer_id(), "album", false, |_| {})
        .await?;
    let edited = album.join("photo2.raw");
    let mut d = std::fs::read(&edited).map_err(|e| Error::file(&edited, "read", &e))?;
    let mut patch = vec![0u8; 4096];
    os_rng().fill_bytes(&mut patch);
    d.splice(500_000..500_000 + patch.len(), patch);
    std::fs::write(&edited, &d).map_err(|e| Error::file(&edited, "write", &e))?;
    let t = Instant::now();
    let second = va
        .push_tree(&album, ve.peer_id(), "album", false, |_| {})
        .await?;
    let secs = t.elapsed().as_secs_f64();
    let copy = inbox.join("album").join("photo2.raw");
    let same = std::fs::read(&copy).map_err(|e| Error::file(&copy, "read", &e))? == d;
    check(same, "the pushed copy is the edited file")?;
    check(
        second.read == 1 && second.answer.written == 1,
        "the second push reads and writes only the edited file",
    )?;
    check(
        second.answer.received * 4 < first.answer.received,
        "the second push moves only a few blocks",
    )?;
    writeln!(
        out,
        "[6] node {a} pushed a folder of 4 MiB to node {e} ({} blocks); 4 KiB of one file edited, pushed again: 1 file read, {} blocks moved, {:.0} ms",
        first.answer.received,
        second.answer.received,
        secs * 1e3
    )
    .map_err(io)?;

    // 7. At rest: no plaintext in any store.
    for n in nodes.iter_mut() {
        if let Some(node) = n.take() {
            node.shutdown().await?;
        }
    }
    let (files, bytes, found) = search_stores(work.path(), &data)?;
    check(found == 0, "no plaintext of the file in the stores")?;
    writeln!(
        out,
        "[7] every node stopped; their stores ({files} files, {bytes} bytes) hold no 32-byte piece of the file's plaintext (searched for 64 pieces)"
    )
    .map_err(io)?;
    writeln!(out, "demo: all checks passed").map_err(io)?;
    Ok(())
}

fn node(nodes: &[Option<Node>], i: usize) -> Result<&Node, Error> {
    nodes
        .get(i)
        .and_then(Option::as_ref)
        .ok_or_else(|| Error::new(ErrorKind::Internal, format!("demo node {i} is gone")))
}

/// Searches every file of every store for 64 pieces of `data`; returns (files, bytes, hits).
fn search_stores(dir: &std::path::Path, data: &[u8]) -> Result<(u64, u64, u64), Error> {
    let pieces: Vec<&[u8]> = (0..64)
        .filter_map(|i| {
            let at = data.len().saturating_sub(32) * i / 64;
            data.get(at..at + 32)
        })
        .collect();
    let (mut files, mut bytes, mut hits) = (0u64, 0u64, 0u64);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::file(&d, "list", &e))?;
        for entry in entries.flatten() {
            let p = entry.path();
            let name = entry.file_name();
            if p.is_dir() {
                stack.push(p);
            } else if d != dir && !name.to_string_lossy().starts_with("got-") {
                // Only inside node directories: the input and the fetched copies are plaintext.
                let content = std::fs::read(&p).map_err(|e| Error::file(&p, "read", &e))?;
                files += 1;
                bytes += content.len() as u64;
                hits += count_pieces(&content, &pieces);
            }
        }
    }
    Ok((files, bytes, hits))
}

/// How many windows of `content` equal one of `pieces` (32 bytes each). A table of the pieces'
/// first two bytes keeps the scan to one lookup per byte.
fn count_pieces(content: &[u8], pieces: &[&[u8]]) -> u64 {
    let mut first = vec![false; 1 << 16];
    for p in pieces {
        if let (Some(&a), Some(&b)) = (p.first(), p.get(1))
            && let Some(slot) = first.get_mut(usize::from(a) << 8 | usize::from(b))
        {
            *slot = true;
        }
    }
    content
        .windows(32)
        .filter(|w| {
            let key = usize::from(w.first().copied().unwrap_or(0)) << 8
                | usize::from(w.get(1).copied().unwrap_or(0));
            first.get(key).copied().unwrap_or(false) && pieces.contains(w)
        })
        .count() as u64
}
