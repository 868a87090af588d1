//! Key export for the containment and forward-secrecy tests (feature `test-export-keys`). A product
//! never enables it: it hands out exactly what the session exists to protect.

use crate::crypto::SecretBytes;

use super::cipher::{AeadProvider, CipherId};
use super::machine::Session;

impl<P: AeadProvider, const STREAMS: usize> Session<P, STREAMS> {
    /// The AEAD key of `stream` in `epoch` for frames this side sends (`sending`) or receives, if
    /// the session still holds that epoch's secret.
    pub fn export_stream_key(
        &self,
        stream: u32,
        epoch: u32,
        sending: bool,
        cipher: CipherId,
    ) -> Option<SecretBytes<32>> {
        let keys = self.keys.as_ref()?;
        let candidates = if sending {
            [Some(&keys.send), keys.send_next.as_ref(), None]
        } else {
            [
                Some(&keys.recv),
                keys.recv_prev.as_ref().map(|(s, _)| s),
                None,
            ]
        };
        candidates
            .into_iter()
            .flatten()
            .find(|s| s.epoch == epoch)
            .map(|s| s.stream_key(stream, cipher))
    }

    /// Every epoch secret the session holds, with its epoch: what a thief of the session's memory
    /// would get.
    pub fn export_epoch_secrets(&self) -> heapless::Vec<(u32, SecretBytes<32>), 4> {
        let mut out = heapless::Vec::new();
        if let Some(keys) = &self.keys {
            for s in [
                Some(&keys.send),
                keys.send_next.as_ref(),
                Some(&keys.recv),
                keys.recv_prev.as_ref().map(|(s, _)| s),
            ]
            .into_iter()
            .flatten()
            {
                let _ = out.push((s.epoch, s.secret.clone()));
            }
        }
        out
    }

    /// The epochs of every stream key cached in the session.
    pub fn cached_key_epochs(&self) -> heapless::Vec<u32, 64> {
        let mut out = heapless::Vec::new();
        for e in self
            .control
            .cached_epochs()
            .chain(self.streams.iter().flat_map(|s| s.cached_epochs()))
        {
            if !out.contains(&e) {
                let _ = out.push(e);
            }
        }
        out
    }
}
