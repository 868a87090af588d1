//! The `gofast` command.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use gofast_node::control::{self, Request};
use gofast_node::error::{Error, ErrorKind};
use gofast_node::net::BootstrapPeer;
use gofast_node::node::{Node, NodeOptions};
use gofast_node::{demo, live_demo};
use indicatif::{ProgressBar, ProgressStyle};

mod fs;
mod tree;

const EXIT_CODES: &str = "\
Exit codes: 0 success; 1 failure (the message says why and what to do); 2 wrong command line or
input; 3 not found; 4 no node running in the data directory; 5 network (no provider, no peers);
6 corrupt data.";

#[derive(Parser)]
#[command(
    name = "gofast",
    version,
    about = "gofast: an encrypted, censorship-resistant peer-to-peer network",
    after_help = EXIT_CODES
)]
struct Cli {
    /// The node's directory (keys and block store). Default: $XDG_DATA_HOME/gofast or
    /// ~/.local/share/gofast.
    #[arg(long, global = true, env = "GOFAST_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a node: its identity and keys, in the data directory.
    Init,
    /// Run the node in the foreground (logs on stderr; stop with Ctrl-C or `gofast stop`).
    Up {
        /// Address for UDP (sessions, DHT) and TCP (block exchange). 0.0.0.0 makes the node
        /// reachable from other machines.
        #[arg(long, default_value = "127.0.0.1:0", value_name = "IP:PORT")]
        listen: SocketAddr,
        /// A peer to join through: `gfp1…@IP:PORT`, or just `IP:PORT`. Repeatable.
        #[arg(long, value_name = "PEER")]
        bootstrap: Vec<BootstrapPeer>,
        /// Bytes of other people's blocks to cache (default: a tenth of the free disk space).
        #[arg(long, value_name = "BYTES")]
        cache_quota: Option<u64>,
        /// A device (`gfp1…`) whose pushed stream entries this node keeps. Repeatable.
        #[arg(long, value_name = "PEER")]
        accept_pushes_from: Vec<gofast_core::identity::PeerId>,
    },
    /// Add a file or a directory: encrypt it into blocks, keep them, announce it; prints its
    /// gofast: URI (a directory's ends with /). Symbolic links are not followed or added.
    Add {
        /// The file or directory.
        path: PathBuf,
    },
    /// Fetch the data of a gofast: URI into a file (or, for a URI ending with /, a directory).
    Get {
        /// The URI `gofast add` printed.
        uri: String,
        /// Where to write (default: `gofast-<id>` in the current directory).
        dest: Option<PathBuf>,
    },
    /// Fetch the data of a gofast: URI and write it to standard output.
    Cat {
        /// The URI.
        uri: String,
    },
    /// List what this node keeps (its pins).
    Ls,
    /// Keep the data of a URI (already fetched) under a label.
    Pin {
        /// The URI.
        uri: String,
        /// The label.
        #[arg(long)]
        label: String,
    },
    /// Stop keeping a pin's data (it becomes collectable).
    Unpin {
        /// The label `gofast ls` shows.
        label: String,
    },
    /// The peers the node knows.
    Peers,
    /// Counters of the store and the network.
    Stats,
    /// Give back the space of blocks nothing keeps.
    Gc,
    /// Sensor streams.
    #[command(subcommand)]
    Stream(StreamCommand),
    /// Volumes: your own files, mutable, shared by your devices, with their history.
    #[command(subcommand)]
    Fs(fs::FsCommand),
    /// Keep a local folder and a volume the same both ways, watching both, until interrupted:
    /// what Syncthing does, over your own devices. Prints each file moved (`↑` into the volume,
    /// `↓` into the folder, `×` removed, `!` kept both versions of a conflict).
    Sync {
        /// The folder.
        dir: PathBuf,
        /// The volume (`gofast fs create` or `gofast fs join` it first).
        volume: String,
    },
    /// Push a folder to a peer, as rsync does: only the files whose size or time changed since
    /// the last push of the same name are read, and only the chunks the peer lacks travel. The
    /// peer must allow it first (`gofast push-allow`); the folder lands in its folder as <NAME>.
    Push {
        /// The folder.
        dir: PathBuf,
        /// The receiver: `gfp1…@IP:PORT`, or `gfp1…` to find it in the DHT.
        peer: String,
        /// The name it lands under (default: the folder's own name).
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        /// Read every file, not only those whose size or modification time changed.
        #[arg(long)]
        checksum: bool,
        /// Print the result as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Make a folder hold a directory tree (a URI ending with /): fetches only what changed since
    /// the last pull into it and writes only the files that differ.
    Pull {
        /// The directory's URI.
        uri: String,
        /// The folder (created if missing).
        dir: PathBuf,
        /// Fetch from this peer (`gfp1…@IP:PORT`) instead of the providers the DHT names.
        #[arg(long, value_name = "PEER")]
        from: Option<String>,
    },
    /// Let a peer push folders into DIR (`gofast push-allow PEER DIR`), stop it (`--remove
    /// PEER`), or list who may (no arguments).
    PushAllow {
        /// The peer's `gfp1…` id.
        peer: Option<String>,
        /// The folder its pushes land in (each push in DIR/<name>).
        dir: Option<PathBuf>,
        /// Take the peer off the list.
        #[arg(long)]
        remove: bool,
    },
    /// Print the node's events as JSON lines as they happen (peers, adds, volume changes and
    /// conflicts) until interrupted.
    Watch,
    /// Stop the running node.
    Stop,
    /// Start a small live network on this machine and show what it does (the main job).
    Demo {
        /// Show the core alone instead: identities, blocks, verification, records.
        #[arg(long)]
        core: bool,
        /// Use this file instead of random data.
        #[arg(long, value_name = "PATH", conflicts_with = "size")]
        file: Option<PathBuf>,
        /// Bytes of random data.
        #[arg(long, value_name = "BYTES")]
        size: Option<u64>,
        /// Nodes in the live network.
        #[arg(long, default_value_t = 6)]
        nodes: usize,
    },
}

#[derive(Subcommand)]
enum StreamCommand {
    /// Print a publisher's stream, oldest of the newest entries first, one `seq time_ms reading`
    /// line each, every entry's signature, sequence and link checked.
    Cat {
        /// The publisher (the device's `gfp1…` id).
        publisher: String,
        /// The stream's name.
        #[arg(long, default_value = "sensor")]
        name: String,
        /// Most entries to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(cli);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gofast: error: {e}");
            ExitCode::from(exit_code(e.kind()))
        }
    }
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::AlreadyExists => 2,
        ErrorKind::NotFound => 3,
        ErrorKind::Stopped => 4,
        ErrorKind::Network | ErrorKind::Busy => 5,
        ErrorKind::Corrupt => 6,
        ErrorKind::Io | ErrorKind::Internal => 1,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("starting the runtime: {e}")))
}

fn run(cli: Cli) -> Result<(), Error> {
    if let Command::Demo {
        core,
        file,
        size,
        nodes,
    } = &cli.command
    {
        return if *core {
            let source = file.clone().map_or(
                demo::Source::Random(size.unwrap_or(4 << 20)),
                demo::Source::File,
            );
            demo::run(&source, &mut std::io::stdout().lock())
                .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))
        } else {
            init_logs("warn");
            let opts = live_demo::Options {
                nodes: *nodes,
                file: file.clone(),
                size: size.unwrap_or(32 << 20),
            };
            runtime()?.block_on(live_demo::run(&opts, &mut std::io::stdout()))
        };
    }
    let data_dir = match cli.data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let rt = runtime()?;
    match cli.command {
        Command::Init => {
            let peer = Node::init(&data_dir)?;
            println!("created node {peer} in {}", data_dir.display());
            println!("start it with: gofast up");
            Ok(())
        }
        Command::Up {
            listen,
            bootstrap,
            cache_quota,
            accept_pushes_from,
        } => {
            init_logs("info");
            rt.block_on(up(
                &data_dir,
                listen,
                bootstrap,
                cache_quota,
                accept_pushes_from,
            ))
        }
        Command::Fs(cmd) => fs::run(&rt, &data_dir, cmd),
        Command::Sync { dir, volume } => {
            let dir = absolute(&dir)?;
            eprintln!(
                "syncing {} with volume {volume} (Ctrl-C stops)",
                dir.display()
            );
            let request = Request::SyncDir { dir, volume };
            rt.block_on(control::stream_events(&data_dir, &request, |event| {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let list = |key: &str| {
                    event[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect::<Vec<_>>()
                };
                let mut lines = Vec::new();
                for (key, mark) in [
                    ("uploaded", "↑"),
                    ("downloaded", "↓"),
                    ("removed_here", "×"),
                    ("removed_there", "×"),
                    ("conflicts", "!"),
                ] {
                    lines.extend(list(key).into_iter().map(|p| format!("{mark} {p}")));
                }
                lines
                    .iter()
                    .try_for_each(|l| writeln!(out, "{l}"))
                    .and_then(|()| out.flush())
                    .is_ok()
            }))
        }
        Command::Push {
            dir,
            peer,
            name,
            checksum,
            json,
        } => tree::push(&rt, &data_dir, &dir, peer, name, checksum, json),
        Command::Pull { uri, dir, from } => tree::pull(&rt, &data_dir, uri, &dir, from),
        Command::PushAllow { peer, dir, remove } => tree::allow(&rt, &data_dir, peer, dir, remove),
        Command::Watch => rt.block_on(control::watch(&data_dir, |event| {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed stdout (the reader went away) ends the watch.
            writeln!(out, "{event}").and_then(|()| out.flush()).is_ok()
        })),
        Command::Stream(StreamCommand::Cat {
            publisher,
            name,
            limit,
        }) => {
            let v = rt.block_on(control::call(
                &data_dir,
                &Request::StreamCat {
                    publisher,
                    name,
                    limit,
                },
                |_, _| {},
            ))?;
            for r in v["readings"].as_array().into_iter().flatten() {
                println!(
                    "{}\t{}\t{}",
                    r["seq"],
                    r["time_ms"],
                    r["reading"].as_str().unwrap_or_default()
                );
            }
            if let Some(seq) = v["missing_before"].as_u64() {
                eprintln!(
                    "entries up to {seq} are not held by this node (evicted or never pushed)"
                );
            }
            Ok(())
        }
        Command::Add { path } => {
            let path = absolute(&path)?;
            let total = std::fs::metadata(&path)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            let bar = bar(total, "adding");
            let v = rt.block_on(control::call(
                &data_dir,
                &Request::Add { path: path.clone() },
                |done, _| bar.set_position(done),
            ));
            bar.finish_and_clear();
            let v = v?;
            println!("{}", v["uri"].as_str().unwrap_or_default());
            let files = v["files"].as_u64().unwrap_or(1);
            eprintln!(
                "added {} ({} bytes{}, {} blocks; announced to {} peers)",
                path.display(),
                v["size"],
                if files == 1 {
                    String::new()
                } else {
                    format!(" in {files} files")
                },
                v["blocks"],
                v["announced_to"]
            );
            for skipped in v["skipped"].as_array().into_iter().flatten() {
                eprintln!(
                    "left out {} (symbolic links and special files are not added)",
                    skipped.as_str().unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Get { uri, dest } => {
            let root = gofast_node::node::parse_uri(&uri)?.root;
            let dest = match dest {
                Some(d) => absolute(&d)?,
                None => absolute(Path::new(&format!(
                    "gofast-{}",
                    gofast_node::node::short_id(&root.id)
                )))?,
            };
            let v = fetch(&rt, &data_dir, &uri, &dest)?;
            eprintln!(
                "wrote {} ({} bytes; {} blocks fetched from {} providers)",
                dest.display(),
                v["size"],
                v["blocks_fetched"],
                v["providers"]
            );
            Ok(())
        }
        Command::Cat { uri } => {
            gofast_node::node::parse_root_uri(&uri)?;
            // The data comes over the control socket: it never touches the disk as plaintext.
            let mut stdout = std::io::stdout().lock();
            rt.block_on(control::cat_to(&data_dir, &uri, |_, _| {}, &mut stdout))?;
            std::io::Write::flush(&mut stdout)
                .map_err(|e| Error::new(ErrorKind::Io, format!("writing to stdout: {e}")))?;
            Ok(())
        }
        Command::Ls => {
            let v = rt.block_on(control::call(&data_dir, &Request::Ls, |_, _| {}))?;
            for p in v.as_array().into_iter().flatten() {
                println!(
                    "{}\t{}\t{} blocks",
                    p["label"].as_str().unwrap_or_default(),
                    p["uri"].as_str().unwrap_or_default(),
                    p["blocks"]
                );
            }
            Ok(())
        }
        Command::Pin { uri, label } => {
            let v = rt.block_on(control::call(
                &data_dir,
                &Request::Pin { uri, label },
                |_, _| {},
            ))?;
            eprintln!("pinned {} blocks", v["blocks"]);
            Ok(())
        }
        Command::Unpin { label } => {
            rt.block_on(control::call(
                &data_dir,
                &Request::Unpin { label },
                |_, _| {},
            ))?;
            Ok(())
        }
        Command::Peers => {
            let v = rt.block_on(control::call(&data_dir, &Request::Peers, |_, _| {}))?;
            for p in v.as_array().into_iter().flatten() {
                println!(
                    "{}\t{}\t{}",
                    p["peer"].as_str().unwrap_or_default(),
                    p["addr"].as_str().unwrap_or_default(),
                    if p["connected"].as_bool() == Some(true) {
                        "connected"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        Command::Stats => {
            let v = rt.block_on(control::call(&data_dir, &Request::Stats, |_, _| {}))?;
            if let Some(map) = v.as_object() {
                for (k, val) in map {
                    println!(
                        "{k}={}",
                        val.as_str().map_or_else(|| val.to_string(), str::to_owned)
                    );
                }
            }
            Ok(())
        }
        Command::Gc => {
            let v = rt.block_on(control::call(&data_dir, &Request::Gc, |_, _| {}))?;
            println!(
                "{} unpinned blocks became cache; {} cache blocks evicted ({} bytes); {} arenas compacted, {} bytes given back",
                v["demoted"],
                v["evicted_blocks"],
                v["evicted_bytes"],
                v["arenas_compacted"],
                v["reclaimed_bytes"]
            );
            Ok(())
        }
        Command::Stop => {
            rt.block_on(control::call(&data_dir, &Request::Shutdown, |_, _| {}))?;
            eprintln!("stopping");
            Ok(())
        }
        Command::Demo { .. } => Ok(()),
    }
}

async fn up(
    data_dir: &Path,
    listen: SocketAddr,
    bootstrap: Vec<BootstrapPeer>,
    cache_quota: Option<u64>,
    accept_pushes_from: Vec<gofast_core::identity::PeerId>,
) -> Result<(), Error> {
    let mut options = NodeOptions::new(data_dir);
    options.net.listen = listen;
    options.net.bootstrap = bootstrap;
    options.net.accept_pushes_from = accept_pushes_from;
    options.store.cache_quota = match cache_quota {
        Some(q) => q,
        None => match gofast_node::store::cache_quota_for(data_dir) {
            Ok(q) => {
                tracing::info!(
                    cache_quota = q,
                    "cache quota: a tenth of the free disk space (--cache-quota sets another)"
                );
                q
            }
            Err(e) => {
                tracing::warn!(error = %e, "free disk space unknown: the cache quota stays at 1 GiB");
                options.store.cache_quota
            }
        },
    };
    let node = Arc::new(Node::start(options).await?);
    let (peer, addr) = (node.peer_id(), node.local_addr());
    // Two lines a script can wait for and parse, once the node takes commands; the rest goes to
    // the logs.
    let served = control::serve(Arc::clone(&node), data_dir, move || {
        println!("node {peer} listening on {addr}");
        println!("others join with: --bootstrap {peer}@{addr}");
    });
    tokio::select! {
        r = served => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    match Arc::try_unwrap(node) {
        Ok(node) => node.shutdown().await,
        // A control request still holds the node: the process ends anyway, the store's writes
        // were flushed when each finished.
        Err(_) => Ok(()),
    }
}

fn fetch(
    rt: &tokio::runtime::Runtime,
    data_dir: &Path,
    uri: &str,
    dest: &Path,
) -> Result<serde_json::Value, Error> {
    let bar = bar(None, "fetching");
    let v = rt.block_on(control::call(
        data_dir,
        &Request::Get {
            uri: uri.to_owned(),
            dest: dest.to_path_buf(),
        },
        |done, total| {
            if let Some(t) = total {
                bar.set_length(t);
            }
            bar.set_position(done);
        },
    ));
    bar.finish_and_clear();
    v
}

/// A progress bar on stderr (drawn only on a terminal).
fn bar(len: Option<u64>, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(len, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

fn absolute(p: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(p).map_err(|e| Error::file(p, "resolve", &e))
}

fn default_data_dir() -> Result<PathBuf, Error> {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("gofast"));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            "no data directory: set --data-dir or GOFAST_DATA_DIR",
        )
    })?;
    let base = PathBuf::from(home);
    Ok(if cfg!(target_os = "macos") {
        base.join("Library/Application Support/gofast")
    } else {
        base.join(".local/share/gofast")
    })
}

fn init_logs(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
