//! A file the mirror (`gofast sync`) saw, written again with the same size and the same modification
//! time, still reaches the volume. That is what happens when the second write falls within one tick
//! of the file system's clock after the pass read the file: its size and time say "unchanged". The
//! test sets the time back explicitly (to one in the future, so that the pass that saw the file
//! always counts it as recent, however slow the machine). Every wait is on an event, bounded.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gofast_node::node::Node;

const WAIT: Duration = Duration::from_secs(60);
const VOL: &str = "notes";

/// Waits, pass after pass of the mirror, until the volume's `path` holds `want`.
async fn until_volume_holds(node: &Node, path: &str, want: &[u8]) {
    let mut events = node.subscribe();
    let done = tokio::time::timeout(WAIT, async {
        loop {
            if node.volumes().read(VOL, path, None).await.ok().as_deref() == Some(want) {
                return;
            }
            support::next_folder_pass(&mut events).await;
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "the volume's {path} is not {:?} within {WAIT:?}",
        String::from_utf8_lossy(want)
    );
}

fn write_with_time(path: &std::path::Path, data: &[u8], time: SystemTime) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap();
    std::io::Write::write_all(&mut &file, data).unwrap();
    file.set_modified(time).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rewritten_within_one_clock_tick_is_synced() {
    support::logs();
    let base = tempfile::tempdir().unwrap();
    let a = support::start_node(base.path(), "a", vec![]).await;
    let dir = base.path().join("folder");
    std::fs::create_dir_all(&dir).unwrap();
    a.volumes().create(VOL).await.unwrap();
    let mirror = {
        let (volumes, dir) = (Arc::clone(a.volumes()), dir.clone());
        tokio::spawn(async move { volumes.mirror(VOL, &dir, |_| {}).await.unwrap() })
    };

    let time = SystemTime::now() + Duration::from_secs(3600);
    write_with_time(&dir.join("todo.txt"), b"version one", time);
    until_volume_holds(&a, "/todo.txt", b"version one").await;

    // Same length, same time: only the content says it changed.
    write_with_time(&dir.join("todo.txt"), b"version two", time);
    until_volume_holds(&a, "/todo.txt", b"version two").await;

    mirror.abort();
}
