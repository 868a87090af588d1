//! Pins, puts and unpins against a reference model: after every step each block's class, and every
//! pin and unpin report, match what the model of reference counts says. Random sequences over a
//! few blocks and labels, so that pins overlap, replace each other and come before their blocks;
//! ids named twice, pins whose source fails midway (the store stays as it was), and pins taken in
//! batches of a few ids (the path of pins larger than the default batch) as well as whole.

use std::collections::{BTreeMap, BTreeSet};

use gofast_core::block::{BlockId, BlockKey, BlockRef};
use gofast_core::crypto::SecretBytes;
use gofast_core::crypto::hash::hash;
use gofast_node::store::{BlockStore, Class, PIN_BATCH, StoreConfig, StoreError};
use proptest::prelude::*;

const BLOCKS: usize = 8;
const LABELS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Put {
        block: usize,
        permanent: bool,
    },
    /// `members` is a bit set over the blocks; the root is `root`, held whatever the set says.
    /// With `twice`, every id comes again after the others; with `fail`, the source fails after
    /// half of them.
    Pin {
        label: usize,
        root: usize,
        members: u8,
        twice: bool,
        fail: bool,
    },
    Unpin {
        label: usize,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..BLOCKS, any::<bool>()).prop_map(|(block, permanent)| Op::Put { block, permanent }),
        3 => (0..LABELS, 0..BLOCKS, any::<u8>(), any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(label, root, members, twice, fail)| Op::Pin { label, root, members, twice, fail }),
        2 => (0..LABELS).prop_map(|label| Op::Unpin { label }),
        1 => Just(Op::Reopen),
    ]
}

fn block(n: usize) -> (BlockId, Vec<u8>) {
    let data: Vec<u8> = (0..300).map(|i| (i * 13 + n * 101) as u8).collect();
    (BlockId(hash(&data)), data)
}

fn root_ref(id: BlockId) -> BlockRef {
    BlockRef {
        id,
        key: BlockKey(SecretBytes::new([0x33; 32])),
    }
}

/// What the store should hold: each block's class if held, and each pin's members.
#[derive(Default)]
struct Model {
    held: BTreeMap<usize, Class>,
    pins: BTreeMap<usize, BTreeSet<usize>>,
}

impl Model {
    fn refs(&self, b: usize) -> usize {
        self.pins.values().filter(|m| m.contains(&b)).count()
    }

    fn put(&mut self, b: usize, class: Class) {
        let pinned = self.refs(b) > 0;
        let now = match self.held.get(&b) {
            Some(Class::Permanent) => Class::Permanent,
            _ if pinned || class == Class::Permanent => Class::Permanent,
            _ => Class::Cache,
        };
        self.held.insert(b, now);
    }

    /// Releases the members of `old` that `new` does not hold (their last pin gone: a held
    /// permanent block becomes a cache block); returns how many were released.
    fn release(&mut self, gone: &BTreeSet<usize>) -> u64 {
        let mut released = 0;
        for &b in gone {
            if self.refs(b) == 0
                && let Some(class) = self.held.get_mut(&b)
                && *class == Class::Permanent
            {
                *class = Class::Cache;
                released += 1;
            }
        }
        released
    }

    /// Returns (blocks, missing, replaced) as the store's pin report should.
    fn pin(&mut self, label: usize, members: BTreeSet<usize>) -> (u64, u64, bool) {
        let old = self.pins.insert(label, members.clone());
        let replaced = old.is_some();
        let old = old.unwrap_or_default();
        let added: BTreeSet<usize> = members.difference(&old).copied().collect();
        let gone: BTreeSet<usize> = old.difference(&members).copied().collect();
        let missing = added.iter().filter(|b| !self.held.contains_key(b)).count() as u64;
        for b in &added {
            if let Some(class) = self.held.get_mut(b) {
                *class = Class::Permanent;
            }
        }
        self.release(&gone);
        (members.len() as u64, missing, replaced)
    }

    /// Returns (blocks, released) as the store's unpin report should, or `None` without the pin.
    fn unpin(&mut self, label: usize) -> Option<(u64, u64)> {
        let old = self.pins.remove(&label)?;
        let released = self.release(&old);
        Some((old.len() as u64, released))
    }
}

/// The error of a source of ids that fails.
#[derive(Debug)]
enum SourceError {
    Failed,
    // Read only through `Debug`, in a failure's message.
    #[allow(dead_code)]
    Store(StoreError),
}

impl From<StoreError> for SourceError {
    fn from(e: StoreError) -> SourceError {
        SourceError::Store(e)
    }
}

fn run(ops: &[Op], pin_batch: usize) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretBytes::new([0x5a; 32]);
    let config = StoreConfig {
        pin_batch,
        ..StoreConfig::default()
    };
    let open = || BlockStore::open(dir.path(), &key, config.clone()).unwrap();
    let mut store = open();
    let blocks: Vec<_> = (0..BLOCKS).map(block).collect();
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Put { block, permanent } => {
                let class = if permanent {
                    Class::Permanent
                } else {
                    Class::Cache
                };
                let (id, data) = &blocks[block];
                store.put(id, data, class).unwrap();
                model.put(block, class);
            }
            Op::Pin {
                label,
                root,
                members,
                twice,
                fail,
            } => {
                let mut set: BTreeSet<usize> =
                    (0..BLOCKS).filter(|b| members & (1 << b) != 0).collect();
                set.insert(root);
                let mut ids: Vec<Result<BlockId, SourceError>> =
                    set.iter().map(|&b| Ok(blocks[b].0)).collect();
                if twice {
                    ids.extend(set.iter().rev().map(|&b| Ok(blocks[b].0)));
                }
                if fail {
                    ids.insert(ids.len() / 2, Err(SourceError::Failed));
                }
                let r = store.try_pin(&format!("label-{label}"), &root_ref(blocks[root].0), ids);
                if fail {
                    prop_assert!(
                        matches!(r, Err(SourceError::Failed)),
                        "a failed source fails the pin at step {}: {:?}",
                        step,
                        r
                    );
                } else {
                    let r = r.unwrap();
                    let want = model.pin(label, set);
                    prop_assert_eq!(
                        (r.blocks, r.missing, r.replaced),
                        want,
                        "pin report at step {}",
                        step
                    );
                }
            }
            Op::Unpin { label } => {
                let r = store.unpin(&format!("label-{label}")).unwrap();
                let want = model.unpin(label);
                prop_assert_eq!(
                    r.map(|r| (r.blocks, r.released)),
                    want,
                    "unpin report at step {}",
                    step
                );
            }
            Op::Reopen => {
                drop(store);
                store = open();
            }
        }
        for (b, (id, _)) in blocks.iter().enumerate() {
            prop_assert_eq!(
                store.class(id).unwrap(),
                model.held.get(&b).copied(),
                "class of block {} after step {} ({:?})",
                b,
                step,
                op
            );
        }
    }
    prop_assert_eq!(store.pins().unwrap().len(), model.pins.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn pins_puts_and_unpins_match_the_reference_model(
        ops in proptest::collection::vec(op(), 1..40),
        pin_batch in prop_oneof![Just(PIN_BATCH), 1..5usize],
    ) {
        run(&ops, pin_batch)?;
    }
}
