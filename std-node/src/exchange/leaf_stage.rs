//! Gathers a fetched file's leaves, as they arrive in order, into buffers laid out like the file's
//! pages, so that most of the file goes out in large page-aligned writes that skip the page cache
//! ([`FileOutput::write_direct`]), on a thread of their own.
//!
//! Written leaf by leaf (~20 KB each) through the page cache, the output file cost the fetching node
//! more kernel time than anything else it did: every byte copied into freshly allocated page-cache
//! pages, then written back by the kernel on the same two cores (`docs/BENCHMARKS.md`). A direct
//! write waits for the disk, hence the thread: the sink goes on decrypting into the next buffer.

use std::sync::Arc;
use std::sync::mpsc;

use zeroize::Zeroizing;

use super::get::GetError;
use super::output::{DIRECT_ALIGN, FileOutput};

/// Bytes gathered before a write (a leaf's data always fits: at most 64 KiB).
pub(super) const STAGE_BYTES: usize = 1 << 20;

/// Buffers at most, the one being filled included: two can wait for (or be in) a write.
const BUFFERS: usize = 3;

/// A new buffer's first size; it doubles up to [`STAGE_BYTES`] as leaves need. A directory's small
/// files each have a stage: a full-size buffer each would be a megabyte to clear per file.
const FIRST_BYTES: usize = 64 << 10;

/// The file's bytes `[at, at + len)`, held from `buf[base + head]` on, where `base` is the buffer's
/// first address aligned to [`DIRECT_ALIGN`] and `head = at % DIRECT_ALIGN`: a byte sits at the same
/// place in its page in memory as in the file, so whole pages can be written straight from the
/// buffer.
pub(super) struct LeafStage {
    out: Arc<FileOutput>,
    /// Plaintext of the file: each buffer is wiped when dropped.
    buf: Zeroizing<Vec<u8>>,
    at: u64,
    len: usize,
    /// Started with the first full buffer (a small file never needs it).
    writer: Option<Writer>,
}

/// Writes, in order, on the writer thread; then the buffer comes back.
struct Filled {
    buf: Zeroizing<Vec<u8>>,
    writes: Vec<Piece>,
}

/// `len` bytes of the buffer from `from`, written at file offset `at`, past the page cache or not.
struct Piece {
    from: usize,
    len: usize,
    at: u64,
    direct: bool,
}

struct Writer {
    tx: mpsc::SyncSender<Filled>,
    free: mpsc::Receiver<Zeroizing<Vec<u8>>>,
    /// Buffers made so far, the one being filled included.
    made: usize,
    thread: std::thread::JoinHandle<Result<(), GetError>>,
}

impl Writer {
    fn start(out: Arc<FileOutput>) -> Result<Writer, GetError> {
        let (tx, rx) = mpsc::sync_channel::<Filled>(BUFFERS - 1);
        let (free_tx, free) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("gofast-get-write".into())
            .spawn(move || {
                for filled in rx {
                    for p in &filled.writes {
                        write_piece(&out, &filled.buf, p)?;
                    }
                    // Gone only when the stage is: then the buffer is not needed either.
                    let _ = free_tx.send(filled.buf);
                }
                Ok(())
            })
            .map_err(GetError::Write)?;
        Ok(Writer {
            tx,
            free,
            made: 1,
            thread,
        })
    }

    /// Waits for every write handed over; the first error if one failed.
    fn stop(self) -> Result<(), GetError> {
        drop(self.tx);
        self.thread.join().map_err(|_| {
            GetError::Write(std::io::Error::other("the file's writer thread failed"))
        })?
    }
}

/// Empty: [`LeafStage::make_room`] sizes it.
fn new_buffer() -> Zeroizing<Vec<u8>> {
    Zeroizing::new(Vec::new())
}

fn base(buf: &[u8]) -> usize {
    buf.as_ptr().align_offset(DIRECT_ALIGN)
}

impl LeafStage {
    pub(super) fn new(out: Arc<FileOutput>) -> Self {
        LeafStage {
            out,
            buf: new_buffer(),
            at: 0,
            len: 0,
            writer: None,
        }
    }

    fn head(&self) -> usize {
        (self.at % DIRECT_ALIGN as u64) as usize
    }

    /// Adds `size` bytes at file offset `offset`, written into the buffer by `fill` (which gets exactly
    /// `size` bytes). What the buffer held is written out first if these bytes do not continue it or do
    /// not fit.
    pub(super) fn add(
        &mut self,
        offset: u64,
        size: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), GetError>,
    ) -> Result<(), GetError> {
        if size > STAGE_BYTES {
            return Err(GetError::Write(std::io::Error::other(
                "a leaf larger than the write buffer",
            )));
        }
        if size == 0 {
            // An empty file's one leaf: checked, nothing to place (and no buffer to make).
            return fill(&mut []);
        }
        let continues = self.at.checked_add(self.len as u64) == Some(offset);
        if self.len > 0 && !continues {
            self.hand_over(false)?;
        }
        if self.len > 0 && self.head() + self.len + size > STAGE_BYTES + DIRECT_ALIGN {
            // Whole pages go; the last partial page's bytes stay, with room for STAGE_BYTES more.
            self.hand_over(true)?;
        }
        if self.len == 0 {
            self.at = offset;
        }
        self.make_room(self.head() + self.len + size)?;
        let from = base(&self.buf) + self.head() + self.len;
        let room = self.buf.get_mut(from..from + size).ok_or_else(overrun)?;
        fill(room)?;
        self.len += size;
        Ok(())
    }

    /// How what the buffer holds splits into writes: a first partial page through the page cache,
    /// the whole pages past it, and (unless kept) a last partial page through the page cache. Also
    /// where the last partial page's bytes are in the buffer, how many, and their file offset.
    fn cut(&self, keep_tail: bool) -> (Vec<Piece>, usize, usize, u64) {
        let align = DIRECT_ALIGN as u64;
        let end = self.at + self.len as u64;
        let first_whole = self.at.next_multiple_of(align).min(end);
        let last_whole = (end - end % align).max(first_whole);
        let start = base(&self.buf) + self.head();
        let head_bytes = (first_whole - self.at) as usize;
        let pages = (last_whole - first_whole) as usize;
        let tail = (end - last_whole) as usize;
        let mut writes = Vec::with_capacity(3);
        if head_bytes > 0 {
            writes.push(Piece {
                from: start,
                len: head_bytes,
                at: self.at,
                direct: false,
            });
        }
        if pages > 0 {
            writes.push(Piece {
                from: start + head_bytes,
                len: pages,
                at: first_whole,
                direct: true,
            });
        }
        let tail_from = start + head_bytes + pages;
        if tail > 0 && !keep_tail {
            writes.push(Piece {
                from: tail_from,
                len: tail,
                at: last_whole,
                direct: false,
            });
        }
        (writes, tail_from, tail, last_whole)
    }

    /// Hands what the buffer holds to the writer thread, and takes another buffer. With
    /// `keep_tail`, the bytes of a last partial page move to the new buffer instead (the next
    /// leaves continue that page).
    fn hand_over(&mut self, keep_tail: bool) -> Result<(), GetError> {
        let (writes, tail_from, tail, tail_at) = self.cut(keep_tail);
        let next = self.take_buffer()?;
        let full = std::mem::replace(&mut self.buf, next);
        self.len = 0;
        if keep_tail && tail > 0 {
            self.at = tail_at;
            self.make_room(tail)?;
            let to = base(&self.buf);
            self.buf
                .get_mut(to..to + tail)
                .ok_or_else(overrun)?
                .copy_from_slice(slice(&full, tail_from, tail)?);
            self.len = tail;
        }
        let filled = Filled { buf: full, writes };
        let writer = self.writer.as_ref().ok_or_else(overrun)?;
        if writer.tx.send(filled).is_err() {
            return Err(self.stop_writer().err().unwrap_or_else(stopped));
        }
        Ok(())
    }

    /// A buffer to fill next: one the writer is done with, or a new one while fewer than
    /// [`BUFFERS`] exist, or else the next one the writer gives back.
    fn take_buffer(&mut self) -> Result<Zeroizing<Vec<u8>>, GetError> {
        let writer = match &mut self.writer {
            Some(w) => w,
            None => self.writer.insert(Writer::start(Arc::clone(&self.out))?),
        };
        if let Ok(buf) = writer.free.try_recv() {
            return Ok(buf);
        }
        if writer.made < BUFFERS {
            writer.made += 1;
            return Ok(new_buffer());
        }
        match writer.free.recv() {
            Ok(buf) => Ok(buf),
            Err(_) => Err(self.stop_writer().err().unwrap_or_else(stopped)),
        }
    }

    fn stop_writer(&mut self) -> Result<(), GetError> {
        self.writer.take().map_or(Ok(()), Writer::stop)
    }

    /// Makes the buffer hold at least `need` bytes from its aligned base, keeping what it holds at the
    /// same place in its page.
    fn make_room(&mut self, need: usize) -> Result<(), GetError> {
        let have = self.buf.len().saturating_sub(base(&self.buf));
        if need <= have {
            return Ok(());
        }
        if need > STAGE_BYTES + DIRECT_ALIGN {
            return Err(overrun());
        }
        let size = need
            .max(FIRST_BYTES)
            .max(have.saturating_mul(2))
            .min(STAGE_BYTES + DIRECT_ALIGN);
        // Room for the aligned base, wherever the allocation starts.
        let mut grown = Zeroizing::new(vec![0; size + DIRECT_ALIGN]);
        if self.len > 0 {
            let (from, to) = (base(&self.buf) + self.head(), base(&grown) + self.head());
            grown
                .get_mut(to..to + self.len)
                .ok_or_else(overrun)?
                .copy_from_slice(slice(&self.buf, from, self.len)?);
        }
        self.buf = grown;
        Ok(())
    }

    /// Writes everything the buffer holds and waits for every write handed over.
    pub(super) fn write_all(&mut self) -> Result<(), GetError> {
        if self.writer.is_none() {
            // Nothing handed over yet (a small file): written here, without a thread.
            let (writes, ..) = self.cut(false);
            self.len = 0;
            return writes
                .iter()
                .try_for_each(|p| write_piece(&self.out, &self.buf, p));
        }
        if self.len > 0 {
            self.hand_over(false)?;
        }
        self.stop_writer()
    }
}

impl Drop for LeafStage {
    /// No write to the file outlives the fetch, even a failed one.
    fn drop(&mut self) {
        let _ = self.stop_writer();
    }
}

fn write_piece(out: &FileOutput, buf: &[u8], p: &Piece) -> Result<(), GetError> {
    let data = slice(buf, p.from, p.len)?;
    if p.direct {
        out.write_direct(data, p.at)
    } else {
        out.write_at(data, p.at)
    }
}

fn slice(buf: &[u8], from: usize, len: usize) -> Result<&[u8], GetError> {
    buf.get(from..from + len).ok_or_else(overrun)
}

fn overrun() -> GetError {
    GetError::Write(std::io::Error::other("write buffer overrun"))
}

fn stopped() -> GetError {
    GetError::Write(std::io::Error::other("the file's writer thread stopped"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A file's bytes cut into leaves of `sizes`, delivered run by run in the order of `order`
    /// (a fetch from several providers gets runs of consecutive leaves out of order).
    fn write_leaves(sizes: &[usize], runs: usize, order: &[u32]) -> (Vec<u8>, Vec<u8>, u64, bool) {
        let total: usize = sizes.iter().sum();
        let data: Vec<u8> = (0..total).map(|i| (i * 31 + i / 4099) as u8).collect();
        let mut leaves = Vec::new();
        let mut at = 0;
        for &n in sizes {
            leaves.push((at, n));
            at += n;
        }
        let per_run = leaves.len().div_ceil(runs.max(1)).max(1);
        let mut chunks: Vec<_> = leaves.chunks(per_run).enumerate().collect();
        chunks.sort_by_key(|(i, _)| order.get(*i).copied().unwrap_or(0));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let file = std::fs::File::create_new(&path).unwrap();
        let out = Arc::new(FileOutput::create(file, &path));
        let direct = out.writes_direct();
        let mut stage = LeafStage::new(Arc::clone(&out));
        for (_, run) in chunks {
            for &(at, n) in run {
                stage
                    .add(at as u64, n, |room| {
                        room.copy_from_slice(&data[at..at + n]);
                        Ok(())
                    })
                    .unwrap();
            }
        }
        stage.write_all().unwrap();
        drop(stage);
        let direct_bytes = out.direct_bytes();
        let out = Arc::try_unwrap(out).unwrap_or_else(|_| panic!("the writer thread is gone"));
        out.finish(total as u64).unwrap();
        (data, std::fs::read(&path).unwrap(), direct_bytes, direct)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn leaves_in_any_order_of_runs_make_the_file(
            sizes in proptest::collection::vec(
                prop_oneof![9 => 1usize..=65_535, 1 => Just(0usize)],
                1..120,
            ),
            runs in 1usize..6,
            order in proptest::collection::vec(any::<u32>(), 6),
        ) {
            let (data, written, direct_bytes, direct) = write_leaves(&sizes, runs, &order);
            prop_assert_eq!(written.len(), data.len());
            prop_assert!(written == data, "the file is not the leaves' bytes");
            // Past the page cache go whole pages only, and in one run of a few MiB most bytes.
            prop_assert_eq!(direct_bytes % DIRECT_ALIGN as u64, 0);
            if direct && runs == 1 && data.len() > 2 * STAGE_BYTES {
                prop_assert!(direct_bytes as usize >= data.len() - 2 * STAGE_BYTES);
            }
        }
    }

    #[test]
    fn a_file_of_many_mib_goes_past_the_page_cache_where_the_system_allows() {
        let sizes = vec![20_001; 400];
        let (data, written, direct_bytes, direct) = write_leaves(&sizes, 1, &[0]);
        assert!(written == data);
        if direct {
            // Everything but the last partial page.
            let whole = data.len() as u64 / DIRECT_ALIGN as u64 * DIRECT_ALIGN as u64;
            assert_eq!(direct_bytes, whole);
        } else {
            eprintln!("no direct writes on this file system: only the content was checked");
        }
    }

    #[test]
    fn an_empty_file_is_an_empty_leaf() {
        let (data, written, direct_bytes, _) = write_leaves(&[0], 1, &[0]);
        assert!(data.is_empty() && written.is_empty());
        assert_eq!(direct_bytes, 0);
    }

    #[test]
    fn a_failing_leaf_stops_the_stage_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let file = std::fs::File::create_new(&path).unwrap();
        let out = Arc::new(FileOutput::create(file, &path));
        let mut stage = LeafStage::new(Arc::clone(&out));
        stage
            .add(0, 10, |room| {
                room.fill(1);
                Ok(())
            })
            .unwrap();
        let err = stage
            .add(10, 10, |_| {
                Err(GetError::Write(std::io::Error::other("bad leaf")))
            })
            .unwrap_err();
        assert!(err.to_string().contains("bad leaf"), "{err}");
        let too_big = stage.add(20, STAGE_BYTES + 1, |_| Ok(())).unwrap_err();
        assert!(too_big.to_string().contains("larger"), "{too_big}");
    }
}
