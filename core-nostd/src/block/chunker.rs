//! Content-defined chunking: FastCDC (Xia et al., USENIX ATC 2016) with normalized chunking (level 1),
//! keyed.
//!
//! A rolling "gear" fingerprint `fp = (fp << 1) + GEAR[byte]` runs over the data from `min` bytes into
//! a chunk; a cut falls after the first byte where the fingerprint's top bits are all zero. Before `avg`
//! bytes the test uses more bits (harder), after it fewer (easier), which pulls chunk sizes towards
//! `avg`. Whether a position is a cut depends on the 64 bytes before it and on its distance from the
//! chunk's start (the `min`/`avg`/`max` thresholds), so inserting or deleting bytes moves only the
//! nearby cuts, which is what makes re-syncing an edited file cheap.
//!
//! The gear table is derived from the scope secret (BLAKE3 XOF under [`KdfContext::ChunkerGear`]): an
//! observer who sees block sizes cannot match them against the chunk sizes of a file they know, and
//! within a scope the cuts, like the block keys, are stable. `docs/spec/block.md` pins the algorithm.

use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{MAX_PAYLOAD_LEN, ScopeSecret};
use crate::crypto::KdfContext;
use crate::crypto::hash::derive_key_xof;

/// How many bits the normalization adds to (before `avg`) and removes from (after) the mask.
///
/// Level 1, not the paper's 2: with level 2 most cuts are "the first easy point after `avg`", which
/// depends on where the chunk started, so after an insertion the chunk chains take longer to meet again.
/// Measured over 300 random insertions (256/1024/4096-byte chunks, 100 KB): changed chunks p99 9, max 11
/// at level 2; p99 5, max 6 at level 1; p99 4, max 4 without normalization. Level 1 keeps most of the
/// size normalization for almost all of the resynchronization.
const NORMALIZATION: u32 = 1;
/// The smallest `min` accepted: below the fingerprint's 64-byte window cuts stop being content-defined.
pub const MIN_CHUNK_FLOOR: u32 = 64;

/// Chunk size bounds. Every chunk except a stream's last is longer than `min` (hashing starts at byte
/// `min`, so the earliest cut is after `min + 1` bytes) and at most `max` bytes; sizes cluster around `avg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ChunkerParams {
    min: u32,
    avg: u32,
    max: u32,
}

/// Chunk size bounds that the chunker cannot honour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChunkerParamsError {
    /// Needs `64 <= min < avg < max <= 65535`.
    OutOfOrder,
    /// `avg` must be a power of two.
    AvgNotPowerOfTwo,
}

impl fmt::Display for ChunkerParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkerParamsError::OutOfOrder => {
                "chunk sizes must satisfy 64 <= min < avg < max <= 65535"
            }
            ChunkerParamsError::AvgNotPowerOfTwo => "the average chunk size must be a power of two",
        })
    }
}

impl core::error::Error for ChunkerParamsError {}

impl ChunkerParams {
    /// 8 KiB / 32 KiB / 64 KiB − 1. Per-block work (a store row, a want, an id check, a message
    /// between threads) dominated a transfer's CPU at 16 KiB: 32 KiB moved a file between two
    /// nodes about a quarter faster, and edits still travel as deltas of the chunks they touch, so
    /// larger chunks cost a push few bytes (`docs/BENCHMARKS.md`). 32 KiB is the largest average
    /// [`ChunkerParams::new`] accepts below the 64 KiB block.
    pub const DEFAULT: ChunkerParams = ChunkerParams {
        min: 8192,
        avg: 32_768,
        max: MAX_PAYLOAD_LEN as u32,
    };

    /// Validated bounds.
    pub const fn new(min: u32, avg: u32, max: u32) -> Result<Self, ChunkerParamsError> {
        if min < MIN_CHUNK_FLOOR || min >= avg || avg >= max || max > MAX_PAYLOAD_LEN as u32 {
            return Err(ChunkerParamsError::OutOfOrder);
        }
        if !avg.is_power_of_two() {
            return Err(ChunkerParamsError::AvgNotPowerOfTwo);
        }
        Ok(ChunkerParams { min, avg, max })
    }

    /// Smallest chunk (except the last).
    pub const fn min(&self) -> u32 {
        self.min
    }
    /// Target average.
    pub const fn avg(&self) -> u32 {
        self.avg
    }
    /// Largest chunk.
    pub const fn max(&self) -> u32 {
        self.max
    }
}

impl Default for ChunkerParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A keyed FastCDC chunker for one scope. Holds a 2 KiB gear table, wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Chunker {
    gear: [u64; 256],
    #[zeroize(skip)]
    params: ChunkerParams,
    #[zeroize(skip)]
    mask_hard: u64,
    #[zeroize(skip)]
    mask_easy: u64,
}

/// A mask of the `bits` most significant bits: those bits of the fingerprint depend on the most bytes.
const fn top_bits(bits: u32) -> u64 {
    if bits == 0 {
        0
    } else {
        u64::MAX << (64 - bits)
    }
}

impl Chunker {
    /// The chunker of `scope` with the given bounds.
    pub fn new(params: ChunkerParams, scope: &ScopeSecret) -> Self {
        let mut table = [0u8; 256 * 8];
        derive_key_xof(KdfContext::ChunkerGear, scope.expose().expose(), &mut table);
        let mut gear = [0u64; 256];
        for (g, bytes) in gear.iter_mut().zip(table.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(bytes);
            *g = u64::from_le_bytes(b);
        }
        table.zeroize();
        // avg is a power of two >= 128 (since min >= 64 and min < avg), so bits >= 7 > NORMALIZATION.
        let bits = params.avg.trailing_zeros();
        Chunker {
            gear,
            params,
            mask_hard: top_bits(bits + NORMALIZATION),
            mask_easy: top_bits(bits - NORMALIZATION),
        }
    }

    /// The bounds in use.
    pub const fn params(&self) -> ChunkerParams {
        self.params
    }

    /// Length of the first chunk of `data`.
    ///
    /// `data` must be either everything that is left of the stream, or at least `max` bytes of it: the
    /// cut then depends only on the bytes of the chunk itself and its 64-byte window. Returns
    /// `data.len()` when that is at most `min` (the last chunk of a stream may be short), and 0 only
    /// for empty input.
    pub fn cut(&self, data: &[u8]) -> usize {
        let min = self.params.min as usize;
        let n = data.len();
        if n <= min {
            return n;
        }
        let end = n.min(self.params.max as usize);
        let normal = end.min(self.params.avg as usize);
        let mut fp: u64 = 0;
        let mut i = min;
        // `min < normal <= end <= data.len()`, so the slices below are in range; `get` keeps it
        // panic-free regardless.
        for &b in data.get(min..normal).unwrap_or(&[]) {
            fp = (fp << 1).wrapping_add(self.gear_of(b));
            i += 1;
            if fp & self.mask_hard == 0 {
                return i;
            }
        }
        for &b in data.get(normal..end).unwrap_or(&[]) {
            fp = (fp << 1).wrapping_add(self.gear_of(b));
            i += 1;
            if fp & self.mask_easy == 0 {
                return i;
            }
        }
        end
    }

    #[inline(always)]
    fn gear_of(&self, b: u8) -> u64 {
        // A u8 always indexes a 256-entry table.
        #[allow(clippy::indexing_slicing)]
        self.gear[usize::from(b)]
    }

    /// The chunks of a complete in-memory buffer, in order.
    pub fn chunks<'c, 'd>(&'c self, data: &'d [u8]) -> Chunks<'c, 'd> {
        Chunks {
            chunker: self,
            rest: data,
        }
    }
}

impl fmt::Debug for Chunker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunker")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Iterator over the chunks of a buffer; see [`Chunker::chunks`].
pub struct Chunks<'c, 'd> {
    chunker: &'c Chunker,
    rest: &'d [u8],
}

impl fmt::Debug for Chunks<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chunks({} bytes left)", self.rest.len())
    }
}

impl<'d> Iterator for Chunks<'_, 'd> {
    type Item = &'d [u8];
    fn next(&mut self) -> Option<&'d [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let cut = self.chunker.cut(self.rest);
        let (chunk, rest) = self.rest.split_at(cut.min(self.rest.len()));
        self.rest = rest;
        Some(chunk)
    }
}
