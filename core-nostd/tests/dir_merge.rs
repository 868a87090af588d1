//! Three-way directory merge: a side's own change always survives, both sides' views of the same
//! pair merge to the same directory, true conflicts keep both versions under valid names.

use std::collections::BTreeMap;

use gofast_core::block::{BlockId, BlockKey, BlockRef};
use gofast_core::crypto::SecretBytes;
use gofast_core::fs::dir::{DirEntry, EntryKind, check_name};
use gofast_core::fs::merge::{Conflict, Merged, Side, conflict_name, merge_dir};
use proptest::prelude::*;

const NAMES: [&str; 6] = ["a", "b.txt", ".rc", "notes", "z.tar.gz", "ü"];

fn target(i: u8) -> BlockRef {
    BlockRef {
        id: BlockId([i; 32]),
        key: BlockKey(SecretBytes::new([i; 32])),
    }
}

fn entry(name: &'static str, kind: EntryKind, t: u8, mtime: i64) -> DirEntry<'static> {
    DirEntry {
        name,
        kind,
        redundancy: 0,
        size: u64::from(t),
        mtime_ns: mtime,
        target: target(t),
    }
}

type Dir = BTreeMap<&'static str, DirEntry<'static>>;

fn sorted(d: &Dir) -> Vec<DirEntry<'static>> {
    // BTreeMap's order on &str is bytewise, the listing's order.
    d.values().cloned().collect()
}

fn arb_entry(name: &'static str) -> impl Strategy<Value = DirEntry<'static>> {
    (any::<bool>(), 0u8..4, 0i64..3).prop_map(move |(dir, t, m)| {
        let kind = if dir { EntryKind::Dir } else { EntryKind::File };
        entry(name, kind, t, m)
    })
}

fn arb_dir() -> impl Strategy<Value = Dir> {
    let slots: Vec<_> = NAMES
        .iter()
        .map(|&n| proptest::option::of(arb_entry(n)))
        .collect();
    slots.prop_map(|v| v.into_iter().flatten().map(|e| (e.name, e)).collect())
}

/// A side: the base with each name kept, removed or replaced.
fn arb_edit(base: Dir) -> impl Strategy<Value = Dir> {
    let slots: Vec<_> = NAMES
        .iter()
        .map(|&n| (0u8..3, proptest::option::of(arb_entry(n))))
        .collect();
    slots.prop_map(move |edits| {
        let mut d = base.clone();
        for (&name, (how, e)) in NAMES.iter().zip(edits) {
            match (how, e) {
                (0, _) => {}
                (1, _) => {
                    d.remove(name);
                }
                (_, Some(e)) => {
                    d.insert(name, e);
                }
                (_, None) => {
                    d.remove(name);
                }
            }
        }
        d
    })
}

fn arb_case() -> impl Strategy<Value = (Dir, Dir, Dir)> {
    arb_dir().prop_flat_map(|base| (Just(base.clone()), arb_edit(base.clone()), arb_edit(base)))
}

fn run<'a>(base: &[DirEntry<'a>], o: &[DirEntry<'a>], t: &[DirEntry<'a>]) -> Merged<'a> {
    merge_dir(
        base,
        Side {
            entries: o,
            device: "aaaa",
        },
        Side {
            entries: t,
            device: "bbbb",
        },
    )
}

/// The merged directory as (name → entry), subdirectory merges by name with their pair of targets
/// in a fixed order.
type View = (BTreeMap<String, DirEntry<'static>>, Vec<(String, [u8; 2])>);

fn view(m: &Merged<'_>) -> View {
    let mut names = BTreeMap::new();
    let own = |e: &DirEntry<'_>| entry("x", e.kind, e.target.id.0[0], e.mtime_ns);
    for e in &m.entries {
        assert!(
            names.insert(e.name.to_owned(), own(e)).is_none(),
            "{} twice",
            e.name
        );
    }
    for (n, e) in &m.renamed {
        assert!(names.insert(n.clone(), own(e)).is_none(), "{n} twice");
    }
    let mut subdirs: Vec<_> = m
        .subdirs
        .iter()
        .map(|s| {
            assert!(
                !names.contains_key(s.name),
                "{} both kept and merged",
                s.name
            );
            let mut pair = [s.ours.target.id.0[0], s.theirs.target.id.0[0]];
            pair.sort_unstable();
            (s.name.to_owned(), pair)
        })
        .collect();
    subdirs.sort();
    (names, subdirs)
}

proptest! {
    #[test]
    fn merging_is_symmetric_and_loses_no_change((base, o, t) in arb_case()) {
        let (b, ov, tv) = (sorted(&base), sorted(&o), sorted(&t));
        let m = run(&b, &ov, &tv);
        let swapped = merge_dir(
            &b,
            Side { entries: &tv, device: "bbbb" },
            Side { entries: &ov, device: "aaaa" },
        );
        prop_assert_eq!(view(&m), view(&swapped));

        let (names, subdirs) = view(&m);
        for n in names.keys() {
            prop_assert!(check_name(n).is_ok(), "invalid name {}", n);
        }
        // Every change of either side is somewhere in the result.
        for side in [&o, &t] {
            for (name, e) in side.iter() {
                if base.get(name) == Some(e) {
                    continue;
                }
                let kept = names.values().any(|k| k.target == e.target && k.kind == e.kind);
                let merging = subdirs.iter().any(|(n, _)| n == name);
                prop_assert!(kept || merging, "{}'s change lost", name);
            }
        }
        // A name removed on one side and untouched on the other is gone.
        for (name, e) in &base {
            if (o.get(name) == Some(e) && !t.contains_key(name)) || (t.get(name) == Some(e) && !o.contains_key(name)) {
                prop_assert!(!names.contains_key(*name), "{} came back", name);
            }
        }
    }

    #[test]
    fn one_sided_and_equal_changes_merge_without_conflict((base, o, _t) in arb_case()) {
        let (b, ov) = (sorted(&base), sorted(&o));
        for m in [run(&b, &ov, &b), run(&b, &b, &ov), run(&b, &ov, &ov)] {
            prop_assert!(m.conflicts.is_empty() && m.subdirs.is_empty() && m.renamed.is_empty());
            prop_assert_eq!(&m.entries, &ov);
        }
    }
}

#[test]
fn a_true_conflict_keeps_both_and_names_the_older_after_its_device() {
    let base = vec![entry("report.pdf", EntryKind::File, 1, 1)];
    let ours = vec![entry("report.pdf", EntryKind::File, 2, 5)];
    let theirs = vec![entry("report.pdf", EntryKind::File, 3, 4)];
    let m = run(&base, &ours, &theirs);
    assert_eq!(m.entries, ours);
    assert_eq!(m.renamed.len(), 1);
    assert_eq!(m.renamed[0].0, "report.conflict-bbbb.pdf");
    assert_eq!(m.renamed[0].1.target, target(3));
    assert_eq!(
        m.conflicts,
        vec![Conflict::BothChanged {
            name: "report.pdf".into(),
            renamed_to: "report.conflict-bbbb.pdf".into()
        }]
    );
}

#[test]
fn an_edit_survives_a_removal_and_is_reported() {
    let base = vec![entry("a", EntryKind::File, 1, 1)];
    let ours = vec![entry("a", EntryKind::File, 2, 2)];
    let m = run(&base, &ours, &[]);
    assert_eq!(m.entries, ours);
    assert_eq!(
        m.conflicts,
        vec![Conflict::EditedAndRemoved { name: "a".into() }]
    );
}

#[test]
fn directories_changed_on_both_sides_merge_one_level_down() {
    let base = vec![entry("photos", EntryKind::Dir, 1, 1)];
    let ours = vec![entry("photos", EntryKind::Dir, 2, 2)];
    let theirs = vec![entry("photos", EntryKind::Dir, 3, 2)];
    let m = run(&base, &ours, &theirs);
    assert!(m.entries.is_empty() && m.conflicts.is_empty());
    assert_eq!(m.subdirs.len(), 1);
    assert_eq!(m.subdirs[0].base, Some(target(1)));
    // Added on both sides: merged against nothing.
    let m = run(&[], &ours, &theirs);
    assert_eq!(m.subdirs[0].base, None);
}

#[test]
fn conflict_names_stay_valid_and_free() {
    assert_eq!(
        conflict_name(".profile", "d1", |_| false),
        ".profile.conflict-d1"
    );
    assert_eq!(
        conflict_name("a.tar.gz", "d1", |_| false),
        "a.tar.conflict-d1.gz"
    );
    assert_eq!(
        conflict_name("x", "d1", |n| n == "x.conflict-d1"
            || n == "x.conflict-d1-2"),
        "x.conflict-d1-3"
    );
    let long = "é".repeat(127) + ".txt";
    let n = conflict_name(&long, "abcdefgh", |_| false);
    assert!(
        n.len() <= 255 && n.ends_with(".conflict-abcdefgh.txt"),
        "{n}"
    );
    assert!(check_name(&n).is_ok());
    let long_ext = format!("a.{}", "e".repeat(250));
    let n = conflict_name(&long_ext, "abcdefgh", |_| false);
    assert!(n.len() <= 255 && check_name(&n).is_ok(), "{n}");
}
