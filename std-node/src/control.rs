//! The local control API: how the `gofast` command (and later the web UI) talks to a running node.
//!
//! A Unix socket in the node's data directory (`control.sock`, mode 0600, in a directory closed to
//! other users: 0700): the file system's permissions are the access control, so there is no token
//! to leak. One JSON object per line.
//! A request is `{"op": …, …}`; the node answers with any number of `{"progress": …}` lines and
//! then one `{"ok": …}` or `{"error": {"kind": …, "message": …}}` line, then closes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::error::{Error, ErrorKind};
use crate::node::{CAT_PIN, Node, RootUri, parse_root_uri, parse_uri};

/// The socket's file name in the data directory.
pub const SOCKET: &str = "control.sock";
/// Longest request line accepted.
const MAX_REQUEST: usize = 64 * 1024;
/// Longest reply line read (the `ls` of a node with very many pins is the long one).
const MAX_REPLY: usize = 64 << 20;
/// Control connections served at once.
const MAX_CLIENTS: usize = 64;

/// A request to the node.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Add a file or a directory (an absolute path, read by the node).
    Add {
        /// The file.
        path: PathBuf,
    },
    /// Fetch a root and write its data to `dest` (an absolute path, written by the node).
    Get {
        /// `gofast:gfb1…`.
        uri: String,
        /// Where to write.
        dest: PathBuf,
    },
    /// Fetch a file's root and send its data on the connection: after the `{"ok": {"size": N}}`
    /// line come exactly N raw bytes (fewer if the node fails part-way), and the node closes the
    /// connection once the cat's own pin is gone. Nothing is written to disk but the blocks.
    Cat {
        /// `gofast:gfb1…`.
        uri: String,
    },
    /// Pin a held root under a label.
    Pin {
        /// The root.
        uri: String,
        /// The label.
        label: String,
    },
    /// Remove a pin.
    Unpin {
        /// The label.
        label: String,
    },
    /// The pins.
    Ls,
    /// The routing table's peers.
    Peers,
    /// Counters.
    Stats,
    /// Give back the space of blocks nothing holds.
    Gc,
    /// Read a publisher's stream (a sensor's): the newest `limit` entries, checked.
    StreamCat {
        /// The publisher's `gfp1…` id.
        publisher: String,
        /// The stream's name.
        name: String,
        /// Most entries to read.
        limit: usize,
    },
    /// The node's events, one `Event` line each as they happen, until the caller hangs up.
    Watch,
    /// Mirror a folder and a volume both ways until the caller hangs up; one `Event` line per pass
    /// that moved files (`{"event": "pass", "uploaded": [...], ...}`).
    SyncDir {
        /// The folder (absolute).
        dir: PathBuf,
        /// The volume.
        volume: String,
    },
    /// A volume operation (`gofast fs …`).
    Fs(crate::fs_control::FsRequest),
    /// A tree push, pull or allow-list change (`gofast push`, `pull`, `push-allow`).
    Tree(crate::tree_control::TreeRequest),
    /// Stop the node.
    Shutdown,
}

/// One line of an answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Work in progress: `done` of `total` (bytes; total unknown until known).
    Progress {
        /// Done so far.
        done: u64,
        /// The whole, if known.
        total: Option<u64>,
    },
    /// An event (`Watch` only; see [`crate::watch::event_json`]).
    Event(serde_json::Value),
    /// The result.
    Ok(serde_json::Value),
    /// The failure.
    Error {
        /// The kind, as in [`ErrorKind`]'s names.
        kind: String,
        /// For people.
        message: String,
    },
}

/// Serves the control socket of `node` in `data_dir` until a shutdown request; returns then.
/// `ready` runs once the socket accepts connections.
pub async fn serve(node: Arc<Node>, data_dir: &Path, ready: impl FnOnce()) -> Result<(), Error> {
    let path = data_dir.join(SOCKET);
    // A socket file left by a node that crashed: nobody answers on it, so it is replaced.
    if path.exists() {
        if UnixStream::connect(&path).await.is_ok() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("a node is already running in {}", data_dir.display()),
            ));
        }
        let _ = std::fs::remove_file(&path);
    }
    // The directory is the access control: closed to others before the socket appears in it, so
    // there is no moment in which another user could connect (the socket's own mode follows).
    restrict_dir(data_dir)?;
    let listener = UnixListener::bind(&path).map_err(|e| Error::file(&path, "listen on", &e))?;
    set_private(&path)?;
    ready();
    let (stop_tx, mut stop_rx) = mpsc::channel::<()>(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    debug!("control connection refused: at the bound");
                    continue;
                };
                let (node, stop) = (Arc::clone(&node), stop_tx.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    if let Err(e) = client(node, stream, stop).await {
                        debug!(error = %e, "control connection");
                    }
                });
            }
            _ = stop_rx.recv() => break,
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// Makes `dir` reachable by its owner only (0700) if it is not already.
#[cfg(unix)]
fn restrict_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)
        .map_err(|e| Error::file(dir, "read", &e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::info!(dir = %dir.display(), "closing the data directory to other users (0700)");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::file(dir, "restrict", &e))?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_private(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::file(path, "restrict", &e))
}

async fn client(
    node: Arc<Node>,
    stream: UnixStream,
    stop: mpsc::Sender<()>,
) -> Result<(), std::io::Error> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd).take(MAX_REQUEST as u64);
    let mut line = String::new();
    rd.read_line(&mut line).await?;
    let (tx, mut rx) = mpsc::channel::<Reply>(64);
    // Raw data after the final reply (`cat` only).
    let (data_tx, mut data_rx) = mpsc::channel::<Vec<u8>>(DATA_QUEUE);
    let request: Result<Request, _> = serde_json::from_str(&line);
    let stopping = matches!(request, Ok(Request::Shutdown));
    let events_only = matches!(request, Ok(Request::Watch | Request::SyncDir { .. }));
    let streaming = matches!(
        request,
        Ok(Request::Cat { .. }
            | Request::Watch
            | Request::SyncDir { .. }
            | Request::Fs(crate::fs_control::FsRequest::Cat { .. }))
    );
    let work = tokio::spawn(async move {
        let reply = match request {
            Ok(Request::Shutdown) => Reply::Ok(serde_json::json!({"stopping": true})),
            Ok(Request::Cat { uri }) => {
                cat(&node, &uri, tx, data_tx).await;
                return;
            }
            Ok(Request::SyncDir { dir, volume }) => {
                sync_dir(&node, &dir, &volume, tx).await;
                return;
            }
            Ok(Request::Watch) => {
                let mut events = node.subscribe();
                loop {
                    let reply = match events.recv().await {
                        Ok(e) => Reply::Event(crate::watch::event_json(&e)),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            Reply::Event(serde_json::json!({"event": "missed", "count": n}))
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    };
                    if tx.send(reply).await.is_err() {
                        return;
                    }
                }
            }
            Ok(Request::Fs(crate::fs_control::FsRequest::Cat { volume, path, at })) => {
                fs_cat(&node, &volume, &path, at.as_deref(), tx, data_tx).await;
                return;
            }
            Ok(r) => match handle(&node, r, tx.clone()).await {
                Ok(v) => Reply::Ok(v),
                Err(e) => error_reply(&e),
            },
            Err(e) => error_reply(&Error::new(
                ErrorKind::InvalidInput,
                format!("not a control request: {e}"),
            )),
        };
        let _ = tx.send(reply).await;
    });
    // An event stream (watch, sync) runs until its caller hangs up, which it may do while no event
    // is due: its end of the socket closing is watched too.
    let hung_up = async {
        let mut byte = [0u8; 1];
        loop {
            match rd.read(&mut byte).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let sent = async {
        let mut ok = false;
        while let Some(reply) = rx.recv().await {
            let mut text = serde_json::to_string(&reply).unwrap_or_else(|_| "{}".to_owned());
            text.push('\n');
            wr.write_all(text.as_bytes()).await?;
            if !matches!(reply, Reply::Progress { .. } | Reply::Event(_)) {
                ok = matches!(reply, Reply::Ok(_));
                break;
            }
        }
        if ok {
            while let Some(piece) = data_rx.recv().await {
                wr.write_all(&piece).await?;
            }
        }
        Ok::<_, std::io::Error>(())
    };
    let sent = tokio::select! {
        r = sent => r,
        () = hung_up, if events_only => Err(std::io::Error::other("the caller hung up")),
    };
    if let Err(e) = sent {
        // The caller went away. A cat's data had nowhere else to go: it stops. Other work (a get
        // writing its file, an add) finishes, so that no half-written file is left behind.
        if streaming {
            work.abort();
        }
        return Err(e);
    }
    if let Err(e) = work.await {
        warn!(error = %e, "control request task failed");
    }
    // The node stops only once the caller has its answer.
    if stopping {
        wr.flush().await?;
        let _ = stop.send(()).await;
    }
    Ok(())
}

/// Pieces of `cat` data waiting for the socket (256 KiB each).
const DATA_QUEUE: usize = 8;

/// `cat`: fetches (pinned while it is read), answers with the size, then streams the data.
async fn cat(node: &Node, uri: &str, replies: mpsc::Sender<Reply>, data: mpsc::Sender<Vec<u8>>) {
    let root = match parse_root_uri(uri) {
        Ok(r) => r,
        Err(e) => {
            let _ = replies.send(error_reply(&e)).await;
            return;
        }
    };
    // A pin of its own while it is read, so that a crowded cache cannot drop a block midway.
    static CATS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CATS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let label = format!("{CAT_PIN}{} {n}", std::process::id());
    let mut progress = progress_lines(replies.clone());
    let fetched = node
        .fetch_pinned(&root, &label, move |p| progress(p.bytes, p.total_data))
        .await;
    match fetched {
        Ok(size) => {
            let _ = replies
                .send(Reply::Ok(serde_json::json!({ "size": size })))
                .await;
            drop(replies);
            if let Err(e) = node.read_data(&root, data).await {
                // The caller sees the data end early; the reason is here.
                warn!(error = %e, "cat ended before the end of the data");
            }
        }
        Err(e) => {
            let _ = replies.send(error_reply(&e)).await;
        }
    }
    // The blocks stay as cache: read once, kept if asked for again.
    if let Err(e) = node.unpin(&label).await {
        debug!(error = %e, "unpinning after cat");
    }
}

/// `sync DIR VOLUME`: mirrors until the caller hangs up (the task is aborted then) or fails.
#[cfg(feature = "folder-sync")]
async fn sync_dir(node: &Node, dir: &Path, volume: &str, replies: mpsc::Sender<Reply>) {
    let progress = replies.clone();
    let result = node
        .volumes()
        .mirror(volume, dir, move |pass| {
            let _ = progress.try_send(Reply::Event(serde_json::json!({
                "event": "pass",
                "uploaded": pass.uploaded,
                "downloaded": pass.downloaded,
                "removed_here": pass.removed_local,
                "removed_there": pass.removed_remote,
                "conflicts": pass.conflicts,
            })));
        })
        .await;
    let _ = replies
        .send(match result {
            Ok(()) => Reply::Ok(serde_json::json!({})),
            Err(e) => error_reply(&e),
        })
        .await;
}

/// Without the folder sync feature: refused.
#[cfg(not(feature = "folder-sync"))]
async fn sync_dir(_: &Node, _: &Path, _: &str, replies: mpsc::Sender<Reply>) {
    let e = Error::new(
        ErrorKind::InvalidInput,
        "this build has no folder sync (feature folder-sync)",
    );
    let _ = replies.send(error_reply(&e)).await;
}

/// `fs cat`: answers with the size, then streams the file's data from the store as `cat` does
/// (a volume's tree is held whole, so nothing is fetched).
async fn fs_cat(
    node: &Node,
    volume: &str,
    path: &str,
    at: Option<&str>,
    replies: mpsc::Sender<Reply>,
    data: mpsc::Sender<Vec<u8>>,
) {
    match node.volumes().file(volume, path, at).await {
        Ok((target, size)) => {
            let _ = replies
                .send(Reply::Ok(serde_json::json!({ "size": size })))
                .await;
            drop(replies);
            if let Err(e) = node.read_data(&target, data).await {
                warn!(error = %e, "fs cat ended before the end of the data");
            }
        }
        Err(e) => {
            let _ = replies.send(error_reply(&e)).await;
        }
    }
}

fn error_reply(e: &Error) -> Reply {
    Reply::Error {
        kind: format!("{:?}", e.kind()),
        message: e.message().to_owned(),
    }
}

/// Progress lines at most this often, besides the first and the last. A get reports every block
/// (50,000 a GiB): a line each cost the node a socket write and the CLI a parse and a redraw, on
/// the cores that do the transfer.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// Which progress reports become lines: the first, the first with something done, the last
/// (`done == total`), and otherwise one per [`PROGRESS_EVERY`].
#[derive(Debug, Default)]
struct ProgressThrottle {
    last: Option<std::time::Instant>,
    /// Whether a line with something done went out.
    started: bool,
}

impl ProgressThrottle {
    fn due(&mut self, now: std::time::Instant, done: u64, total: Option<u64>) -> bool {
        // The first byte is news however soon after a line of nothing it comes (a get's first
        // line, sent before its first block, once held that back by the whole interval).
        let first_done = done > 0 && !self.started;
        let due = first_done
            || total == Some(done)
            || self
                .last
                .is_none_or(|last| now.saturating_duration_since(last) >= PROGRESS_EVERY);
        if due {
            self.last = Some(now);
            self.started |= done > 0;
        }
        due
    }
}

/// A progress callback that sends `{"progress": …}` lines through `replies`, throttled. A full
/// queue drops the line: progress is advisory, and the final reply says where the work ended.
fn progress_lines(replies: mpsc::Sender<Reply>) -> impl FnMut(u64, Option<u64>) + Send + 'static {
    let mut throttle = ProgressThrottle::default();
    move |done, total| {
        if throttle.due(std::time::Instant::now(), done, total) {
            let _ = replies.try_send(Reply::Progress { done, total });
        }
    }
}

async fn handle(
    node: &Node,
    request: Request,
    progress: mpsc::Sender<Reply>,
) -> Result<serde_json::Value, Error> {
    use serde_json::json;
    match request {
        Request::Add { path } => {
            // A directory's total is not known until it has been walked.
            let total = std::fs::metadata(&path)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            let mut progress = progress_lines(progress);
            let report = node
                .add_path(&path, move |done| progress(done, total))
                .await?;
            Ok(json!({
                "uri": report.uri(),
                "size": report.size,
                "blocks": report.blocks,
                "announced_to": report.announced_to,
                "files": report.files,
                "skipped": report.skipped.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            }))
        }
        Request::Get { uri, dest } => {
            let uri = parse_uri(&uri)?;
            let label = dest.file_name().map_or_else(
                || "fetched".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
            let report = if uri.dir {
                node.get_dir(
                    &uri.root,
                    &format!("{label}/"),
                    &dest,
                    progress_lines(progress),
                )
                .await?
            } else {
                let mut progress = progress_lines(progress);
                node.get_to_file(&uri.root, &label, &dest, move |p| {
                    progress(p.bytes, p.total_data);
                })
                .await?
            };
            Ok(json!({
                "size": report.size,
                "providers": report.providers,
                "blocks_fetched": report.fetch.progress.received,
                "penalised": report.fetch.penalised.len(),
                "lost": report.fetch.lost.len(),
                "unreached": report.fetch.unreached.len(),
            }))
        }
        Request::Pin { uri, label } => {
            let uri = parse_uri(&uri)?;
            // A directory's pin label ends with `/`, which is how `ls` tells the two apart.
            let blocks = match (uri.dir, label.ends_with('/')) {
                (true, true) => node.pin_dir(&label, &uri.root).await?,
                (true, false) => node.pin_dir(&format!("{label}/"), &uri.root).await?,
                (false, false) => node.pin(&label, &uri.root).await?,
                (false, true) => {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        "labels ending with / are for directories: choose another label",
                    ));
                }
            };
            Ok(json!({ "blocks": blocks }))
        }
        Request::Unpin { label } => {
            if node.unpin(&label).await? {
                Ok(json!({ "removed": label }))
            } else {
                Err(Error::new(
                    ErrorKind::NotFound,
                    format!("no pin named {label:?}; `gofast ls` lists them"),
                ))
            }
        }
        Request::Ls => {
            let pins = node.pins().await?;
            Ok(serde_json::Value::Array(
                pins.iter()
                    .map(|p| {
                        let uri = RootUri {
                            root: p.root.clone(),
                            dir: p.label.ends_with('/'),
                        };
                        json!({ "label": p.label, "uri": uri.to_string(), "blocks": p.blocks })
                    })
                    .collect(),
            ))
        }
        Request::Peers => {
            let peers = node.peers().await?;
            Ok(serde_json::Value::Array(
                peers
                    .iter()
                    .map(|p| json!({ "peer": p.peer.to_string(), "addr": p.addr.to_string(), "connected": p.connected }))
                    .collect(),
            ))
        }
        Request::Stats => {
            let s = node.store_stats().await?;
            let n = node.net_stats().await?;
            Ok(json!({
                "peer": node.peer_id().to_string(),
                "addr": node.local_addr().to_string(),
                "permanent_blocks": s.permanent.blocks,
                "permanent_bytes": s.permanent.bytes,
                "cache_blocks": s.cache.blocks,
                "cache_bytes": s.cache.bytes,
                "cache_quota": s.cache_quota,
                "pins": s.pins,
                "reclaimable_bytes": s.reclaimable_bytes,
                "sessions": n.sessions,
                "contacts": n.contacts,
                "datagrams_in": n.datagrams_in,
                "datagrams_out": n.datagrams_out,
                "udp_bytes_in": n.bytes_in,
                "udp_bytes_out": n.bytes_out,
                "exchange_bytes_in": crate::exchange::exchange_traffic().0,
                "exchange_bytes_out": crate::exchange::exchange_traffic().1,
                "pushes_stored": n.pushes_stored,
                "pushes_refused": n.pushes_refused,
                "records_pushed_in": n.records_pushed_in,
                "records_dropped": n.records_dropped,
            }))
        }
        Request::StreamCat {
            publisher,
            name,
            limit,
        } => {
            let publisher: gofast_core::identity::PeerId = publisher.parse().map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("publisher {publisher:?}: {e}"),
                )
            })?;
            let read = node.read_stream(publisher, &name, limit).await?;
            Ok(json!({
                "head_seq": read.head_seq,
                "missing_before": read.missing_before,
                "readings": read.readings.iter().map(|r| json!({
                    "seq": r.seq,
                    "time_ms": r.time_ms,
                    "block": r.block.to_string(),
                    "reading": String::from_utf8_lossy(&r.reading),
                })).collect::<Vec<_>>(),
            }))
        }
        Request::Fs(fs) => {
            let total = match &fs {
                crate::fs_control::FsRequest::Put { local, .. } => {
                    std::fs::metadata(local).ok().map(|m| m.len())
                }
                _ => None,
            };
            let mut progress = progress_lines(progress);
            crate::fs_control::handle(node, fs, move |done| progress(done, total)).await
        }
        Request::Tree(tree) => {
            let mut progress = progress_lines(progress);
            crate::tree_control::handle(node, tree, move |done| progress(done, None)).await
        }
        Request::Gc => {
            let r = node.gc().await?;
            Ok(json!({
                "demoted": r.demoted,
                "evicted_blocks": r.evicted_blocks,
                "evicted_bytes": r.evicted_bytes,
                "arenas_compacted": r.arenas_compacted,
                "reclaimed_bytes": r.reclaimed_bytes,
            }))
        }
        Request::Shutdown => Ok(json!({})),
        // Served by `cat` in `client` (it streams data after its reply).
        Request::Cat { .. } | Request::Watch | Request::SyncDir { .. } => Err(Error::new(
            ErrorKind::Internal,
            "cat, watch and sync are streamed",
        )),
    }
}

/// Sends `request` to the node of `data_dir`; `on_progress` sees progress lines. Returns the
/// result value.
pub async fn call(
    data_dir: &Path,
    request: &Request,
    on_progress: impl FnMut(u64, Option<u64>),
) -> Result<serde_json::Value, Error> {
    let (value, _) = exchange(data_dir, request, on_progress).await?;
    Ok(value)
}

/// `cat` through the node of `data_dir`: the data of `uri` goes to `out` as it comes. Returns the
/// bytes written; data that ends before the size the node announced is an error.
pub async fn cat_to(
    data_dir: &Path,
    uri: &str,
    on_progress: impl FnMut(u64, Option<u64>),
    out: &mut (impl std::io::Write + ?Sized),
) -> Result<u64, Error> {
    let request = Request::Cat {
        uri: uri.to_owned(),
    };
    stream_to(data_dir, &request, on_progress, out).await
}

/// Sends a streaming request (`Cat`, `Fs(Cat)`) to the node of `data_dir`; the data goes to `out`
/// as it comes. Returns the bytes written; data that ends before the size the node announced is
/// an error.
pub async fn stream_to(
    data_dir: &Path,
    request: &Request,
    on_progress: impl FnMut(u64, Option<u64>),
    out: &mut (impl std::io::Write + ?Sized),
) -> Result<u64, Error> {
    let (value, mut rest) = exchange(data_dir, request, on_progress).await?;
    let size = value["size"]
        .as_u64()
        .ok_or_else(|| Error::new(ErrorKind::Internal, "the node sent no size"))?;
    let mut left = size;
    let mut buf = vec![0u8; 256 << 10];
    while left > 0 {
        let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = rest
            .read(buf.get_mut(..want).unwrap_or_default())
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("control socket: {e}")))?;
        if n == 0 {
            return Err(Error::new(
                ErrorKind::Io,
                format!("the data ended after {} of {size} bytes", size - left),
            ));
        }
        out.write_all(buf.get(..n).unwrap_or_default())
            .map_err(|e| Error::new(ErrorKind::Io, format!("writing the data: {e}")))?;
        left -= n as u64;
    }
    // The node closes the connection once the cat's work is over (its pin dropped), so that what
    // the caller does next sees no trace of it. More data than announced is an error.
    let n = rest
        .read(&mut buf)
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("control socket: {e}")))?;
    if n != 0 {
        return Err(Error::new(
            ErrorKind::Io,
            format!("the node sent more than the {size} bytes it announced"),
        ));
    }
    Ok(size)
}

/// Sends `request`, reads progress lines and the final reply; returns the result value and the
/// connection's reader (positioned after that reply's line, for data that follows it).
async fn exchange(
    data_dir: &Path,
    request: &Request,
    mut on_progress: impl FnMut(u64, Option<u64>),
) -> Result<
    (
        serde_json::Value,
        BufReader<tokio::net::unix::OwnedReadHalf>,
    ),
    Error,
> {
    let (mut reader, _wr) = send_request(data_dir, request).await?;
    loop {
        let reply = read_reply(&mut reader).await?;
        match reply {
            Reply::Progress { done, total } => on_progress(done, total),
            // Only event streams (`Watch`, `SyncDir`) send events; `stream_events` reads them.
            Reply::Event(_) => {}
            Reply::Ok(v) => return Ok((v, reader)),
            Reply::Error { kind, message } => return Err(Error::new(kind_from(&kind), message)),
        }
    }
}

/// Watches the node of `data_dir`: `on_event` gets each event as it happens, until it returns
/// `false` (the connection is then closed).
pub async fn watch(
    data_dir: &Path,
    on_event: impl FnMut(&serde_json::Value) -> bool,
) -> Result<(), Error> {
    stream_events(data_dir, &Request::Watch, on_event).await
}

/// Sends a request that answers with `Event` lines (`Watch`, `SyncDir`); `on_event` gets each
/// until it returns `false` (the connection is then closed) or the node ends the request.
pub async fn stream_events(
    data_dir: &Path,
    request: &Request,
    mut on_event: impl FnMut(&serde_json::Value) -> bool,
) -> Result<(), Error> {
    let (mut reader, _wr) = send_request(data_dir, request).await?;
    loop {
        match read_reply(&mut reader).await? {
            Reply::Event(v) => {
                if !on_event(&v) {
                    return Ok(());
                }
            }
            Reply::Error { kind, message } => return Err(Error::new(kind_from(&kind), message)),
            Reply::Ok(_) => return Ok(()),
            Reply::Progress { .. } => {}
        }
    }
}

/// Connects to the node of `data_dir` and sends `request`: the connection's reading half (for
/// the answer) and writing half (kept open while the caller listens).
async fn send_request(
    data_dir: &Path,
    request: &Request,
) -> Result<
    (
        BufReader<tokio::net::unix::OwnedReadHalf>,
        tokio::net::unix::OwnedWriteHalf,
    ),
    Error,
> {
    let path = data_dir.join(SOCKET);
    let stream = UnixStream::connect(&path).await.map_err(|_| {
        Error::new(
            ErrorKind::Stopped,
            format!(
                "no node is running in {}: start one with `gofast up` (in another terminal)",
                data_dir.display()
            ),
        )
    })?;
    let (rd, mut wr) = stream.into_split();
    let mut text = serde_json::to_string(request)
        .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
    text.push('\n');
    wr.write_all(text.as_bytes())
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("control socket: {e}")))?;
    Ok((BufReader::new(rd), wr))
}

/// The next line of an answer.
async fn read_reply(
    reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
) -> Result<Reply, Error> {
    let mut line = String::new();
    let n = reader
        .take(MAX_REPLY as u64)
        .read_line(&mut line)
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("control socket: {e}")))?;
    if n == 0 {
        return Err(Error::new(
            ErrorKind::Stopped,
            "the node closed the connection",
        ));
    }
    serde_json::from_str(&line)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("bad reply from the node: {e}")))
}

fn kind_from(name: &str) -> ErrorKind {
    match name {
        "InvalidInput" => ErrorKind::InvalidInput,
        "NotFound" => ErrorKind::NotFound,
        "AlreadyExists" => ErrorKind::AlreadyExists,
        "Io" => ErrorKind::Io,
        "Network" => ErrorKind::Network,
        "Busy" => ErrorKind::Busy,
        "Corrupt" => ErrorKind::Corrupt,
        "Stopped" => ErrorKind::Stopped,
        _ => ErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn progress_lines_are_the_first_the_last_and_one_per_interval() {
        let mut t = ProgressThrottle::default();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(t.due(at(0), 1, Some(100)), "the first report is a line");
        assert!(!t.due(at(1), 2, Some(100)), "within the interval: dropped");
        assert!(!t.due(at(49), 3, Some(100)));
        assert!(t.due(at(50), 4, Some(100)), "an interval later: a line");
        assert!(!t.due(at(51), 5, Some(100)));
        assert!(
            t.due(at(52), 100, Some(100)),
            "the last report is always a line"
        );
        // An unknown total has no last report: the interval alone decides.
        let mut u = ProgressThrottle::default();
        assert!(u.due(at(0), 1, None));
        assert!(!u.due(at(10), 2, None));
        assert!(u.due(at(60), 3, None));
        // A clock that went backwards does not stop the lines for good.
        assert!(!u.due(at(5), 4, None));
        assert!(u.due(at(200), 5, None));
        // A line of nothing done does not hold back the first with something done.
        let mut v = ProgressThrottle::default();
        assert!(v.due(at(0), 0, Some(100)));
        assert!(!v.due(at(1), 0, Some(100)));
        assert!(v.due(at(2), 1, Some(100)), "the first with something done");
        assert!(!v.due(at(3), 2, Some(100)));
    }
}
