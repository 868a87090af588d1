//! Tree pushes: `gofast push DIR PEER`, rsync's job done the gofast way (`docs/spec/tree-push.md`).
//!
//! The pusher adds the folder to its store, reading only the files whose size or modification
//! time changed since its last push of the same name (the others keep their entries, and so
//! their blocks), pins the tree, and offers its root to the receiver in a pushed record. The
//! receiver, if it lets this peer push ([`AllowList`]), fetches from the pusher only what it lacks
//! (the listings and files that changed, and in those only the chunks it does not hold: content-
//! defined chunking keeps an edit's chunks local to it), writes the changed files into
//! `<its folder>/<name>`, pins the tree, and answers. `gofast pull URI DIR` is the receiver's half
//! on its own, for a tree anyone provides.
//!
//! Offers and answers travel as records pushed over the session (`record.md`), so they need no
//! message type of their own; they are never stored or forwarded. The pusher re-sends its offer
//! until an answer says the push is finished: an offer lost on the way, or an answer, costs a
//! re-send, not the push; the receiver answers a repeated offer with where the push stands.

mod allow;
mod apply;
mod served;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gofast_core::block::BlockRef;
use gofast_core::identity::{KeyPair, PeerId};
use gofast_core::record::Record;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

pub(crate) use allow::AllowList;
pub use allow::MAX_ALLOWED;
pub use apply::{Applied, apply_tree};
pub(crate) use served::NodeBlocks;
use wire::{ANSWER_SALT, Answer, OFFER_SALT, decode_offer, encode_offer, name_of};
pub use wire::{MAX_PUSH_NAME, PushStatus, check_push_name};

use crate::error::{Error, ErrorKind};
use crate::net::{NodeHandle, PushedRecord};
use crate::node::blocking;
use crate::store::BlockStore;

/// Pushes this node applies at once; more are answered "busy" (their pushers try again).
pub const MAX_ACTIVE_PUSHES: usize = 4;
/// Pushes (by pusher and name) whose last answer is remembered for repeated offers; the oldest
/// finished one is forgotten at the bound.
const MAX_REMEMBERED: usize = 256;
/// Pushes this node waits on at once as a pusher.
const MAX_WAITING: usize = 64;
/// How long the pusher waits for a first answer before re-sending the offer, and how many times.
const FIRST_ANSWER: Duration = Duration::from_secs(1);
const OFFER_TRIES: u32 = 8;
/// While the receiver works, the pusher asks again this often, and gives up after this many
/// unanswered asks in a row.
const STILL_WORKING: Duration = Duration::from_secs(3);
const SILENT_ASKS: u32 = 10;
/// How long a busy answer makes the pusher wait, and how many it takes before giving up.
const BUSY_WAIT: Duration = Duration::from_millis(500);
const BUSY_TRIES: u32 = 240;

/// The pin of the tree a peer pushed under `name` into this node.
fn received_label(from: &PeerId, name: &str) -> String {
    format!("pushed-by-{from}/{name}/")
}

/// The pin of the tree this node last pushed as `name`.
pub fn sent_label(name: &str) -> String {
    format!("push-{name}/")
}

/// The pin of the tree last pulled into the folder `dest`.
pub fn pulled_label(dest: &Path) -> String {
    format!("pull-{}/", dest.display())
}

/// What the receiver did with a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushAnswer {
    /// Files written into its copy.
    pub written: u32,
    /// Files removed from it.
    pub removed: u32,
    /// Files gone from the tree but changed at the receiver, so kept.
    pub kept: u32,
    /// Blocks the receiver fetched.
    pub received: u64,
}

#[derive(Clone, Debug)]
struct Incoming {
    push: u64,
    answer: Answer,
    /// When it was last offered, in offers counted (for forgetting the oldest).
    touched: u64,
}

/// The pushes this node has taken, by pusher and name, and the offers counted so far.
#[derive(Debug, Default)]
struct IncomingTable {
    pushes: HashMap<(PeerId, String), Incoming>,
    offers: u64,
}

/// The tree pushes of a node: the allow list, the pushes it is applying, and the pushes it waits
/// on.
pub struct TreePushes {
    data_dir: PathBuf,
    store: Arc<BlockStore>,
    net: NodeHandle,
    identity: Arc<KeyPair>,
    allow: Mutex<AllowList>,
    incoming: Mutex<IncomingTable>,
    waiting: Mutex<HashMap<(PeerId, String), mpsc::Sender<Answer>>>,
}

impl std::fmt::Debug for TreePushes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreePushes").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A sequence number for a record that is never stored: the time in µs (the pushes of one pusher
/// and name are told apart by their push id, not by sequence).
fn seq_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl TreePushes {
    /// The tree pushes of the node with this data directory, store, network and identity.
    pub fn new(
        data_dir: PathBuf,
        store: Arc<BlockStore>,
        net: NodeHandle,
        identity: Arc<KeyPair>,
    ) -> Result<Self, Error> {
        let allow = AllowList::load(&data_dir)?;
        Ok(TreePushes {
            data_dir,
            store,
            net,
            identity,
            allow: Mutex::new(allow),
            incoming: Mutex::new(IncomingTable::default()),
            waiting: Mutex::new(HashMap::new()),
        })
    }

    /// Whether a pushed record is an offer or an answer of a tree push.
    pub(crate) fn is_push_record(record: &Record) -> bool {
        record.salt().starts_with(OFFER_SALT.as_bytes())
            || record.salt().starts_with(ANSWER_SALT.as_bytes())
    }

    /// Lets `peer` push trees into `dir` (each push into `dir/<name>`); returns the folder, made
    /// absolute.
    pub fn allow(&self, peer: PeerId, dir: &Path) -> Result<PathBuf, Error> {
        lock(&self.allow).allow(&self.data_dir, peer, dir)
    }

    /// Stops taking pushes from `peer`; whether it could push.
    pub fn disallow(&self, peer: &PeerId) -> Result<bool, Error> {
        lock(&self.allow).remove(&self.data_dir, peer)
    }

    /// The peers that may push here, and their folders.
    pub fn allowed(&self) -> Vec<(PeerId, PathBuf)> {
        lock(&self.allow)
            .entries()
            .map(|(p, d)| (*p, d.to_path_buf()))
            .collect()
    }

    /// Takes in a pushed offer or answer.
    pub(crate) fn on_pushed(self: &Arc<Self>, pushed: PushedRecord) {
        // Only the session's own peer speaks for itself: a record signed by someone else and
        // passed on is not an offer of theirs.
        if pushed.record.public_key() != &pushed.from {
            debug!(from = %pushed.from, "a tree push record signed by another peer: ignored");
            return;
        }
        let salt = pushed.record.salt();
        if let Some(name) = name_of(salt, OFFER_SALT) {
            match decode_offer(pushed.record.value()) {
                Some((push, root, deltas)) => {
                    self.on_offer(pushed.from, name, push, root, deltas);
                }
                None => debug!(from = %pushed.from, "an undecodable tree push offer"),
            }
        } else if let Some(name) = name_of(salt, ANSWER_SALT) {
            match Answer::decode(pushed.record.value()) {
                Some(answer) => {
                    let waiter = lock(&self.waiting).get(&(pushed.from, name)).cloned();
                    if let Some(w) = waiter {
                        // A full queue: the pusher has answers to read already, and asks again.
                        let _ = w.try_send(answer);
                    }
                }
                None => debug!(from = %pushed.from, "an undecodable tree push answer"),
            }
        }
    }

    fn on_offer(
        self: &Arc<Self>,
        from: PeerId,
        name: String,
        push: u64,
        root: BlockRef,
        deltas: bool,
    ) {
        let folder = lock(&self.allow).folder_of(&from).map(Path::to_path_buf);
        let Some(folder) = folder else {
            info!(%from, name, "a tree push from a peer not allowed: refused");
            self.answer(
                from,
                &name,
                Answer::bare(
                    push,
                    root.id,
                    PushStatus::Refused,
                    "this node takes no pushes from you: its owner can allow them with `gofast push-allow <your peer id> <folder>`",
                ),
            );
            return;
        };
        let reply = {
            let mut table = lock(&self.incoming);
            table.offers += 1;
            let touched = table.offers;
            let incoming = &mut table.pushes;
            let key = (from, name.clone());
            let active = incoming
                .values()
                .filter(|i| i.answer.status == PushStatus::Working)
                .count();
            match incoming.get_mut(&key) {
                // The same push offered again: where it stands.
                Some(i) if i.push == push => {
                    i.touched = touched;
                    i.answer.clone()
                }
                Some(i) if i.answer.status == PushStatus::Working => Answer::bare(
                    push,
                    root.id,
                    PushStatus::Busy,
                    "a push of this name is still being written",
                ),
                _ if active >= MAX_ACTIVE_PUSHES => {
                    Answer::bare(push, root.id, PushStatus::Busy, "too many pushes at once")
                }
                _ => {
                    if incoming.len() >= MAX_REMEMBERED && !incoming.contains_key(&key) {
                        forget_oldest(incoming);
                    }
                    let working = Answer::bare(push, root.id, PushStatus::Working, "");
                    incoming.insert(
                        key,
                        Incoming {
                            push,
                            answer: working.clone(),
                            touched,
                        },
                    );
                    let me = Arc::clone(self);
                    let name = name.clone();
                    tokio::spawn(async move {
                        let answer = me.receive(from, &name, push, &root, &folder, deltas).await;
                        if let Some(i) = lock(&me.incoming).pushes.get_mut(&(from, name.clone()))
                            && i.push == push
                        {
                            i.answer = answer.clone();
                        }
                        me.answer(from, &name, answer);
                    });
                    working
                }
            }
        };
        self.answer(from, &name, reply);
    }

    /// Fetches and writes a push; the answer says how it went.
    async fn receive(
        &self,
        from: PeerId,
        name: &str,
        push: u64,
        root: &BlockRef,
        folder: &Path,
        deltas: bool,
    ) -> Answer {
        let started = std::time::Instant::now();
        let result = async {
            let addr = self.net.known_addr(from).await?.ok_or_else(|| {
                Error::new(ErrorKind::Network, "the pusher's address is not known")
            })?;
            let label = received_label(&from, name);
            let dest = folder.join(name);
            let (applied, received) = self
                .write_tree(root, &label, &dest, &[(from, addr)], deltas.then_some(from))
                .await?;
            Ok::<_, Error>((applied, received))
        }
        .await;
        match result {
            Ok((applied, received)) => {
                info!(
                    %from,
                    name,
                    written = applied.written,
                    removed = applied.removed,
                    blocks = received,
                    ms = started.elapsed().as_millis(),
                    "tree push written"
                );
                Answer {
                    push,
                    root: root.id,
                    status: PushStatus::Done,
                    written: applied.written,
                    removed: applied.removed,
                    kept: applied.kept,
                    received,
                    message: String::new(),
                }
            }
            Err(e) => {
                warn!(%from, name, error = %e, "a tree push failed");
                Answer::bare(push, root.id, PushStatus::Failed, e.message())
            }
        }
    }

    /// Fetches what the tree under `root` has that the tree last pinned as `label` has not,
    /// writes it into `dest`, and pins the tree as `label`; returns what was written and the
    /// blocks fetched. With `deltas_from` (the pusher, which made both trees), changed blocks
    /// come as deltas against their versions in the pinned tree.
    pub(crate) async fn write_tree(
        &self,
        root: &BlockRef,
        label: &str,
        dest: &Path,
        providers: &[(PeerId, SocketAddr)],
        deltas_from: Option<PeerId>,
    ) -> Result<(Applied, u64), Error> {
        let previous = self.pinned(label).await?;
        let t = std::time::Instant::now();
        let fetched = crate::exchange::fetch_dir_changes(
            &self.identity,
            &self.store,
            root,
            previous.clone(),
            providers,
            deltas_from,
        )
        .await?;
        debug!(
            fetch_ms = t.elapsed().as_millis(),
            blocks = fetched.received,
            rebuilt = fetched.rebuilt,
            "tree changes fetched"
        );
        let (store, r, l, d) = (
            Arc::clone(&self.store),
            root.clone(),
            label.to_owned(),
            dest.to_path_buf(),
        );
        let t = std::time::Instant::now();
        let applied = blocking("tree push", move || {
            let applied = apply_tree(&store, &r, previous.as_ref(), &d)?;
            let applied_in = t.elapsed();
            // Pinned once written: the next push compares with this tree.
            // Held whole: fetched just now, or under the previous pin.
            crate::node::pin_dir_tree(&store, &l, &r, crate::node::Leaves::Trust)?;
            debug!(
                apply_ms = applied_in.as_millis(),
                pin_ms = (t.elapsed() - applied_in).as_millis(),
                "tree written and pinned"
            );
            Ok::<_, Error>(applied)
        })
        .await?;
        Ok((applied, fetched.received))
    }

    /// Whether an offer of this node's to `peer` is waiting for its answer: while it is, `peer`
    /// may ask for the pushed blocks as deltas.
    pub(crate) fn is_pushing_to(&self, peer: &PeerId) -> bool {
        lock(&self.waiting).keys().any(|(p, _)| p == peer)
    }

    /// The root pinned as `label`, if any.
    pub(crate) async fn pinned(&self, label: &str) -> Result<Option<BlockRef>, Error> {
        let (store, label) = (Arc::clone(&self.store), label.to_owned());
        blocking("pin", move || {
            Ok::<_, Error>(store.pin_of(&label)?.map(|p| p.root))
        })
        .await
    }

    fn answer(&self, to: PeerId, name: &str, answer: Answer) {
        let record = Record::sign(
            &self.identity,
            format!("{ANSWER_SALT}{name}").as_bytes(),
            seq_now(),
            &answer.encode(),
        );
        let net = self.net.clone();
        tokio::spawn(async move {
            match record {
                Ok(r) => {
                    if let Err(e) = net.push_record(to, r).await {
                        debug!(%to, error = %e, "a tree push answer was not sent");
                    }
                }
                Err(e) => warn!(error = ?e, "a tree push answer did not sign"),
            }
        });
    }

    /// Offers the tree under `root` to `to` as `name` and waits until it is written there (or
    /// refused, or failed).
    pub(crate) async fn offer(
        &self,
        to: PeerId,
        name: &str,
        root: &BlockRef,
    ) -> Result<PushAnswer, Error> {
        let (tx, mut rx) = mpsc::channel(8);
        {
            let mut waiting = lock(&self.waiting);
            let key = (to, name.to_owned());
            if waiting.contains_key(&key) {
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!("a push of {name:?} to this peer is running already"),
                ));
            }
            if waiting.len() >= MAX_WAITING {
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!("{MAX_WAITING} pushes are running already"),
                ));
            }
            waiting.insert(key, tx);
        }
        let result = self.offer_until_done(to, name, root, &mut rx).await;
        lock(&self.waiting).remove(&(to, name.to_owned()));
        result
    }

    async fn offer_until_done(
        &self,
        to: PeerId,
        name: &str,
        root: &BlockRef,
        answers: &mut mpsc::Receiver<Answer>,
    ) -> Result<PushAnswer, Error> {
        let push = rand_core::Rng::next_u64(&mut crate::rng::os_rng());
        let value = encode_offer(push, root);
        let (mut tries, mut silent, mut busy, mut heard) = (0u32, 0u32, 0u32, false);
        // Whether to (re-)send the offer before the next wait: not right after a "working" answer,
        // which is followed by a wait for the final one.
        let mut send = true;
        loop {
            if send {
                let record = Record::sign(
                    &self.identity,
                    format!("{OFFER_SALT}{name}").as_bytes(),
                    seq_now(),
                    &value,
                )
                .map_err(|e| {
                    Error::new(ErrorKind::Internal, format!("signing the offer: {e:?}"))
                })?;
                self.net.push_record(to, record).await?;
            }
            let wait = if heard { STILL_WORKING } else { FIRST_ANSWER };
            let answer = loop {
                match tokio::time::timeout(wait, answers.recv()).await {
                    Ok(Some(a)) if a.push == push => break Some(a),
                    // An answer to an earlier push of the same name.
                    Ok(Some(_)) => {}
                    Ok(None) => return Err(Error::new(ErrorKind::Stopped, "the node stopped")),
                    Err(_) => break None,
                }
            };
            send = true;
            let Some(answer) = answer else {
                if heard {
                    silent += 1;
                    if silent >= SILENT_ASKS {
                        return Err(Error::new(
                            ErrorKind::Network,
                            "the receiver stopped answering while it was writing the push",
                        ));
                    }
                } else {
                    tries += 1;
                    if tries >= OFFER_TRIES {
                        return Err(Error::new(
                            ErrorKind::Network,
                            "the receiver does not answer: is it running, and reachable?",
                        ));
                    }
                }
                continue;
            };
            silent = 0;
            match answer.status {
                PushStatus::Working => {
                    heard = true;
                    send = false;
                }
                PushStatus::Busy => {
                    busy += 1;
                    if busy >= BUSY_TRIES {
                        return Err(Error::new(
                            ErrorKind::Busy,
                            format!("the receiver stayed busy: {}", answer.message),
                        ));
                    }
                    tokio::time::sleep(BUSY_WAIT).await;
                }
                _ => return finish(answer),
            }
        }
    }
}

fn finish(answer: Answer) -> Result<PushAnswer, Error> {
    match answer.status {
        PushStatus::Done => Ok(PushAnswer {
            written: answer.written,
            removed: answer.removed,
            kept: answer.kept,
            received: answer.received,
        }),
        PushStatus::Refused => Err(Error::new(
            ErrorKind::InvalidInput,
            format!("the receiver refused the push: {}", answer.message),
        )),
        _ => Err(Error::new(
            ErrorKind::Io,
            format!("the receiver could not write the push: {}", answer.message),
        )),
    }
}

/// Forgets the push remembered longest ago that is not running.
fn forget_oldest(incoming: &mut HashMap<(PeerId, String), Incoming>) {
    let oldest = incoming
        .iter()
        .filter(|(_, i)| i.answer.status != PushStatus::Working)
        .min_by_key(|(_, i)| i.touched)
        .map(|(k, _)| k.clone());
    if let Some(k) = oldest {
        incoming.remove(&k);
    }
}
