use super::DecodeError;
use core::fmt;

/// Reads fields from the front of a borrowed byte slice. Every read checks the remaining length first.
#[derive(Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over all of `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// Bytes not yet read.
    pub const fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The unread bytes, without consuming them.
    pub const fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Succeeds only if every byte has been read.
    pub const fn finish(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                extra: self.rest.len(),
            })
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let Some((head, tail)) = self.rest.split_at_checked(n) else {
            return Err(DecodeError::UnexpectedEnd {
                needed: n,
                remaining: self.rest.len(),
            });
        };
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let Some((head, tail)) = self.rest.split_first_chunk::<N>() else {
            return Err(DecodeError::UnexpectedEnd {
                needed: N,
                remaining: self.rest.len(),
            });
        };
        self.rest = tail;
        Ok(*head)
    }

    /// A `u8`.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(u8::from_le_bytes(self.array()?))
    }
    /// A little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A `u8` count of items that follow, refused (`LengthTooLarge`) above `max` before any of
    /// them is read.
    pub fn count_u8(&mut self, field: &'static str, max: usize) -> Result<usize, DecodeError> {
        let count = usize::from(self.u8()?);
        if count > max {
            return Err(DecodeError::LengthTooLarge {
                field,
                max,
                found: count,
            });
        }
        Ok(count)
    }

    /// Bytes behind a `u8` length prefix, refused before reading them if the prefix exceeds `max`.
    pub fn bytes_u8_len(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(self.u8()?);
        self.bounded(field, len, max)
    }

    /// Bytes behind a little-endian `u16` length prefix, refused if the prefix exceeds `max`.
    pub fn bytes_u16_len(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(self.u16()?);
        self.bounded(field, len, max)
    }

    /// Bytes behind a little-endian `u32` length prefix, refused if the prefix exceeds `max`.
    pub fn bytes_u32_len(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.bounded(field, len, max)
    }

    fn bounded(
        &mut self,
        field: &'static str,
        len: usize,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        if len > max {
            return Err(DecodeError::LengthTooLarge {
                field,
                max,
                found: len,
            });
        }
        self.take(len)
    }
}

/// Shows how much is left, not the bytes: they may be keys or user data.
impl fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reader({} bytes left)", self.rest.len())
    }
}
