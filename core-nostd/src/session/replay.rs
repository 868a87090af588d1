//! The sliding replay window of one receiving stream (RFC 6479's bitmap idea, one bit per counter).

/// Counters the window remembers behind the highest one seen.
pub const REPLAY_WINDOW: u64 = 2048;
const WORDS: usize = (REPLAY_WINDOW / 64) as usize;

/// Why a counter is refused before its frame is even decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReplayError {
    /// This counter was already accepted.
    Replayed,
    /// The counter is further behind the newest than the window reaches.
    TooOld,
    /// The counter is the last one (2^64 - 1), which is never used.
    Exhausted,
}

/// Which counters of a stream have been accepted, for the newest [`REPLAY_WINDOW`] of them.
#[derive(Clone, Debug)]
pub struct ReplayWindow {
    /// One more than the highest accepted counter (0: none yet).
    next: u64,
    bits: [u64; WORDS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow {
            next: 0,
            bits: [0; WORDS],
        }
    }
}

impl ReplayWindow {
    /// One more than the highest counter accepted so far.
    pub fn next_expected(&self) -> u64 {
        self.next
    }

    fn slot(counter: u64) -> (usize, u64) {
        let index = counter % REPLAY_WINDOW;
        ((index / 64) as usize, 1u64 << (index % 64))
    }

    /// Whether `counter` could be accepted. Call before decrypting; [`commit`](Self::commit) after.
    pub fn check(&self, counter: u64) -> Result<(), ReplayError> {
        if counter == u64::MAX {
            return Err(ReplayError::Exhausted);
        }
        if counter >= self.next {
            return Ok(());
        }
        if self.next - counter > REPLAY_WINDOW {
            return Err(ReplayError::TooOld);
        }
        let (word, bit) = Self::slot(counter);
        match self.bits.get(word) {
            Some(w) if w & bit == 0 => Ok(()),
            _ => Err(ReplayError::Replayed),
        }
    }

    /// Records `counter` as accepted (it must have passed [`check`](Self::check) and authenticated).
    pub fn commit(&mut self, counter: u64) {
        if counter == u64::MAX {
            return;
        }
        if counter >= self.next {
            // Clear the slots of the counters the window slides over.
            let advance = counter - self.next + 1;
            if advance >= REPLAY_WINDOW {
                self.bits = [0; WORDS];
            } else {
                for skipped in self.next..=counter {
                    let (word, bit) = Self::slot(skipped);
                    if let Some(w) = self.bits.get_mut(word) {
                        *w &= !bit;
                    }
                }
            }
            self.next = counter + 1;
        }
        let (word, bit) = Self::slot(counter);
        if let Some(w) = self.bits.get_mut(word) {
            *w |= bit;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Against a reference model: a set of everything accepted.
        #[test]
        fn matches_a_set_model(counters in proptest::collection::vec(0u64..6000, 1..600)) {
            // The model: refused if seen, or more than REPLAY_WINDOW behind the highest accepted.
            let mut w = ReplayWindow::default();
            let mut seen = BTreeSet::new();
            let mut highest: Option<u64> = None;
            for c in counters {
                let model = if seen.contains(&c) {
                    Err(ReplayError::Replayed)
                } else if highest.is_some_and(|h| h >= c && h + 1 - c > REPLAY_WINDOW) {
                    Err(ReplayError::TooOld)
                } else {
                    Ok(())
                };
                // The window may only be stricter than "seen" by refusing old counters as TooOld.
                let got = w.check(c);
                match (model, got) {
                    (Err(ReplayError::Replayed), Err(_)) | (Ok(()), Ok(())) => {}
                    (Err(ReplayError::TooOld), Err(ReplayError::TooOld)) => {}
                    (m, g) => prop_assert!(false, "counter {c}: model {m:?}, window {g:?}"),
                }
                if got.is_ok() {
                    w.commit(c);
                    seen.insert(c);
                    highest = Some(highest.map_or(c, |h| h.max(c)));
                }
            }
        }
    }

    #[test]
    fn edges() {
        let mut w = ReplayWindow::default();
        w.commit(REPLAY_WINDOW);
        assert_eq!(w.check(0), Err(ReplayError::TooOld));
        assert_eq!(w.check(1), Ok(()));
        w.commit(1);
        assert_eq!(w.check(1), Err(ReplayError::Replayed));
        assert_eq!(w.check(REPLAY_WINDOW), Err(ReplayError::Replayed));
        w.commit(u64::MAX - 1);
        assert_eq!(w.check(u64::MAX - 1), Err(ReplayError::Replayed));
        assert_eq!(w.check(u64::MAX), Err(ReplayError::Exhausted));
    }
}
