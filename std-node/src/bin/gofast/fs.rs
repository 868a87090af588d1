//! `gofast fs …`: a volume's operations, through the running node's control socket.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use gofast_node::control::{self, Request};
use gofast_node::error::{Error, ErrorKind};
use gofast_node::fs_control::FsRequest;
use serde_json::Value;

#[derive(Subcommand)]
pub(crate) enum FsCommand {
    /// Make a volume owned by this node (its first device).
    Create {
        /// A local name: 1 to 64 of a-z, 0-9, - and _.
        volume: String,
    },
    /// Print the capability another device joins with (`gfv1…`: a secret, like a key).
    Share {
        /// The volume.
        volume: String,
    },
    /// Join a volume on this device with its capability; the owner then allows this device
    /// (`gofast fs allow`) for its writes to count.
    Join {
        /// The local name to give it.
        volume: String,
        /// `gfv1…`, from `gofast fs share` on a device of the volume; `-` reads it from standard
        /// input (so that it stays out of the process list and the shell's history).
        capability: String,
    },
    /// List the volumes here: name, this device's snapshot, devices.
    Volumes,
    /// Let a device write the volume (the owner only).
    Allow {
        /// The volume.
        volume: String,
        /// The device's `gfp1…` id (`gofast up` prints it).
        device: String,
    },
    /// Stop taking a device's writes and move the volume's keys to a new epoch it is not given,
    /// so it reads nothing written from then on (the owner only).
    Revoke {
        /// The volume.
        volume: String,
        /// The device's `gfp1…` id.
        device: String,
    },
    /// List a directory: `VOLUME:/path` (the root if no path).
    Ls {
        /// `VOLUME:/path`.
        target: String,
        /// As it was at this snapshot (an id from `gofast fs log`).
        #[arg(long)]
        at: Option<String>,
    },
    /// Print a file's data.
    Cat {
        /// `VOLUME:/path`.
        target: String,
        /// As it was at this snapshot.
        #[arg(long)]
        at: Option<String>,
    },
    /// Write a local file into the volume (a new snapshot, pushed to the other devices).
    Put {
        /// The local file.
        local: PathBuf,
        /// `VOLUME:/path`.
        target: String,
    },
    /// Make a directory (and those above it).
    Mkdir {
        /// `VOLUME:/path`.
        target: String,
    },
    /// Move a file or directory inside the volume.
    Mv {
        /// `VOLUME:/from`.
        from: String,
        /// `/to` (in the same volume).
        to: String,
    },
    /// Remove a file or directory (earlier snapshots keep it).
    Rm {
        /// `VOLUME:/path`.
        target: String,
    },
    /// The volume's history, newest first: id, height, time, device, what changed.
    Log {
        /// The volume.
        volume: String,
        /// Most snapshots to print.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Put a path back as it was at a snapshot (a new snapshot; nothing is lost).
    Restore {
        /// `VOLUME:/path`.
        target: String,
        /// The snapshot (an id from `gofast fs log`).
        #[arg(long)]
        at: String,
    },
    /// Read the other devices' heads from the DHT now and take in what is new.
    Sync {
        /// The volume.
        volume: String,
    },
    /// Choose which old snapshots this device keeps (every one by default): the newest N, those
    /// of the last D days, or both; the others' space becomes reclaimable (`gofast gc`). With no
    /// option, shows and applies the policy in force.
    Retain {
        /// The volume.
        volume: String,
        /// Keep the newest N snapshots.
        #[arg(long, value_name = "N")]
        last: Option<u32>,
        /// Keep the snapshots of the last D days.
        #[arg(long, value_name = "D")]
        days: Option<u32>,
        /// Keep every snapshot again (those already let go stay gone).
        #[arg(long, conflicts_with_all = ["last", "days"])]
        all: bool,
    },
}

/// `VOLUME:/path` → (volume, path).
fn split(target: &str) -> Result<(String, String), Error> {
    match target.split_once(':') {
        Some((v, p)) if !v.is_empty() => {
            Ok((v.to_owned(), if p.is_empty() { "/" } else { p }.to_owned()))
        }
        _ => Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{target:?}: name a place in a volume as VOLUME:/path"),
        )),
    }
}

fn changed(v: &Value) {
    if v["changed"].as_bool() == Some(true) {
        eprintln!(
            "snapshot {} (height {})",
            v["snapshot"].as_str().unwrap_or_default(),
            v["seq"]
        );
    } else {
        eprintln!("nothing changed");
    }
}

fn print_info(v: &Value) {
    let head = v["head"].as_object().map_or_else(
        || "-".to_owned(),
        |h| format!("{}@{}", h["id"].as_str().unwrap_or_default(), h["seq"]),
    );
    let devices = v["devices"].as_array().map_or(0, Vec::len);
    let epoch = v["key_epoch"].as_u64().unwrap_or_default();
    println!(
        "{}\t{}\t{} devices\tkey epoch {epoch}\t{}",
        v["name"].as_str().unwrap_or_default(),
        head,
        devices,
        if v["may_write"].as_bool() == Some(true) {
            "writable"
        } else {
            "read-only (not on the owner's device list)"
        }
    );
}

pub(crate) fn run(
    rt: &tokio::runtime::Runtime,
    data_dir: &Path,
    cmd: FsCommand,
) -> Result<(), Error> {
    let call =
        |request: FsRequest| rt.block_on(control::call(data_dir, &Request::Fs(request), |_, _| {}));
    match cmd {
        FsCommand::Create { volume } => print_info(&call(FsRequest::Create { volume })?),
        FsCommand::Share { volume } => {
            println!(
                "{}",
                call(FsRequest::Share { volume })?["capability"]
                    .as_str()
                    .unwrap_or_default()
            );
        }
        FsCommand::Join { volume, capability } => {
            let capability = if capability == "-" {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map_err(|e| {
                    Error::new(ErrorKind::Io, format!("reading the capability: {e}"))
                })?;
                line.trim().to_owned()
            } else {
                capability
            };
            print_info(&call(FsRequest::Join { volume, capability })?);
        }
        FsCommand::Volumes => {
            for v in call(FsRequest::Volumes)?.as_array().into_iter().flatten() {
                print_info(v);
            }
        }
        FsCommand::Allow { volume, device } => {
            print_info(&call(FsRequest::Allow { volume, device })?)
        }
        FsCommand::Revoke { volume, device } => {
            print_info(&call(FsRequest::Revoke { volume, device })?)
        }
        FsCommand::Ls { target, at } => {
            let (volume, path) = split(&target)?;
            for e in call(FsRequest::Ls { volume, path, at })?
                .as_array()
                .into_iter()
                .flatten()
            {
                let dir = e["dir"].as_bool() == Some(true);
                println!(
                    "{}\t{}\t{}{}",
                    if dir { "d" } else { "-" },
                    e["size"],
                    e["name"].as_str().unwrap_or_default(),
                    if dir { "/" } else { "" }
                );
            }
        }
        FsCommand::Cat { target, at } => {
            let (volume, path) = split(&target)?;
            let mut stdout = std::io::stdout().lock();
            rt.block_on(control::stream_to(
                data_dir,
                &Request::Fs(FsRequest::Cat { volume, path, at }),
                |_, _| {},
                &mut stdout,
            ))?;
            std::io::Write::flush(&mut stdout)
                .map_err(|e| Error::new(ErrorKind::Io, format!("writing to stdout: {e}")))?;
        }
        FsCommand::Put { local, target } => {
            let (volume, path) = split(&target)?;
            let local =
                std::path::absolute(&local).map_err(|e| Error::file(&local, "resolve", &e))?;
            changed(&call(FsRequest::Put {
                local,
                volume,
                path,
            })?);
        }
        FsCommand::Mkdir { target } => {
            let (volume, path) = split(&target)?;
            changed(&call(FsRequest::Mkdir { volume, path })?);
        }
        FsCommand::Mv { from, to } => {
            let (volume, from) = split(&from)?;
            let to = match to.split_once(':') {
                Some((v, p)) if v == volume => p.to_owned(),
                Some(_) => {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        "mv moves inside one volume: copy between volumes with cat and put",
                    ));
                }
                None => to,
            };
            changed(&call(FsRequest::Mv { volume, from, to })?);
        }
        FsCommand::Rm { target } => {
            let (volume, path) = split(&target)?;
            changed(&call(FsRequest::Rm { volume, path })?);
        }
        FsCommand::Log { volume, limit } => {
            for l in call(FsRequest::Log { volume, limit })?
                .as_array()
                .into_iter()
                .flatten()
            {
                let secs = l["time_ns"].as_i64().unwrap_or(0) / 1_000_000_000;
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    l["id"].as_str().unwrap_or_default(),
                    l["seq"],
                    secs,
                    l["device"].as_str().unwrap_or_default(),
                    l["note"].as_str().unwrap_or_default()
                );
            }
        }
        FsCommand::Restore { target, at } => {
            let (volume, path) = split(&target)?;
            changed(&call(FsRequest::Restore { volume, path, at })?);
        }
        FsCommand::Retain {
            volume,
            last,
            days,
            all,
        } => {
            let v = call(FsRequest::Retain {
                volume: volume.clone(),
                last,
                days,
                all,
            })?;
            let policy = match (v["last"].as_u64(), v["days"].as_u64()) {
                (None, None) => {
                    eprintln!("{volume}: this device keeps every snapshot");
                    return Ok(());
                }
                (Some(n), None) => format!("the newest {n} snapshots"),
                (None, Some(d)) => format!("the snapshots of the last {d} days"),
                (Some(n), Some(d)) => {
                    format!("the newest {n} snapshots and those of the last {d} days")
                }
            };
            eprintln!(
                "{volume}: this device keeps {policy}; {} kept, {} let go now",
                v["kept"], v["dropped"]
            );
        }
        FsCommand::Sync { volume } => {
            let v = call(FsRequest::Sync { volume })?;
            eprintln!(
                "{} heads looked at; {} fast-forwards, {} merges ({} conflicts kept both versions); {} blocks",
                v["heads"], v["fast_forwards"], v["merges"], v["conflicts"], v["blocks"]
            );
        }
    }
    Ok(())
}
