//! Directory listings: the data of a directory's block tree (`docs/spec/dir.md`).
//!
//! A directory is stored like a file: its listing is encoded here, then chunked, sealed and put in a
//! tree like any data, so names and metadata are encrypted like content and a large directory
//! changes only near an edit. The listing is canonical (entries sorted by name, bytewise), so the
//! same directory gives the same bytes and therefore the same blocks.
//!
//! ```text
//! listing = "GFD1" | count: u32 LE | entry × count
//! entry   = name_len: u8 (1..=255) | name (UTF-8) | kind: u8 (1 file, 2 directory)
//!         | redundancy: u8 | size: u64 LE | mtime_ns: i64 LE | ref: id[32] key[32]
//! ```

use core::fmt;

use crate::block::BlockRef;
use crate::codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};

/// The first bytes of every listing.
pub const DIR_MAGIC: [u8; 4] = *b"GFD1";
/// The longest name, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// The most entries one directory may list.
pub const MAX_DIR_ENTRIES: u32 = 1 << 18;
/// Bytes of an entry besides its name.
pub const ENTRY_FIXED_LEN: usize = 1 + 1 + 1 + 8 + 8 + 64;
/// The longest listing: every entry at its longest.
pub const MAX_LISTING_LEN: usize =
    DIR_MAGIC.len() + 4 + (MAX_DIR_ENTRIES as usize) * (ENTRY_FIXED_LEN + MAX_NAME_LEN);

/// What an entry names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EntryKind {
    /// A file: `target` is the root of its data.
    File = 1,
    /// A directory: `target` is the root of its listing.
    Dir = 2,
}

impl EntryKind {
    /// The kind a byte stands for.
    pub const fn from_byte(b: u8) -> Option<EntryKind> {
        match b {
            1 => Some(EntryKind::File),
            2 => Some(EntryKind::Dir),
            _ => None,
        }
    }
}

/// One entry of a listing. `Debug` leaves the key out.
#[derive(Clone, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// The name: UTF-8, 1 to 255 bytes, no `/` and no NUL, not `.` or `..`.
    pub name: &'a str,
    /// File or directory.
    pub kind: EntryKind,
    /// How many copies the network should keep (0 = the default); used by the redundancy work.
    pub redundancy: u8,
    /// Data bytes: a file's length, or the sum of every file beneath a directory.
    pub size: u64,
    /// Last modification, nanoseconds since the Unix epoch (negative before it).
    pub mtime_ns: i64,
    /// The root of the file's data or of the directory's listing.
    pub target: BlockRef,
}

impl fmt::Debug for DirEntry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirEntry")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("size", &self.size)
            .field("target", &self.target.id)
            .finish_non_exhaustive()
    }
}

/// Whether `name` may name an entry: the rule of the format, checked by encoder and decoder alike
/// (and so by anyone writing a fetched directory to disk: no name can climb out of it).
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("a name is empty")
    } else if name.len() > MAX_NAME_LEN {
        Err("a name is longer than 255 bytes")
    } else if name == "." || name == ".." {
        Err("a name is . or ..")
    } else if name.bytes().any(|b| b == b'/' || b == 0) {
        Err("a name holds / or NUL")
    } else {
        Ok(())
    }
}

impl Encode for DirEntry<'_> {
    fn encoded_len(&self) -> usize {
        ENTRY_FIXED_LEN + self.name.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        check_name(self.name).map_err(|reason| EncodeError::InvalidValue {
            field: "name",
            reason,
        })?;
        w.put_bytes_u8_len(self.name.as_bytes(), MAX_NAME_LEN)?;
        w.put_u8(self.kind as u8)?;
        w.put_u8(self.redundancy)?;
        w.put_u64(self.size)?;
        w.put_u64(u64::from_le_bytes(self.mtime_ns.to_le_bytes()))?;
        self.target.encode(w)
    }
}

impl<'a> Decode<'a> for DirEntry<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let name = r.bytes_u8_len("name", MAX_NAME_LEN)?;
        let name = core::str::from_utf8(name).map_err(|_| DecodeError::InvalidValue {
            field: "name",
            reason: "not UTF-8",
        })?;
        check_name(name).map_err(|reason| DecodeError::InvalidValue {
            field: "name",
            reason,
        })?;
        let tag = r.u8()?;
        let kind =
            EntryKind::from_byte(tag).ok_or(DecodeError::InvalidTag { field: "kind", tag })?;
        let redundancy = r.u8()?;
        let size = r.u64()?;
        let mtime_ns = i64::from_le_bytes(r.u64()?.to_le_bytes());
        let target = BlockRef::decode(r)?;
        Ok(DirEntry {
            name,
            kind,
            redundancy,
            size,
            mtime_ns,
            target,
        })
    }
}

/// A validated listing, borrowed from its bytes.
#[derive(Clone, Copy)]
pub struct DirListing<'a> {
    count: u32,
    entries: &'a [u8],
}

impl fmt::Debug for DirListing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DirListing({} entries)", self.count)
    }
}

impl<'a> DirListing<'a> {
    /// Parses and validates a whole listing: the magic, the count (at most [`MAX_DIR_ENTRIES`]),
    /// every entry, names in strictly increasing byte order (so none twice), nothing after the
    /// last entry.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.array::<4>()? != DIR_MAGIC {
            return Err(DecodeError::InvalidValue {
                field: "magic",
                reason: "not a directory listing",
            });
        }
        let count = r.u32()?;
        if count > MAX_DIR_ENTRIES {
            return Err(DecodeError::LengthTooLarge {
                field: "count",
                max: MAX_DIR_ENTRIES as usize,
                found: count as usize,
            });
        }
        let entries = r.rest();
        let mut previous: Option<&str> = None;
        for _ in 0..count {
            let e = DirEntry::decode(&mut r)?;
            if previous.is_some_and(|p| p.as_bytes() >= e.name.as_bytes()) {
                return Err(DecodeError::InvalidValue {
                    field: "name",
                    reason: "names are not in strictly increasing order",
                });
            }
            previous = Some(e.name);
        }
        r.finish()?;
        Ok(DirListing { count, entries })
    }

    /// How many entries.
    pub const fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the directory is empty.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The entries, in name order.
    pub fn entries(&self) -> impl Iterator<Item = DirEntry<'a>> + 'a {
        let mut r = Reader::new(self.entries);
        // Validated by `decode`: every read succeeds, `map_while` only keeps this panic-free.
        (0..self.count).map_while(move |_| DirEntry::decode(&mut r).ok())
    }
}

/// Encodes a listing of `entries`, which it sorts by name first. Refuses a name the format does not
/// allow, a name given twice and more than [`MAX_DIR_ENTRIES`] entries.
#[cfg(feature = "alloc")]
pub fn encode_listing(entries: &mut [DirEntry<'_>]) -> Result<alloc::vec::Vec<u8>, EncodeError> {
    let count = u32::try_from(entries.len())
        .ok()
        .filter(|&n| n <= MAX_DIR_ENTRIES)
        .ok_or(EncodeError::TooLong {
            max: MAX_DIR_ENTRIES as usize,
            len: entries.len(),
        })?;
    entries.sort_unstable_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    if entries.windows(2).any(|w| match w {
        [a, b] => a.name == b.name,
        _ => false,
    }) {
        return Err(EncodeError::InvalidValue {
            field: "name",
            reason: "a name is given twice",
        });
    }
    let len = DIR_MAGIC.len() + 4 + entries.iter().map(Encode::encoded_len).sum::<usize>();
    let mut out = alloc::vec![0u8; len];
    let mut w = Writer::new(&mut out);
    w.put_bytes(&DIR_MAGIC)?;
    w.put_u32(count)?;
    for e in entries.iter() {
        e.encode(&mut w)?;
    }
    Ok(out)
}
