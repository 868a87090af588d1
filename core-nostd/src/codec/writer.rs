use super::EncodeError;
use core::fmt;

/// Writes fields into a caller-owned buffer, failing (not panicking) when it is full.
pub struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    /// A writer that starts at the front of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.pos).unwrap_or(&[])
    }

    /// Fails without writing anything unless `n` more bytes fit, so that a refused field leaves no
    /// length prefix behind.
    fn ensure_room(&self, n: usize) -> Result<(), EncodeError> {
        let available = self.buf.len() - self.pos;
        if n <= available {
            Ok(())
        } else {
            Err(EncodeError::BufferTooSmall {
                needed: n,
                available,
            })
        }
    }

    /// Appends raw bytes.
    pub fn put_bytes(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let available = self.buf.len() - self.pos;
        let dst = self
            .buf
            .get_mut(self.pos..)
            .and_then(|rest| rest.get_mut(..bytes.len()))
            .ok_or(EncodeError::BufferTooSmall {
                needed: bytes.len(),
                available,
            })?;
        dst.copy_from_slice(bytes);
        self.pos += bytes.len();
        Ok(())
    }

    /// Appends a `u8`.
    pub fn put_u8(&mut self, v: u8) -> Result<(), EncodeError> {
        self.put_bytes(&[v])
    }
    /// Appends a little-endian `u16`.
    pub fn put_u16(&mut self, v: u16) -> Result<(), EncodeError> {
        self.put_bytes(&v.to_le_bytes())
    }
    /// Appends a little-endian `u32`.
    pub fn put_u32(&mut self, v: u32) -> Result<(), EncodeError> {
        self.put_bytes(&v.to_le_bytes())
    }
    /// Appends a little-endian `u64`.
    pub fn put_u64(&mut self, v: u64) -> Result<(), EncodeError> {
        self.put_bytes(&v.to_le_bytes())
    }

    /// Appends `bytes` behind a `u8` length prefix; `max` is the field's maximum (at most 255).
    pub fn put_bytes_u8_len(&mut self, bytes: &[u8], max: usize) -> Result<(), EncodeError> {
        let len = checked_len::<u8>(bytes.len(), max)?;
        self.ensure_room(size_of::<u8>() + bytes.len())?;
        self.put_u8(len)?;
        self.put_bytes(bytes)
    }

    /// Appends `bytes` behind a little-endian `u16` length prefix; `max` is the field's maximum.
    pub fn put_bytes_u16_len(&mut self, bytes: &[u8], max: usize) -> Result<(), EncodeError> {
        let len = checked_len::<u16>(bytes.len(), max)?;
        self.ensure_room(size_of::<u16>() + bytes.len())?;
        self.put_u16(len)?;
        self.put_bytes(bytes)
    }

    /// Appends `bytes` behind a little-endian `u32` length prefix; `max` is the field's maximum.
    pub fn put_bytes_u32_len(&mut self, bytes: &[u8], max: usize) -> Result<(), EncodeError> {
        let len = checked_len::<u32>(bytes.len(), max)?;
        self.ensure_room(size_of::<u32>() + bytes.len())?;
        self.put_u32(len)?;
        self.put_bytes(bytes)
    }
}

fn checked_len<T: TryFrom<usize>>(len: usize, max: usize) -> Result<T, EncodeError> {
    if len > max {
        return Err(EncodeError::TooLong { max, len });
    }
    T::try_from(len).map_err(|_| EncodeError::TooLong { max, len })
}

/// Shows positions, not the bytes: they may be keys or user data.
impl fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Writer({} of {} bytes written)",
            self.pos,
            self.buf.len()
        )
    }
}
