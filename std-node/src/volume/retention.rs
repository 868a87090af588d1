//! Retention: which old snapshots this device keeps (`gofast fs retain`). Every snapshot is kept
//! unless a policy says otherwise (`Retention`, in the volume's state).
//!
//! A snapshot's own pin holds only the blocks it brought; the blocks it shares with older
//! snapshots are held by theirs. So dropping old snapshots first pins, under one `retained` pin,
//! every block of the snapshots kept (their trees walked together: what they share is walked
//! once), and only then removes the pins of the snapshots let go. Their blocks become cache
//! blocks (`gofast gc` and the cache's quota reclaim them); once collected they leave the log.

use std::collections::HashSet;
use std::sync::Arc;

use gofast_core::block::BlockRef;

use super::Volumes;
use super::ops::blocking;
use super::snapshots::{self, now_ns};
use super::state::{Retention, VolumeState};
use crate::error::Error;
use crate::node::Leaves;
use crate::tree_ids::DirTreeIds;

/// What applying a retention did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetainReport {
    /// The policy now in force.
    pub retention: Retention,
    /// Snapshots kept.
    pub kept: usize,
    /// Snapshots let go now (their pins removed).
    pub dropped: usize,
}

impl Volumes {
    /// Sets volume `name`'s retention (when given) and applies it now.
    pub async fn retain(
        &self,
        name: &str,
        retention: Option<Retention>,
    ) -> Result<RetainReport, Error> {
        let v = self.volume(name)?;
        let mut state = v.lock().await;
        if let Some(r) = retention {
            state.retention = r;
            state.save(&self.data_dir)?;
        }
        self.apply_retention(&state).await
    }

    /// Drops the pins of the snapshots the retention lets go, after pinning every block of those
    /// it keeps. Nothing to do when every snapshot is kept.
    pub(super) async fn apply_retention(&self, state: &VolumeState) -> Result<RetainReport, Error> {
        let retention = state.retention;
        let mut report = RetainReport {
            retention,
            ..RetainReport::default()
        };
        let Some(head) = state.head.clone() else {
            return Ok(report);
        };
        if retention.keeps_all() {
            return Ok(report);
        }
        let now = now_ns();
        // The newest snapshots, by height, up to the first the policy lets go.
        let kept = self
            .history_while(state, move |i, s| retention.keeps(i, s.time_ns, now))
            .await?;
        report.kept = kept.len();
        let (store, keys) = (Arc::clone(&self.store), state.keys());
        report.dropped = blocking(move || {
            let roots: Vec<BlockRef> = kept.iter().map(|s| s.root.clone()).collect();
            let ids = DirTreeIds::new(&store, &roots, Leaves::Check)
                .chain(kept.iter().map(|s| Ok(s.at.0.id)));
            let prefix = snapshots::pin_prefix(&keys);
            let retained = format!("{prefix}retained");
            store.try_pin(&retained, &head.0, ids)?;
            let kept_ids: HashSet<String> = kept.iter().map(|s| hex::encode(s.at.0.id.0)).collect();
            let mut dropped = HashSet::new();
            for pin in store.pins()? {
                let Some(rest) = pin.label.strip_prefix(&prefix) else {
                    continue;
                };
                // `<snapshot id>` (what it brought) or `<snapshot id>/in` (what taking it in
                // fetched); `retained` is the pin just made.
                let snapshot = rest.split('/').next().unwrap_or_default();
                if pin.label == retained || kept_ids.contains(snapshot) {
                    continue;
                }
                store.unpin(&pin.label)?;
                dropped.insert(snapshot.to_owned());
            }
            Ok(dropped.len())
        })
        .await?;
        Ok(report)
    }
}
