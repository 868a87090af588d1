//! `gofast push`, `gofast pull` and `gofast push-allow`: directory trees to and from peers, the
//! rsync replacement, through the running node's control socket.

use std::path::{Path, PathBuf};

use gofast_node::control::{self, Request};
use gofast_node::error::{Error, ErrorKind};
use gofast_node::tree_control::TreeRequest;
use serde_json::Value;

use crate::{absolute, bar};

/// `gofast push DIR PEER`.
pub(crate) fn push(
    rt: &tokio::runtime::Runtime,
    data_dir: &Path,
    dir: &Path,
    peer: String,
    name: Option<String>,
    checksum: bool,
    json: bool,
) -> Result<(), Error> {
    let dir = absolute(dir)?;
    let name = match name {
        Some(n) => n,
        None => dir
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{} has no name to push it under: give one with --as",
                        dir.display()
                    ),
                )
            })?,
    };
    let bar = bar(None, "reading");
    let request = Request::Tree(TreeRequest::Push {
        dir: dir.clone(),
        peer,
        name: name.clone(),
        checksum,
    });
    let v = rt.block_on(control::call(data_dir, &request, |done, _| {
        bar.set_position(done);
    }));
    bar.finish_and_clear();
    let v = v?;
    if json {
        println!("{v}");
        return Ok(());
    }
    eprintln!(
        "pushed {} as {name:?}: {} files, {} bytes ({} read, the rest unchanged since the last push); \
         the receiver wrote {}, removed {}, fetched {} blocks",
        dir.display(),
        v["files"],
        v["size"],
        v["read"],
        v["written"],
        v["removed"],
        v["blocks_fetched"],
    );
    if v["kept"].as_u64().unwrap_or(0) > 0 {
        eprintln!(
            "the receiver kept {} files this push removed: they were changed there",
            v["kept"]
        );
    }
    for skipped in v["skipped"].as_array().into_iter().flatten() {
        eprintln!(
            "left out {} (symbolic links and special files are not pushed)",
            skipped.as_str().unwrap_or_default()
        );
    }
    Ok(())
}

/// `gofast pull URI DIR`.
pub(crate) fn pull(
    rt: &tokio::runtime::Runtime,
    data_dir: &Path,
    uri: String,
    dir: &Path,
    from: Option<String>,
) -> Result<(), Error> {
    let dir = absolute(dir)?;
    let request = Request::Tree(TreeRequest::Pull {
        uri,
        dir: dir.clone(),
        from,
    });
    let v = rt.block_on(control::call(data_dir, &request, |_, _| {}))?;
    eprintln!(
        "pulled into {}: {} files written ({} bytes), {} unchanged, {} removed; {} blocks fetched",
        dir.display(),
        v["written"],
        v["bytes_written"],
        v["unchanged"],
        v["removed"],
        v["blocks_fetched"],
    );
    if v["kept"].as_u64().unwrap_or(0) > 0 {
        eprintln!(
            "kept {} files the tree no longer has: they were changed here",
            v["kept"]
        );
    }
    Ok(())
}

/// `gofast push-allow [PEER [DIR]] [--remove]`.
pub(crate) fn allow(
    rt: &tokio::runtime::Runtime,
    data_dir: &Path,
    peer: Option<String>,
    dir: Option<PathBuf>,
    remove: bool,
) -> Result<(), Error> {
    let request = match (peer, dir, remove) {
        (None, None, false) => TreeRequest::Allowed,
        (Some(peer), None, true) => TreeRequest::Disallow { peer },
        (Some(peer), Some(dir), false) => TreeRequest::Allow {
            peer,
            dir: absolute(&dir)?,
        },
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "use `gofast push-allow PEER DIR`, `gofast push-allow --remove PEER`, or no arguments to list",
            ));
        }
    };
    let listing = matches!(request, TreeRequest::Allowed);
    let v = rt.block_on(control::call(data_dir, &Request::Tree(request), |_, _| {}))?;
    if listing {
        for e in v.as_array().into_iter().flatten() {
            println!("{} {}", str_of(&e["peer"]), str_of(&e["dir"]));
        }
    } else if remove {
        eprintln!("{} may no longer push here", str_of(&v["peer"]));
    } else {
        eprintln!(
            "{} may push here: its pushes land in {}/<name>",
            str_of(&v["peer"]),
            str_of(&v["dir"])
        );
    }
    Ok(())
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}
