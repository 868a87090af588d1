//! Polled driver for the SMSC LAN9118 Ethernet controller as QEMU models it (`hw/net/lan9118.c`) on
//! the Arm MPS2 boards, where it sits at [`MPS2_BASE`].
//!
//! [`Lan9118`] is the register-level driver: reset, MAC address, enable, and one frame in or out
//! through the data FIFOs, with no interrupt and no allocation. [`net`] puts it under embassy-net.
//!
//! The device is used in 32-bit mode with the simplest FIFO formats: TX buffers are whole frames
//! (first and last segment at once), 4-byte end alignment, no data offset; RX has no offset and no
//! end padding. See `README.md` for what QEMU models and what it does not.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod net;

use core::ptr;

/// Where the LAN9118 is on QEMU's `mps2-an385`/`mps2-an386`/`mps2-an500`/`mps2-an511` (`hw/arm/mps2.c`).
pub const MPS2_BASE: usize = 0x4020_0000;

/// The largest frame [`Lan9118::transmit`] takes and the receive path expects, without the FCS:
/// 1514 bytes plus a 4-byte VLAN tag.
pub const MAX_FRAME_LEN: usize = 1518;

/// The smallest frame: an Ethernet header (QEMU itself drops anything shorter on receive).
pub const MIN_FRAME_LEN: usize = 14;

/// Bound on every busy-wait (reset, MAC CSR and MII accesses). QEMU completes them at once; real
/// hardware needs well under a millisecond, a few thousand reads at most.
const SPIN_LIMIT: u32 = 100_000;

/// The FCS the receive path finds after every frame (QEMU computes and appends it too).
const FCS_LEN: usize = 4;

/// Register offsets (system CSRs and FIFO ports) and the bits the driver uses.
mod reg {
    /// RX data FIFO port (any offset in 0x00..0x20 pops it).
    pub const RX_DATA_FIFO: usize = 0x00;
    /// TX data FIFO port (0x20..0x40).
    pub const TX_DATA_FIFO: usize = 0x20;
    /// RX status FIFO port: one word per received frame.
    pub const RX_STATUS_FIFO: usize = 0x40;
    /// TX status FIFO port: one word per sent frame.
    pub const TX_STATUS_FIFO: usize = 0x48;
    pub const ID_REV: usize = 0x50;
    pub const INT_EN: usize = 0x5c;
    pub const BYTE_TEST: usize = 0x64;
    pub const RX_CFG: usize = 0x6c;
    pub const TX_CFG: usize = 0x70;
    pub const HW_CFG: usize = 0x74;
    pub const RX_FIFO_INF: usize = 0x7c;
    pub const TX_FIFO_INF: usize = 0x80;
    pub const PMT_CTRL: usize = 0x84;
    pub const MAC_CSR_CMD: usize = 0xa4;
    pub const MAC_CSR_DATA: usize = 0xa8;

    /// What BYTE_TEST reads in 32-bit mode with the right byte order.
    pub const BYTE_TEST_VALUE: u32 = 0x8765_4321;
    /// HW_CFG: soft reset, self-clearing.
    pub const HW_CFG_SRST: u32 = 1 << 0;
    /// PMT_CTRL: the device is ready after reset.
    pub const PMT_CTRL_READY: u32 = 1 << 0;
    /// TX_CFG: transmitter on; status-FIFO overrun allowed (so that unread TX statuses never stall
    /// transmission; the driver still drains them to count errors).
    pub const TX_CFG_TX_ON: u32 = 1 << 1;
    pub const TX_CFG_TXSAO: u32 = 1 << 2;
    /// RX_CFG: discard everything in the RX FIFOs.
    pub const RX_CFG_RX_DUMP: u32 = 1 << 15;
    /// MAC_CSR_CMD: busy (start), read (else write); the MAC register index is in bits 7:0.
    pub const MAC_CSR_BUSY: u32 = 1 << 31;
    pub const MAC_CSR_READ: u32 = 1 << 30;

    /// MAC CSR (indirect) register indices.
    pub const MAC_CR: u32 = 1;
    pub const MAC_ADDRH: u32 = 2;
    pub const MAC_ADDRL: u32 = 3;
    pub const MAC_MII_ACC: u32 = 6;
    pub const MAC_MII_DATA: u32 = 7;

    /// MAC_CR bits.
    pub const MAC_CR_FDPX: u32 = 1 << 20;
    /// Pass all multicast (IPv6 neighbour discovery needs it; the hash filter is not used).
    pub const MAC_CR_MCPAS: u32 = 1 << 19;
    pub const MAC_CR_TXEN: u32 = 1 << 3;
    pub const MAC_CR_RXEN: u32 = 1 << 2;

    /// MII_ACC: PHY address in bits 15:11, PHY register in 10:6, write (else read), busy.
    pub const MII_WRITE: u32 = 1 << 1;
    pub const MII_BUSY: u32 = 1 << 0;
    /// The internal PHY's address.
    pub const PHY_ADDR: u32 = 1;
    /// PHY registers: basic control and status, auto-negotiation advertisement and link partner
    /// ability.
    pub const PHY_BCR: u32 = 0;
    pub const PHY_BSR: u32 = 1;
    pub const PHY_ANAR: u32 = 4;
    pub const PHY_ANLPAR: u32 = 5;
    pub const PHY_BCR_LOOPBACK: u16 = 1 << 14;
    pub const PHY_BSR_LINK: u16 = 1 << 2;

    /// TX command A: first and last segment (the buffer is the whole frame); buffer size in 10:0.
    /// End alignment (25:24) 0 = 4 bytes, data start offset (20:16) 0.
    pub const TX_CMD_A_FIRST: u32 = 1 << 13;
    pub const TX_CMD_A_LAST: u32 = 1 << 12;
    /// TX/RX status: error summary.
    pub const STATUS_ES: u32 = 1 << 15;
}

/// Why an operation failed. Nothing here panics: bad frames are reported, dropped and counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// BYTE_TEST did not read `0x87654321`: no LAN9118 at this address (or wrong bus mode).
    NotFound,
    /// The device did not finish a reset, MAC CSR or PHY access within the spin bound.
    Timeout,
    /// [`Lan9118::transmit`]: the frame is shorter than [`MIN_FRAME_LEN`] or longer than
    /// [`MAX_FRAME_LEN`] (the length is given). Nothing was sent.
    BadLength(usize),
    /// [`Lan9118::transmit`]: the TX data FIFO has no room for the frame now; try again later.
    TxFifoFull,
    /// [`Lan9118::receive`]: the frame (its length without FCS is given) does not fit the caller's
    /// buffer. It was dropped and counted in [`Stats::rx_too_long`].
    FrameTooLong(usize),
    /// [`Lan9118::receive`]: the device flagged the frame as bad, or its status is inconsistent with
    /// the data FIFO (the raw RX status word is given). Dropped and counted in [`Stats::rx_bad`].
    BadFrame(u32),
}

/// Frame counters, wrapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Frames handed to the caller.
    pub rx_frames: u32,
    /// Frames dropped because they did not fit the caller's buffer.
    pub rx_too_long: u32,
    /// Frames dropped because the device flagged them, or the FIFOs were out of step.
    pub rx_bad: u32,
    /// Frames written to the TX FIFO.
    pub tx_frames: u32,
    /// TX statuses with the error-summary bit (QEMU never sets it).
    pub tx_errors: u32,
}

/// A LAN9118 at a fixed address, used without interrupts.
pub struct Lan9118 {
    base: usize,
    /// Packet tag for TX command B, echoed in the TX status.
    tag: u16,
    stats: Stats,
}

impl Lan9118 {
    /// A driver for the LAN9118 whose 256-byte register window starts at `base` ([`MPS2_BASE`] on
    /// QEMU's MPS2 boards). Touches no register; call [`init`](Self::init) next.
    ///
    /// # Safety
    /// `base` must be the address of a LAN9118's register window (mapped as device memory), and the
    /// returned value must be the only thing that accesses it for as long as it lives.
    pub const unsafe fn new(base: usize) -> Self {
        Self {
            base,
            tag: 0,
            stats: Stats {
                rx_frames: 0,
                rx_too_long: 0,
                rx_bad: 0,
                tx_frames: 0,
                tx_errors: 0,
            },
        }
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: `base` is a LAN9118 register window owned by `self`. Every
        // `offset` is a constant from `reg`, 4-aligned and below 0x100, so the 32-bit access stays
        // inside the window. Reading a FIFO port pops it; the callers account for that.
        unsafe { ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&mut self, offset: usize, value: u32) {
        // SAFETY: as in `read`: an aligned 32-bit access inside the owned register window.
        unsafe { ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Spins until `done(register)` holds, at most `SPIN_LIMIT` reads.
    fn wait(&self, offset: usize, done: impl Fn(u32) -> bool) -> Result<u32, Error> {
        for _ in 0..SPIN_LIMIT {
            let v = self.read(offset);
            if done(v) {
                return Ok(v);
            }
        }
        Err(Error::Timeout)
    }

    /// Probes, soft-resets and enables the device: [`probe`](Self::probe), [`reset`](Self::reset),
    /// [`enable`](Self::enable). The MAC address is the one QEMU was given (`-nic ...,mac=`), or
    /// its default 52:54:00:12:34:56; change it with [`set_mac_address`](Self::set_mac_address).
    pub fn init(&mut self) -> Result<(), Error> {
        self.probe()?;
        self.reset()?;
        self.enable()
    }

    /// Checks that a LAN9118 answers at `base` (BYTE_TEST); returns ID_REV (QEMU: `0x01180001`).
    pub fn probe(&self) -> Result<u32, Error> {
        if self.read(reg::BYTE_TEST) != reg::BYTE_TEST_VALUE {
            return Err(Error::NotFound);
        }
        Ok(self.read(reg::ID_REV))
    }

    /// Soft reset (HW_CFG.SRST), then waits for SRST to clear and PMT_CTRL.READY. Every register
    /// returns to its default, the FIFOs are emptied, the transmitter and receiver are off, and
    /// the MAC address is reloaded (in QEMU, from its emulated EEPROM: the `-nic` address).
    pub fn reset(&mut self) -> Result<(), Error> {
        self.write(reg::HW_CFG, reg::HW_CFG_SRST);
        self.wait(reg::HW_CFG, |v| v & reg::HW_CFG_SRST == 0)?;
        self.wait(reg::PMT_CTRL, |v| v & reg::PMT_CTRL_READY != 0)?;
        Ok(())
    }

    /// Turns the transmitter and receiver on: interrupts masked (the driver polls), RX with no
    /// offset or padding, TX on with status overrun allowed, and the MAC filtering for its own
    /// address, broadcast and all multicast, in the duplex the PHY negotiated.
    pub fn enable(&mut self) -> Result<(), Error> {
        self.write(reg::INT_EN, 0);
        self.write(reg::RX_CFG, 0);
        // Replaces the reset value, which QEMU makes promiscuous (PRMS): own address, broadcast
        // and multicast only.
        let mut mac_cr = reg::MAC_CR_TXEN | reg::MAC_CR_RXEN | reg::MAC_CR_MCPAS;
        if self.full_duplex()? {
            mac_cr |= reg::MAC_CR_FDPX;
        }
        self.mac_write(reg::MAC_CR, mac_cr)?;
        self.write(reg::TX_CFG, reg::TX_CFG_TX_ON | reg::TX_CFG_TXSAO);
        Ok(())
    }

    /// The station (MAC) address, from MAC ADDRH/ADDRL.
    pub fn mac_address(&mut self) -> Result<[u8; 6], Error> {
        let low = self.mac_read(reg::MAC_ADDRL)?.to_le_bytes();
        let high = self.mac_read(reg::MAC_ADDRH)?.to_le_bytes();
        Ok([low[0], low[1], low[2], low[3], high[0], high[1]])
    }

    /// Sets the station (MAC) address the receive filter matches (and QEMU reports). Frames sent
    /// carry whatever source address the caller writes in them.
    pub fn set_mac_address(&mut self, mac: [u8; 6]) -> Result<(), Error> {
        self.mac_write(
            reg::MAC_ADDRL,
            u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
        )?;
        self.mac_write(reg::MAC_ADDRH, u32::from_le_bytes([mac[4], mac[5], 0, 0]))
    }

    /// Whether the PHY reports a link (basic status register). QEMU: up unless the monitor's
    /// `set_link` took it down.
    pub fn link_up(&mut self) -> Result<bool, Error> {
        Ok(self.phy_read(reg::PHY_BSR)? & reg::PHY_BSR_LINK != 0)
    }

    /// Turns the PHY's internal loopback on or off: while on, every frame sent is received back
    /// (through the address filter) and nothing reaches the network. A self-test.
    pub fn set_loopback(&mut self, on: bool) -> Result<(), Error> {
        let bcr = self.phy_read(reg::PHY_BCR)?;
        let bcr = if on {
            bcr | reg::PHY_BCR_LOOPBACK
        } else {
            bcr & !reg::PHY_BCR_LOOPBACK
        };
        self.phy_write(reg::PHY_BCR, bcr)
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Sends one Ethernet frame (destination address first, no FCS: the device appends it and pads
    /// short frames). Fails without sending if the length is out of range or the TX FIFO has no
    /// room for it now ([`Error::TxFifoFull`]: retry later).
    pub fn transmit(&mut self, frame: &[u8]) -> Result<(), Error> {
        self.drain_tx_status();
        if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&frame.len()) {
            return Err(Error::BadLength(frame.len()));
        }
        // TDFREE (bits 15:0): free bytes in the TX data FIFO, command words included.
        let free = (self.read(reg::TX_FIFO_INF) & 0xffff) as usize;
        if free < tx_fifo_bytes(frame.len()) {
            return Err(Error::TxFifoFull);
        }
        let tag = self.tag;
        self.tag = self.tag.wrapping_add(1);
        // The FIFO takes the frame once the last word is in; QEMU sends it at that moment.
        tx_words(frame, tag, |word| self.write(reg::TX_DATA_FIFO, word));
        self.stats.tx_frames = self.stats.tx_frames.wrapping_add(1);
        Ok(())
    }

    /// Pops the TX statuses of sent frames (TXSUSED, bits 23:16), counting those with errors.
    fn drain_tx_status(&mut self) {
        let waiting = (self.read(reg::TX_FIFO_INF) >> 16) & 0xff;
        for _ in 0..waiting {
            if self.read(reg::TX_STATUS_FIFO) & reg::STATUS_ES != 0 {
                self.stats.tx_errors = self.stats.tx_errors.wrapping_add(1);
            }
        }
    }

    /// Takes the next received frame, if any, into `buf` and returns its length (without FCS).
    ///
    /// `None`: nothing waiting. `Some(Err(..))`: a frame was waiting but is dropped (too long for
    /// `buf`, or flagged bad) and counted; call again for the next one.
    pub fn receive(&mut self, buf: &mut [u8]) -> Option<Result<usize, Error>> {
        // RXSUSED (bits 23:16): frames whose status is waiting; RXDUSED (15:0): bytes of data.
        let inf = self.read(reg::RX_FIFO_INF);
        if (inf >> 16) & 0xff == 0 {
            return None;
        }
        let status = self.read(reg::RX_STATUS_FIFO);
        let len = rx_status_len(status);
        let words = len.div_ceil(4);
        if words * 4 > (inf & 0xffff) as usize {
            // The status promises more data than the FIFO holds: the two are out of step and no
            // later frame can be trusted. Empty both FIFOs.
            self.write(reg::RX_CFG, reg::RX_CFG_RX_DUMP);
            self.stats.rx_bad = self.stats.rx_bad.wrapping_add(1);
            return Some(Err(Error::BadFrame(status)));
        }
        let verdict = rx_verdict(status, buf.len());
        let copy = verdict.unwrap_or(0);
        // Pop exactly the frame's words (FCS included) whatever happens, keeping the FIFO in step.
        // (RX_DP_CTRL's fast-forward would be quicker, but QEMU's model of it does not update its
        // FIFO accounting; reading the words out works everywhere.)
        rx_copy(&mut buf[..copy], words, || self.read(reg::RX_DATA_FIFO));
        match verdict {
            Ok(_) => self.stats.rx_frames = self.stats.rx_frames.wrapping_add(1),
            Err(Error::FrameTooLong(_)) => {
                self.stats.rx_too_long = self.stats.rx_too_long.wrapping_add(1)
            }
            Err(_) => self.stats.rx_bad = self.stats.rx_bad.wrapping_add(1),
        }
        Some(verdict)
    }

    fn mac_read(&mut self, index: u32) -> Result<u32, Error> {
        self.wait(reg::MAC_CSR_CMD, |v| v & reg::MAC_CSR_BUSY == 0)?;
        self.write(
            reg::MAC_CSR_CMD,
            reg::MAC_CSR_BUSY | reg::MAC_CSR_READ | index,
        );
        self.wait(reg::MAC_CSR_CMD, |v| v & reg::MAC_CSR_BUSY == 0)?;
        Ok(self.read(reg::MAC_CSR_DATA))
    }

    fn mac_write(&mut self, index: u32, value: u32) -> Result<(), Error> {
        self.wait(reg::MAC_CSR_CMD, |v| v & reg::MAC_CSR_BUSY == 0)?;
        self.write(reg::MAC_CSR_DATA, value);
        self.write(reg::MAC_CSR_CMD, reg::MAC_CSR_BUSY | index);
        self.wait(reg::MAC_CSR_CMD, |v| v & reg::MAC_CSR_BUSY == 0)?;
        Ok(())
    }

    /// Reads a register of the internal PHY through the MAC's MII_ACC/MII_DATA. (QEMU implements
    /// registers 0-6, 29 and 30 and logs an error for the others: only those are used.)
    fn phy_read(&mut self, phy_reg: u32) -> Result<u16, Error> {
        self.mii_access(phy_reg, 0)?;
        Ok(self.mac_read(reg::MAC_MII_DATA)? as u16)
    }

    fn phy_write(&mut self, phy_reg: u32, value: u16) -> Result<(), Error> {
        self.mii_wait()?;
        self.mac_write(reg::MAC_MII_DATA, value.into())?;
        self.mii_access(phy_reg, reg::MII_WRITE)
    }

    /// Starts a PHY register access (`write`: `MII_WRITE` or 0) and waits for it to end.
    fn mii_access(&mut self, phy_reg: u32, write: u32) -> Result<(), Error> {
        self.mii_wait()?;
        let acc = (reg::PHY_ADDR << 11) | (phy_reg << 6) | write | reg::MII_BUSY;
        self.mac_write(reg::MAC_MII_ACC, acc)?;
        self.mii_wait()
    }

    fn mii_wait(&mut self) -> Result<(), Error> {
        for _ in 0..SPIN_LIMIT {
            if self.mac_read(reg::MAC_MII_ACC)? & reg::MII_BUSY == 0 {
                return Ok(());
            }
        }
        Err(Error::Timeout)
    }

    /// The duplex auto-negotiation settles on: the best mode both ends advertise (100BASE-TX full
    /// and half, then 10BASE-T full and half). QEMU's PHY resolves to 100 full.
    fn full_duplex(&mut self) -> Result<bool, Error> {
        let common = self.phy_read(reg::PHY_ANAR)? & self.phy_read(reg::PHY_ANLPAR)?;
        Ok(resolve_full_duplex(common))
    }
}

/// Full duplex if the best mode in `common` (ANAR & ANLPAR) is a full-duplex one.
fn resolve_full_duplex(common: u16) -> bool {
    const FULL_100: u16 = 1 << 8;
    const HALF_100: u16 = 1 << 7;
    const FULL_10: u16 = 1 << 6;
    common & FULL_100 != 0 || (common & HALF_100 == 0 && common & FULL_10 != 0)
}

/// TX FIFO space a frame of `len` bytes takes: command A and B, then the data in whole words.
fn tx_fifo_bytes(len: usize) -> usize {
    8 + len.div_ceil(4) * 4
}

/// The words that carry `frame` through the TX data FIFO, in order: command A (first and last
/// segment, buffer size), command B (packet tag, packet length), then the data, little-endian, the
/// last word zero-padded. `frame.len()` must fit 11 bits (the caller checked [`MAX_FRAME_LEN`]).
fn tx_words(frame: &[u8], tag: u16, mut push: impl FnMut(u32)) {
    let len = frame.len() as u32 & 0x7ff;
    push(reg::TX_CMD_A_FIRST | reg::TX_CMD_A_LAST | len);
    push(u32::from(tag) << 16 | len);
    for chunk in frame.chunks(4) {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        push(u32::from_le_bytes(word));
    }
}

/// The byte count in an RX status word (bits 29:16): the frame plus its 4-byte FCS.
fn rx_status_len(status: u32) -> usize {
    ((status >> 16) & 0x3fff) as usize
}

/// What to do with a received frame given its status and the caller's buffer: its length without
/// FCS, or why it is dropped.
fn rx_verdict(status: u32, buf_len: usize) -> Result<usize, Error> {
    let len = rx_status_len(status);
    if status & reg::STATUS_ES != 0 || len < MIN_FRAME_LEN + FCS_LEN {
        return Err(Error::BadFrame(status));
    }
    let frame_len = len - FCS_LEN;
    if frame_len > buf_len {
        return Err(Error::FrameTooLong(frame_len));
    }
    Ok(frame_len)
}

/// Pops `words` words (a whole frame with its FCS) and fills `buf` from their first bytes
/// (little-endian); the rest, FCS included, is read and discarded. `buf` may be empty (dropping).
fn rx_copy(buf: &mut [u8], words: usize, mut pop: impl FnMut() -> u32) {
    let mut chunks = buf.chunks_mut(4);
    for _ in 0..words {
        let word = pop().to_le_bytes();
        if let Some(chunk) = chunks.next() {
            let n = chunk.len();
            chunk.copy_from_slice(&word[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn words(frame: &[u8], tag: u16) -> Vec<u32> {
        let mut out = Vec::new();
        tx_words(frame, tag, |w| out.push(w));
        out
    }

    #[test]
    fn tx_command_words_and_padding() {
        let frame: Vec<u8> = (1..=15).collect();
        let w = words(&frame, 0xabcd);
        // A: first | last | 15 bytes; B: tag << 16 | 15; then 4 data words, the last padded.
        assert_eq!(
            w,
            [
                0x0000_300f,
                0xabcd_000f,
                0x0403_0201,
                0x0807_0605,
                0x0c0b_0a09,
                0x000f_0e0d
            ]
        );
        assert_eq!(tx_fifo_bytes(15), 8 + 16);
    }

    #[test]
    fn tx_whole_words_and_max_frame() {
        let w = words(&[0xff; 16], 1);
        assert_eq!(w.len(), 2 + 4);
        assert_eq!(w[0], 0x3010);
        let w = words(&[0; MAX_FRAME_LEN], 0);
        assert_eq!(w[0] & 0x7ff, MAX_FRAME_LEN as u32);
        assert_eq!(w.len(), 2 + MAX_FRAME_LEN.div_ceil(4));
        assert_eq!(tx_fifo_bytes(MAX_FRAME_LEN), 8 + 1520);
    }

    /// What QEMU's `lan9118_receive` pushes for a frame: its bytes little-endian, then the FCS
    /// starting right after the last byte (not word-aligned), and the status `(len + 4) << 16`.
    fn qemu_rx(frame: &[u8]) -> (u32, Vec<u32>) {
        let mut bytes = frame.to_vec();
        bytes.extend_from_slice(&[0xc1, 0xc2, 0xc3, 0xc4]);
        let words = bytes
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(w)
            })
            .collect();
        (((frame.len() + 4) as u32) << 16, words)
    }

    fn receive(frame: &[u8], buf: &mut [u8]) -> (Result<usize, Error>, usize) {
        let (status, fifo) = qemu_rx(frame);
        let verdict = rx_verdict(status, buf.len());
        let copy = verdict.unwrap_or(0);
        let words = rx_status_len(status).div_ceil(4);
        assert_eq!(words, fifo.len(), "the status tells how many words to pop");
        let mut it = fifo.iter();
        let mut popped = 0;
        rx_copy(&mut buf[..copy], words, || {
            popped += 1;
            *it.next().expect("no underflow")
        });
        (verdict, popped)
    }

    #[test]
    fn rx_strips_fcs_for_every_alignment() {
        for len in [14usize, 42, 59, 60, 61, 62, 63, 1514, MAX_FRAME_LEN] {
            let frame: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            let mut buf = [0u8; MAX_FRAME_LEN];
            let (verdict, popped) = receive(&frame, &mut buf);
            assert_eq!(verdict, Ok(len));
            assert_eq!(&buf[..len], &frame[..]);
            assert_eq!(popped, (len + 4).div_ceil(4));
        }
    }

    #[test]
    fn rx_too_long_is_dropped_but_popped() {
        let frame = [7u8; 100];
        let mut buf = [0u8; 64];
        let (verdict, popped) = receive(&frame, &mut buf);
        assert_eq!(verdict, Err(Error::FrameTooLong(100)));
        assert_eq!(popped, 26);
        assert_eq!(buf, [0u8; 64], "nothing written");
    }

    #[test]
    fn rx_bad_status() {
        assert_eq!(
            rx_verdict(64 << 16 | reg::STATUS_ES, 1518),
            Err(Error::BadFrame(64 << 16 | 1 << 15))
        );
        assert_eq!(
            rx_verdict(17 << 16, 1518),
            Err(Error::BadFrame(17 << 16)),
            "runt"
        );
        assert_eq!(rx_verdict(18 << 16, 1518), Ok(14));
        // Filter-fail (bit 30) and broadcast (bit 13) bits do not disturb the length.
        assert_eq!(rx_verdict(1 << 30 | 64 << 16 | 1 << 13, 1518), Ok(60));
    }

    #[test]
    fn duplex_resolution() {
        // QEMU: ANAR 0x01e1, ANLPAR 0x0f71.
        assert!(resolve_full_duplex(0x01e1 & 0x0f71));
        assert!(!resolve_full_duplex(0x00a0)); // 100 half + 10 half
        assert!(!resolve_full_duplex(0x00c0)); // 100 half beats 10 full
        assert!(resolve_full_duplex(0x0040));
        assert!(!resolve_full_duplex(0));
    }
}
