//! Events ordered by virtual time; events at the same time come out in the order they were pushed,
//! so a run never depends on the heap's internal order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use gofast_core::time::Instant;

/// A priority queue of events by time, first in first out among equal times.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<(Instant, u64, Slot<E>)>>,
    next_seq: u64,
    now: Instant,
}

/// Wraps an event so that the heap orders by (time, sequence) only.
#[derive(Debug)]
struct Slot<E>(E);

impl<E> PartialEq for Slot<E> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<E> Eq for Slot<E> {}
impl<E> PartialOrd for Slot<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Slot<E> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            now: Instant::from_micros(0),
        }
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time of the last event taken (virtual time never goes back).
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Schedules `event` at `at` (an event in the past is scheduled now).
    pub fn push(&mut self, at: Instant, event: E) {
        let at = at.max(self.now);
        self.heap.push(Reverse((at, self.next_seq, Slot(event))));
        self.next_seq += 1;
    }

    /// The next event and its time, advancing the clock to it.
    pub fn pop(&mut self) -> Option<(Instant, E)> {
        let Reverse((at, _, Slot(event))) = self.heap.pop()?;
        self.now = at;
        Some((at, event))
    }

    /// The time of the next event.
    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_by_time_then_in_push_order() {
        let mut q = EventQueue::new();
        let t = |us| Instant::from_micros(us);
        q.push(t(30), "c");
        q.push(t(10), "a");
        q.push(t(30), "d");
        q.push(t(20), "b");
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
        assert_eq!(q.now(), t(30));
        // An event in the past is scheduled now: the clock never goes back.
        q.push(t(5), "late");
        assert_eq!(q.pop(), Some((t(30), "late")));
    }
}
