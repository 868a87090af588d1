//! The state of one stream: its send half (counter, credit) and receive half (replay window, credit
//! granted), with the stream's keys cached per epoch.

use crate::crypto::SecretBytes;
use crate::time::Instant;

use super::cipher::{AeadProvider, CipherId};
use super::keys::EpochSecret;
use super::replay::ReplayWindow;

/// One stream of a session (the control stream included).
pub(crate) struct Stream<K> {
    pub(crate) id: u32,
    /// Unknown for a peer's stream that a higher stream's frame opened implicitly, until its own
    /// first frame arrives.
    pub(crate) cipher: Option<CipherId>,
    /// Whether the application has heard of it (our own, or `StreamOpened` was raised).
    pub(crate) announced: bool,

    /// This side may still send (no FIN sent).
    pub(crate) send_open: bool,
    /// Counter of the next frame sent; counters run over the stream's whole life.
    pub(crate) next_counter: u64,
    /// `next_counter` when the current send epoch began, for the per-epoch bounds.
    pub(crate) epoch_first_counter: u64,
    /// Frames with counters below this may be sent (the peer's credit).
    pub(crate) credit: u64,
    /// A send was refused for lack of credit; the peer is told with `Blocked`.
    pub(crate) blocked: bool,
    pub(crate) blocked_due: bool,
    pub(crate) blocked_retry_at: Option<Instant>,
    pub(crate) send_key: Option<(u32, K)>,

    /// The peer may still send (no FIN received).
    pub(crate) recv_open: bool,
    pub(crate) window: ReplayWindow,
    /// Counters below this were granted to the peer.
    pub(crate) granted: u64,
    pub(crate) credit_due: bool,
    /// Keys of up to two receive epochs (the current and, during a grace time, the previous).
    pub(crate) recv_keys: [Option<(u32, K)>; 2],
}

impl<K> Stream<K> {
    pub(crate) fn new(id: u32, cipher: Option<CipherId>, credit: u64, granted: u64) -> Self {
        Stream {
            id,
            cipher,
            announced: cipher.is_some(),
            send_open: true,
            next_counter: 0,
            epoch_first_counter: 0,
            credit,
            blocked: false,
            blocked_due: false,
            blocked_retry_at: None,
            send_key: None,
            recv_open: true,
            window: ReplayWindow::default(),
            granted,
            credit_due: false,
            recv_keys: [None, None],
        }
    }

    /// Frames sent in the current epoch.
    pub(crate) fn frames_in_epoch(&self) -> u64 {
        self.next_counter - self.epoch_first_counter
    }

    /// The send key of `secret`'s epoch, derived on first use.
    pub(crate) fn send_key<P: AeadProvider<Key = K>>(
        &mut self,
        secret: &EpochSecret,
    ) -> Option<&K> {
        if self
            .send_key
            .as_ref()
            .is_none_or(|(e, _)| *e != secret.epoch)
        {
            let key = prepare::<P>(secret, self.id, self.cipher?)?;
            self.send_key = Some((secret.epoch, key));
        }
        self.send_key.as_ref().map(|(_, k)| k)
    }

    /// The cached receive key of `epoch`, if any.
    pub(crate) fn cached_recv_key(&self, epoch: u32) -> Option<&K> {
        self.recv_keys
            .iter()
            .flatten()
            .find(|(e, _)| *e == epoch)
            .map(|(_, k)| k)
    }

    /// Caches the receive key of `epoch` (only once a frame under it authenticated), in an empty slot
    /// or in place of the older epoch.
    pub(crate) fn store_recv_key(&mut self, epoch: u32, key: K) {
        let [a, b] = &self.recv_keys;
        let i = match (a, b) {
            (None, _) => 0,
            (_, None) => 1,
            (Some((ea, _)), Some((eb, _))) => usize::from(eb < ea),
        };
        if let Some(slot) = self.recv_keys.get_mut(i) {
            *slot = Some((epoch, key));
        }
    }

    /// Drops cached receive keys of epochs before `epoch`.
    pub(crate) fn forget_recv_before(&mut self, epoch: u32) {
        for slot in &mut self.recv_keys {
            if slot.as_ref().is_some_and(|(e, _)| *e < epoch) {
                *slot = None;
            }
        }
    }

    /// Starts a new send epoch: the old key goes, the per-epoch count restarts.
    pub(crate) fn new_send_epoch(&mut self) {
        self.send_key = None;
        self.epoch_first_counter = self.next_counter;
    }

    /// Epochs whose keys this stream caches (for the forward-secrecy test).
    #[cfg(feature = "test-export-keys")]
    pub(crate) fn cached_epochs(&self) -> impl Iterator<Item = u32> + '_ {
        self.send_key
            .iter()
            .map(|(e, _)| *e)
            .chain(self.recv_keys.iter().flatten().map(|(e, _)| *e))
    }
}

pub(crate) fn prepare<P: AeadProvider>(
    secret: &EpochSecret,
    stream: u32,
    cipher: CipherId,
) -> Option<P::Key> {
    let key: SecretBytes<32> = secret.stream_key(stream, cipher);
    P::prepare(cipher, &key)
}
