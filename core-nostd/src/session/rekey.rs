//! Key rotation: the control stream carries fresh X25519 keys, both directions ratchet to a new
//! epoch, and the old receive keys are erased after a grace time.
//!
//! The proposer sends `Rekey`, the acceptor answers `RekeyAck` and waits: it moves its own sending
//! to the new epoch only when the proposer's first new-epoch frame arrives (so it never sends what
//! the proposer cannot yet open), and confirms. Each side erases its previous receive keys a grace
//! time after the peer's first frame in the new epoch. If both propose at once, the initiator's
//! proposal wins.

use crate::crypto::x25519::X25519Public;
use crate::time::Instant;

use super::cipher::AeadProvider;
use super::event::{CloseReason, Event};
use super::machine::{Backoff, Rekey, Session};

impl<P: AeadProvider, const STREAMS: usize> Session<P, STREAMS> {
    fn retransmit_timer(&self, now: Instant) -> Option<Backoff> {
        self.datagram()
            .then(|| Backoff::start(now, self.config.retransmit_interval))
    }

    /// Proposes the next epoch, unless a rekey is already under way.
    pub(crate) fn start_rekey(&mut self, now: Instant) {
        if !matches!(self.rekey, Rekey::Idle { .. }) {
            return;
        }
        let Some(keys) = &self.keys else { return };
        let Some(epoch) = keys.send.epoch.checked_add(1) else {
            self.finish_close(CloseReason::EpochsExhausted);
            return;
        };
        let secret = self.rng.x25519();
        self.rekey = Rekey::Proposed {
            epoch,
            secret,
            retransmit: self.retransmit_timer(now),
            deadline: now.saturating_add(self.config.rekey_timeout),
        };
        self.rekey_due = true;
    }

    /// The peer proposed `epoch`.
    pub(crate) fn on_rekey(&mut self, now: Instant, epoch: u32, theirs: &X25519Public) {
        match &self.rekey {
            Rekey::Accepted { epoch: e, .. } if *e == epoch => {
                self.ack_due = true; // our ack was lost
                return;
            }
            Rekey::Idle { .. } => {}
            // Both proposed: the initiator's proposal wins.
            Rekey::Proposed { epoch: e, .. } if *e == epoch && !self.initiator => {}
            _ => return,
        }
        let Some(keys) = &mut self.keys else { return };
        if keys.send.epoch.checked_add(1) != Some(epoch) {
            return;
        }
        let ours = self.rng.x25519();
        let Ok(dh) = ours.diffie_hellman(theirs) else {
            return; // a small-order key: refuse to rekey into a known secret
        };
        let (Some(send_next), Some(recv_next)) = (keys.send.ratchet(&dh), keys.recv.ratchet(&dh))
        else {
            return;
        };
        let old_recv = core::mem::replace(&mut keys.recv, recv_next);
        let kept = old_recv.epoch;
        keys.recv_prev = Some((old_recv, None));
        keys.send_next = Some(send_next);
        self.forget_recv_keys_before(kept);
        self.rekey = Rekey::Accepted {
            epoch,
            ephemeral: ours.public_key(),
            deadline: now.saturating_add(self.config.rekey_timeout),
        };
        self.rekey_due = false;
        self.ack_due = true;
    }

    /// The peer accepted our proposal of `epoch`.
    pub(crate) fn on_rekey_ack(&mut self, now: Instant, epoch: u32, theirs: &X25519Public) {
        let Rekey::Proposed {
            epoch: proposed,
            secret,
            ..
        } = &self.rekey
        else {
            return;
        };
        if *proposed != epoch {
            return;
        }
        let Some(keys) = &mut self.keys else { return };
        let Ok(dh) = secret.diffie_hellman(theirs) else {
            return;
        };
        let (Some(send_next), Some(recv_next)) = (keys.send.ratchet(&dh), keys.recv.ratchet(&dh))
        else {
            return;
        };
        // Our sending moves at once: the peer already holds the new receive key.
        keys.send = send_next;
        let old_recv = core::mem::replace(&mut keys.recv, recv_next);
        let kept = old_recv.epoch;
        keys.recv_prev = Some((old_recv, None));
        self.forget_recv_keys_before(kept);
        self.control.new_send_epoch();
        for s in &mut self.streams {
            s.new_send_epoch();
        }
        self.rekey = Rekey::Confirming {
            epoch,
            retransmit: self.retransmit_timer(now),
            deadline: now.saturating_add(self.config.rekey_timeout),
        };
        self.rekey_due = false;
        self.confirm_due = Some(true);
        self.push_event(Event::Rekeyed { epoch });
    }

    /// An authenticated frame from the peer sealed in `epoch` arrived.
    pub(crate) fn on_peer_epoch(&mut self, now: Instant, epoch: u32) {
        let grace_end = now.saturating_add(self.config.key_grace);
        match self.rekey {
            Rekey::Accepted { epoch: e, .. } if e == epoch => {
                let Some(keys) = &mut self.keys else { return };
                let Some(next) = keys.send_next.take() else {
                    return;
                };
                keys.send = next;
                if let Some((_, at)) = &mut keys.recv_prev {
                    *at = Some(grace_end);
                }
                self.control.new_send_epoch();
                for s in &mut self.streams {
                    s.new_send_epoch();
                }
                self.rekey = Rekey::Idle {
                    next_at: now.saturating_add(self.config.rekey_interval),
                };
                self.confirm_due = Some(false);
                self.push_event(Event::Rekeyed { epoch });
            }
            Rekey::Confirming { epoch: e, .. } if e == epoch => {
                if let Some(keys) = &mut self.keys
                    && let Some((_, at)) = &mut keys.recv_prev
                {
                    *at = Some(grace_end);
                }
                self.rekey = Rekey::Idle {
                    next_at: now.saturating_add(self.config.rekey_interval),
                };
            }
            _ => {}
        }
    }

    /// Rekey timers: the periodic rekey, retransmissions, giving up.
    pub(crate) fn rekey_timeout(&mut self, now: Instant) {
        // The deadline and the retransmission timer of the phase in progress.
        let (deadline, retransmit) = match &mut self.rekey {
            Rekey::Idle { next_at } => {
                if now >= *next_at {
                    self.start_rekey(now);
                }
                return;
            }
            Rekey::Proposed {
                retransmit,
                deadline,
                ..
            }
            | Rekey::Confirming {
                retransmit,
                deadline,
                ..
            } => (*deadline, retransmit.as_mut()),
            Rekey::Accepted { deadline, .. } => (*deadline, None),
        };
        if now >= deadline {
            self.finish_close(CloseReason::RekeyTimeout);
            return;
        }
        if retransmit.is_some_and(|b| b.fire(now)) {
            // Repeat what this phase sends: the proposal, or the confirm.
            match self.rekey {
                Rekey::Proposed { .. } => self.rekey_due = true,
                Rekey::Confirming { .. } => self.confirm_due = Some(true),
                Rekey::Idle { .. } | Rekey::Accepted { .. } => {}
            }
        }
    }

    /// The control message to send for the rekey in progress, if one is due.
    pub(crate) fn due_rekey_message(&mut self) -> Option<super::control::Control> {
        use super::control::Control;
        if self.rekey_due {
            if let Rekey::Proposed { epoch, secret, .. } = &self.rekey {
                self.rekey_due = false;
                return Some(Control::Rekey {
                    epoch: *epoch,
                    ephemeral: secret.public_key(),
                });
            }
            self.rekey_due = false;
        }
        if self.ack_due {
            self.ack_due = false;
            if let Rekey::Accepted {
                epoch, ephemeral, ..
            } = &self.rekey
            {
                return Some(Control::RekeyAck {
                    epoch: *epoch,
                    ephemeral: *ephemeral,
                });
            }
        }
        if let Some(reply) = self.confirm_due.take()
            && let Some(keys) = &self.keys
        {
            return Some(Control::Confirm {
                epoch: keys.send.epoch,
                reply,
            });
        }
        None
    }
}
