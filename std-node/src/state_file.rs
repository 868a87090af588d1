//! Small state files of the node (a volume's state, the push allow list): written whole, readable
//! by their owner only, and replaced atomically, so that a crash leaves the old file or the new,
//! never half of one.

use std::io::Write;
use std::path::Path;

use crate::error::Error;

/// Replaces the file at `path` with `bytes`: written to `path.new` (mode 0600) and synced, renamed
/// over `path`, and the folder synced so that the rename survives a crash.
pub(crate) fn replace_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut aside_name = path.as_os_str().to_owned();
    aside_name.push(".new");
    let aside = std::path::PathBuf::from(aside_name);
    let mut out = std::fs::OpenOptions::new();
    out.write(true).create(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut out, 0o600);
    let mut file = out
        .open(&aside)
        .map_err(|e| Error::file(&aside, "create", &e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::file(&aside, "write", &e))?;
    std::fs::rename(&aside, path).map_err(|e| Error::file(path, "replace", &e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::file(dir, "sync", &e))
}
