//! The data path: frames in (authenticate, replay-check, deliver), frames out (seal), streams, flow
//! control, and the control messages that ride on stream 0.

use crate::codec::DecodeError;
use crate::crypto::aead::TAG_LEN;
use crate::time::Instant;

use super::cipher::{AeadProvider, CipherId};
use super::control::{Control, MAX_CONTROL_LEN};
use super::error::{InputError, SendError};
use super::event::{CloseReason, Event, Input, StreamId};
use super::frame::{DATA_HEADER_LEN, DATA_OVERHEAD, DataHeader, FrameType};
use super::machine::{EVENT_CAPACITY, EVENTS_PER_INPUT, Phase, Session};
use super::stream::Stream;

impl<P: AeadProvider, const STREAMS: usize> Session<P, STREAMS> {
    /// Takes one frame from the peer (a datagram, or a frame cut by a [`super::Deframer`]). Data is
    /// decrypted in place and returned as a slice of `frame`; then drain [`Self::poll_event`].
    ///
    /// Every error drops only this frame; the session goes on.
    pub fn handle_input<'a>(
        &mut self,
        now: Instant,
        frame: &'a mut [u8],
    ) -> Result<Input<'a>, InputError> {
        if self.closed.is_some() {
            return Err(InputError::Closed);
        }
        if EVENT_CAPACITY - self.events.len() < EVENTS_PER_INPUT {
            return Err(InputError::EventsNotDrained);
        }
        let Some(&first) = frame.first() else {
            return Err(InputError::Malformed(DecodeError::UnexpectedEnd {
                needed: 1,
                remaining: 0,
            }));
        };
        match FrameType::from_u8(first) {
            None => Err(InputError::Malformed(DecodeError::InvalidTag {
                field: "frame type",
                tag: first,
            })),
            Some(FrameType::Data) => self.handle_data(now, frame),
            Some(kind) => self.handle_handshake(now, kind, frame),
        }
    }

    fn is_peer_stream(&self, id: u32) -> bool {
        id != 0 && id.is_multiple_of(2) == self.initiator
    }

    fn handle_data<'a>(
        &mut self,
        now: Instant,
        frame: &'a mut [u8],
    ) -> Result<Input<'a>, InputError> {
        if !self.is_established() {
            return Err(InputError::Unexpected);
        }
        let header = DataHeader::decode(frame)?;
        if header.stream == 0 && header.fin {
            return Err(InputError::Malformed(DecodeError::InvalidValue {
                field: "data flags",
                reason: "FIN on the control stream",
            }));
        }
        let payload_len = frame.len() - DATA_OVERHEAD;
        if payload_len > self.config.max_frame_payload as usize {
            return Err(InputError::TooLarge);
        }
        if header.stream == 0 {
            if header.cipher != CipherId::ChaCha20Poly1305 {
                return Err(InputError::CipherNotNegotiated);
            }
        } else if !self.ciphers.contains(header.cipher) {
            return Err(InputError::CipherNotNegotiated);
        }
        let Some(keys) = &self.keys else {
            return Err(InputError::Closed);
        };
        let secret = if header.epoch == keys.recv.epoch {
            &keys.recv
        } else {
            match &keys.recv_prev {
                Some((prev, _)) if prev.epoch == header.epoch => prev,
                _ => return Err(InputError::UnknownEpoch),
            }
        };

        // Find the stream, or check that the peer may open it (it is made only once authenticated).
        let index = self.streams.iter().position(|s| s.id == header.stream);
        let mut opens = 0usize;
        let mut over_limit = false;
        let mut fresh: Option<Stream<P::Key>> = None;
        let stream: &mut Stream<P::Key> = if header.stream == 0 {
            &mut self.control
        } else if let Some(i) = index {
            match self.streams.get_mut(i) {
                Some(s) => s,
                None => return Err(InputError::UnknownStream),
            }
        } else if self.is_peer_stream(header.stream) && header.stream >= self.peer_next_stream {
            // This id and every lower one of the peer's not yet seen. Over the limit, the frame is
            // still authenticated (on a stream object that is never kept) before anything is done.
            opens = ((header.stream - self.peer_next_stream) / 2) as usize + 1;
            over_limit = self.streams.len() + opens > STREAMS;
            fresh.insert(Stream::new(
                header.stream,
                None,
                self.peer_window(),
                u64::from(self.config.stream_window),
            ))
        } else {
            return Err(InputError::UnknownStream);
        };
        if !stream.recv_open {
            return Err(InputError::UnknownStream);
        }
        let known_cipher = stream.cipher;
        if known_cipher.is_some_and(|c| c != header.cipher) {
            return Err(InputError::Authentication);
        }
        stream
            .window
            .check(header.counter)
            .map_err(InputError::Replay)?;
        if header.counter >= stream.granted {
            return Err(InputError::FlowControl);
        }
        // A key not cached yet (a new epoch, or a stream's first frame, which names its cipher) is
        // derived for this frame and cached only once the frame authenticates.
        let new_key = match stream.cached_recv_key(secret.epoch) {
            Some(_) if known_cipher.is_some() => None,
            _ => Some(
                super::stream::prepare::<P>(secret, header.stream, header.cipher)
                    .ok_or(InputError::CipherNotNegotiated)?,
            ),
        };
        let key = match &new_key {
            Some(k) => k,
            None => stream
                .cached_recv_key(secret.epoch)
                .ok_or(InputError::CipherNotNegotiated)?,
        };
        let (head, rest) = frame.split_at_mut(DATA_HEADER_LEN);
        let (body, tag) = rest.split_at_mut(payload_len);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().map_err(|_| InputError::Authentication)?;
        if P::open(key, &header.nonce(), head, body, &tag).is_err() {
            body.fill(0);
            return Err(InputError::Authentication);
        }

        // Authenticated: from here on the frame counts.
        if over_limit {
            body.fill(0);
            self.refuse_streams_over_limit(header.stream, opens);
            return Err(InputError::StreamLimit);
        }
        if let Some(k) = new_key {
            stream.store_recv_key(header.epoch, k);
        }
        stream.cipher = Some(header.cipher);
        let newly_announced = !stream.announced;
        stream.announced = true;
        stream.window.commit(header.counter);
        let window = u64::from(self.config.stream_window);
        if header.stream != 0 {
            let consumed = stream.window.next_expected();
            if stream.granted.saturating_sub(consumed) < window.div_ceil(2) {
                stream.granted = consumed.saturating_add(window);
                stream.credit_due = true;
            }
        }
        if header.fin {
            stream.recv_open = false;
        }
        let finished_both = !stream.recv_open && !stream.send_open;
        if let Some(new) = fresh {
            // Streams the peer opened before this one, whose frames have not arrived yet.
            for k in 1..opens {
                let id = self.peer_next_stream + 2 * (k as u32 - 1);
                let implicit = Stream::new(
                    id,
                    None,
                    self.peer_window(),
                    u64::from(self.config.stream_window),
                );
                let _ = self.streams.push(implicit); // room was checked above
            }
            self.peer_next_stream = header.stream.saturating_add(2);
            let _ = self.streams.push(new);
        }
        if newly_announced {
            self.push_event(Event::StreamOpened(header.stream));
        }
        self.handshake_confirmed();
        self.on_peer_epoch(now, header.epoch);

        if header.stream == 0 {
            let msg = Control::decode(body)?;
            self.on_control(now, msg);
            return Ok(Input::Nothing);
        }
        if header.fin {
            self.push_event(Event::StreamFinished(header.stream));
            if finished_both {
                self.streams.retain(|s| s.id != header.stream);
            }
        }
        Ok(Input::Data {
            stream: header.stream,
            data: body,
            fin: header.fin,
        })
    }

    /// An authenticated frame opened more of the peer's streams than this side holds: reset them all
    /// (the peer races a reset or finish of its own), or, if the reset queue has no room for that,
    /// drop the frame and let the missing credit tell.
    fn refuse_streams_over_limit(&mut self, stream: u32, opens: usize) {
        if self.resets_due.capacity() - self.resets_due.len() < opens {
            return;
        }
        for k in 0..opens {
            let id = self.peer_next_stream + 2 * k as u32;
            let _ = self.resets_due.push(id); // room was checked
        }
        self.peer_next_stream = stream.saturating_add(2);
    }

    fn peer_window(&self) -> u64 {
        self.peer_hello.map_or(1, |h| u64::from(h.window))
    }

    fn on_control(&mut self, now: Instant, msg: Control) {
        match msg {
            Control::Rekey { epoch, ephemeral } => self.on_rekey(now, epoch, &ephemeral),
            Control::RekeyAck { epoch, ephemeral } => self.on_rekey_ack(now, epoch, &ephemeral),
            Control::Confirm { epoch, reply } => {
                if reply && self.keys.as_ref().is_some_and(|k| k.send.epoch == epoch) {
                    self.confirm_due = Some(false);
                }
            }
            Control::Credit { stream, limit } => {
                if let Some(s) = self.streams.iter_mut().find(|s| s.id == stream)
                    && limit > s.credit
                {
                    s.credit = limit;
                    if s.blocked {
                        s.blocked = false;
                        s.blocked_due = false;
                        s.blocked_retry_at = None;
                        self.push_event(Event::StreamWritable(stream));
                    }
                }
            }
            Control::Blocked { stream, limit } => {
                let window = u64::from(self.config.stream_window);
                if let Some(s) = self.streams.iter_mut().find(|s| s.id == stream) {
                    if limit >= s.granted {
                        // The peer used all it was granted, yet the frames at the end of it never
                        // arrived (lost datagrams): count them as consumed, or the stream stalls.
                        s.granted = s.granted.saturating_add(window);
                    }
                    // Otherwise our last credit was lost: send it again.
                    s.credit_due = true;
                }
            }
            Control::Reset { stream } => {
                let before = self.streams.len();
                self.streams.retain(|s| s.id != stream);
                if self.streams.len() != before {
                    self.push_event(Event::StreamReset(stream));
                }
            }
            Control::Close { code } => self.finish_close(CloseReason::Peer(code)),
        }
    }

    /// Opens a stream of ours with `cipher` (ChaCha20-Poly1305 always works; AES-256-GCM if both
    /// peers offered it). The peer learns of it with its first frame.
    pub fn open_stream(&mut self, cipher: CipherId) -> Result<StreamId, SendError> {
        self.check_can_send()?;
        if !self.ciphers.contains(cipher) {
            return Err(SendError::CipherNotNegotiated);
        }
        let peer_max = self.peer_hello.map_or(0, |h| usize::from(h.max_streams));
        if self.streams.is_full() || self.streams.len() >= peer_max {
            return Err(SendError::StreamLimit);
        }
        let id = self.next_local_stream;
        let Some(next) = id.checked_add(2) else {
            return Err(SendError::StreamLimit);
        };
        let credit = self.peer_window();
        let granted = u64::from(self.config.stream_window);
        self.streams
            .push(Stream::new(id, Some(cipher), credit, granted))
            .map_err(|_| SendError::StreamLimit)?;
        self.next_local_stream = next;
        Ok(id)
    }

    /// Abandons a stream in both directions and tells the peer.
    pub fn reset_stream(&mut self, stream: StreamId) -> Result<(), SendError> {
        self.check_can_send()?;
        let before = self.streams.len();
        self.streams.retain(|s| s.id != stream);
        if self.streams.len() == before {
            return Err(SendError::UnknownStream);
        }
        // If the queue is full the peer learns when its frames fail.
        let _ = self.resets_due.push(stream);
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), SendError> {
        if self.closed.is_some() || self.close_due.is_some() {
            return Err(SendError::Closed);
        }
        if !self.is_established() {
            return Err(SendError::NotEstablished);
        }
        Ok(())
    }

    /// Seals `data` as the next frame of `stream` into `out`; returns the frame's length (with the
    /// length prefix on byte streams). `fin` ends this side of the stream.
    pub fn send(
        &mut self,
        now: Instant,
        stream: StreamId,
        data: &[u8],
        fin: bool,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        let offset = self.payload_offset();
        let end = offset.checked_add(data.len()).ok_or(SendError::TooLarge)?;
        out.get_mut(offset..end)
            .ok_or(SendError::BufferTooSmall)?
            .copy_from_slice(data);
        self.send_in_place(now, stream, out, data.len(), fin)
    }

    /// Like [`send`](Self::send), but the payload is already in `buf` at
    /// [`payload_offset`](Self::payload_offset), so it is sealed without a copy.
    pub fn send_in_place(
        &mut self,
        now: Instant,
        stream: StreamId,
        buf: &mut [u8],
        payload_len: usize,
        fin: bool,
    ) -> Result<usize, SendError> {
        self.check_can_send()?;
        if stream == 0 {
            return Err(SendError::UnknownStream);
        }
        self.seal(now, stream, buf, payload_len, fin)
    }

    fn seal(
        &mut self,
        now: Instant,
        stream_id: StreamId,
        buf: &mut [u8],
        payload_len: usize,
        fin: bool,
    ) -> Result<usize, SendError> {
        if payload_len > self.max_send_payload() {
            return Err(SendError::TooLarge);
        }
        let prefix = self.prefix_len();
        let frame_len = DATA_OVERHEAD + payload_len;
        let total = prefix + frame_len;
        if buf.len() < total {
            return Err(SendError::BufferTooSmall);
        }
        let max_per_epoch = self.config.max_frames_per_epoch;
        let rekey_after = self.config.rekey_after_frames;
        let retransmit = self.config.retransmit_interval;
        let datagram = self.datagram();
        let Some(keys) = &self.keys else {
            return Err(SendError::Closed);
        };
        let stream = if stream_id == 0 {
            &mut self.control
        } else {
            self.streams
                .iter_mut()
                .find(|s| s.id == stream_id)
                .ok_or(SendError::UnknownStream)?
        };
        let Some(cipher) = stream.cipher.filter(|_| stream.send_open) else {
            // Finished, or a peer's stream the application has not heard of yet.
            return Err(SendError::UnknownStream);
        };
        let counter = stream.next_counter;
        // The control stream is exempt: it carries the rekey that lifts the bound.
        if stream_id != 0 && stream.frames_in_epoch() >= max_per_epoch {
            return Err(SendError::WaitForRekey);
        }
        if counter >= stream.credit || counter == u64::MAX - 1 {
            if !stream.blocked {
                stream.blocked = true;
                stream.blocked_due = true;
                stream.blocked_retry_at = datagram.then(|| now.saturating_add(retransmit));
            }
            return Err(SendError::Blocked);
        }
        let header = DataHeader {
            fin,
            cipher,
            stream: stream_id,
            epoch: keys.send.epoch,
            counter,
        };
        let Some(key) = stream.send_key::<P>(&keys.send) else {
            return Err(SendError::CipherNotNegotiated);
        };
        let frame = buf
            .get_mut(prefix..total)
            .ok_or(SendError::BufferTooSmall)?;
        let (head, rest) = frame.split_at_mut(DATA_HEADER_LEN);
        head.copy_from_slice(&header.encode());
        let (body, tag_out) = rest.split_at_mut(payload_len);
        let tag = P::seal(key, &header.nonce(), head, body).map_err(|_| SendError::Cipher)?;
        tag_out.copy_from_slice(&tag);
        super::frame::put_length_prefix(buf, prefix, frame_len);
        stream.next_counter += 1;
        let wants_rekey = stream.frames_in_epoch() >= rekey_after;
        if fin {
            stream.send_open = false;
            if !stream.recv_open {
                self.streams.retain(|s| s.id != stream_id);
            }
        }
        if wants_rekey {
            self.start_rekey(now);
        }
        Ok(total)
    }

    /// The next frame to send that the session itself makes (handshake messages, control messages),
    /// written into `out` (at least [`super::MAX_HANDSHAKE_FRAME`] + 4 bytes); its length, or `None`
    /// when nothing is due. Call until `None` after every input, timeout and send.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        let prefix = self.prefix_len();
        if self.handshake_due && !self.handshake_out.is_empty() {
            let len = self.handshake_out.len();
            let dst = out.get_mut(prefix..prefix + len)?;
            dst.copy_from_slice(&self.handshake_out);
            super::frame::put_length_prefix(out, prefix, len);
            self.handshake_due = false;
            return Some(prefix + len);
        }
        if !matches!(self.phase, Phase::Established) {
            return None;
        }
        if out.len() < prefix + DATA_OVERHEAD + MAX_CONTROL_LEN {
            return None;
        }
        let msg = self.next_control_message(now)?;
        let mut plain = [0u8; MAX_CONTROL_LEN];
        let len = msg.encode(&mut plain).ok()?;
        let payload = out.get_mut(self.payload_offset()..self.payload_offset() + len)?;
        payload.copy_from_slice(plain.get(..len)?);
        let n = self.seal(now, 0, out, len, false).ok()?;
        if let Control::Close { .. } = msg {
            self.finish_close(CloseReason::Local);
        }
        Some(n)
    }

    fn next_control_message(&mut self, now: Instant) -> Option<Control> {
        if let Some(code) = self.close_due {
            return Some(Control::Close { code });
        }
        if let Some(msg) = self.due_rekey_message() {
            return Some(msg);
        }
        if let Some(stream) = self.resets_due.pop() {
            return Some(Control::Reset { stream });
        }
        let retransmit = self.datagram().then_some(self.config.retransmit_interval);
        for s in &mut self.streams {
            if s.credit_due {
                s.credit_due = false;
                return Some(Control::Credit {
                    stream: s.id,
                    limit: s.granted,
                });
            }
            if s.blocked_due {
                s.blocked_due = false;
                s.blocked_retry_at = retransmit.map(|r| now.saturating_add(r));
                return Some(Control::Blocked {
                    stream: s.id,
                    limit: s.credit,
                });
            }
        }
        None
    }
}
