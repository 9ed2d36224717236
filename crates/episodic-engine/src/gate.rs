//! A counting gate that gives each freed slot to the most urgent waiter, not the first to ask.
//!
//! Nodes become ready in the order their inputs finish: every listener render waits only on one
//! image upload, so with a first-come semaphore eight slots fill with listener renders of eight
//! different segments and no segment is complete until the speakers' wave has run; its composes
//! then pile up after the last render. Handing slots out by plan order (segment by segment)
//! completes segments early and lets their composes run while later renders are still out.
//!
//! Renders are ranked by [`render_ranks`]: a render that several composes wait on (one listener
//! clip shared by every segment where its character listens) goes before the others, then renders
//! by the earliest segment they serve, the longest first within a segment (its clip decides when
//! that segment can compose).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Lower ranks go first: `(manifest, place in that manifest)`. The place is the node's index in
/// plan order, or for a render its place in [`render_ranks`]; ranks compare within one gate, and
/// renders have a gate of their own.
pub(crate) type Rank = (usize, usize);

/// What ranks a render among the renders waiting for a slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RenderUrgency {
    /// The render's index in plan order.
    pub(crate) index: usize,
    /// How many composes wait on its clip.
    pub(crate) composes: usize,
    /// The plan index of the earliest of those composes (plan order is segment order).
    pub(crate) first_compose: usize,
    /// The clip's length: fal's latency grows with it.
    pub(crate) seconds: f64,
}

/// Each render's place in the queue for render slots, by plan index: first the renders that more
/// composes wait on, then by the earliest segment they serve, then the longest clip first, then plan
/// order. A render served after the others of its segment would leave that segment's compose
/// waiting longest, and one that several composes wait on would leave all of them waiting.
pub(crate) fn render_ranks(renders: &[RenderUrgency]) -> Vec<(usize, usize)> {
    let mut order: Vec<&RenderUrgency> = renders.iter().collect();
    order.sort_by(|a, b| {
        b.composes
            .cmp(&a.composes)
            .then(a.first_compose.cmp(&b.first_compose))
            .then(b.seconds.total_cmp(&a.seconds))
            .then(a.index.cmp(&b.index))
    });
    order.iter().enumerate().map(|(place, render)| (render.index, place)).collect()
}

/// A gate with a fixed number of slots.
#[derive(Debug)]
pub(crate) struct Gate {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    free: usize,
    waiting: BinaryHeap<Waiter>,
    /// Breaks ties between equal ranks first come, first served.
    arrivals: u64,
}

#[derive(Debug)]
struct Waiter {
    rank: Rank,
    arrival: u64,
    wake: oneshot::Sender<Permit>,
}

/// One slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    gate: Arc<Gate>,
}

impl Gate {
    /// A gate of `slots` slots (at least one).
    pub(crate) fn new(slots: usize) -> Arc<Gate> {
        Arc::new(Gate {
            state: Mutex::new(State { free: slots.max(1), waiting: BinaryHeap::new(), arrivals: 0 }),
        })
    }

    /// Waits for a slot; while slots are short, lower ranks are served first.
    pub(crate) async fn acquire(self: &Arc<Self>, rank: Rank) -> Permit {
        let wait = {
            let mut state = self.lock();
            if state.free > 0 && state.waiting.is_empty() {
                state.free -= 1;
                return Permit { gate: Arc::clone(self) };
            }
            let (wake, wait) = oneshot::channel();
            let arrival = state.arrivals;
            state.arrivals += 1;
            state.waiting.push(Waiter { rank, arrival, wake });
            wait
        };
        match wait.await {
            Ok(permit) => permit,
            // The gate hands out every slot it takes back, so a waiter is only dropped with the gate,
            // which this future holds: unreachable, but a slot of our own is the safe answer.
            Err(_) => Permit { gate: Arc::clone(self) },
        }
    }

    fn release(self: &Arc<Self>) {
        let next = {
            let mut state = self.lock();
            match state.waiting.pop() {
                Some(waiter) => waiter,
                None => {
                    state.free += 1;
                    return;
                }
            }
        };
        // A waiter that gave up (its task was aborted) hands the slot straight on.
        if let Err(permit) = next.wake.send(Permit { gate: Arc::clone(self) }) {
            drop(permit);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate.release();
    }
}

impl Ord for Waiter {
    /// The heap pops its greatest: the lowest rank, then the earliest arrival.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.rank, other.arrival).cmp(&(self.rank, self.arrival))
    }
}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.rank, self.arrival) == (other.rank, other.arrival)
    }
}

impl Eq for Waiter {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "current_thread")]
    async fn freed_slots_go_to_the_lowest_rank_waiting() {
        let gate = Gate::new(1);
        let held = gate.acquire((0, 50)).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for rank in [9, 3, 7, 1, 3] {
            let (gate, order) = (Arc::clone(&gate), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire((0, rank)).await;
                order.lock().unwrap().push(rank);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }));
            // Every waiter is queued before the slot frees.
            tokio::task::yield_now().await;
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![1, 3, 3, 7, 9]);
    }

    fn urgency(index: usize, composes: usize, first_compose: usize, seconds: f64) -> RenderUrgency {
        RenderUrgency { index, composes, first_compose, seconds }
    }

    /// The render at each place, first first.
    fn order(renders: &[RenderUrgency]) -> Vec<usize> {
        let mut ranked = render_ranks(renders);
        ranked.sort_by_key(|(_, place)| *place);
        ranked.into_iter().map(|(index, _)| index).collect()
    }

    #[test]
    fn a_render_many_composes_wait_on_goes_first() {
        // Segment 0: speaker (index 2, 2.5 s); segment 1: speaker (5, 3 s); one listener clip (3)
        // shared by both segments, planned after segment 0's speaker.
        let renders = [urgency(2, 1, 4, 2.5), urgency(3, 2, 4, 5.0), urgency(5, 1, 7, 3.0)];
        assert_eq!(order(&renders), [3, 2, 5]);
    }

    #[test]
    fn within_a_segment_the_longest_clip_goes_first_and_segments_keep_their_order() {
        // Each segment: a speaker and a listener of its own; the listener's clip is longer in
        // segment 0, the speaker's in segment 1.
        let renders = [
            urgency(1, 1, 3, 2.5),
            urgency(2, 1, 3, 5.0),
            urgency(5, 1, 7, 6.0),
            urgency(6, 1, 7, 5.0),
            urgency(9, 1, 11, 3.0),
            urgency(10, 1, 11, 3.0),
        ];
        assert_eq!(order(&renders), [2, 1, 5, 6, 9, 10], "ties keep plan order");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_abandoned_wait_passes_its_slot_on() {
        let gate = Gate::new(1);
        let held = gate.acquire((0, 0)).await;
        let gone = tokio::spawn({
            let gate = Arc::clone(&gate);
            async move {
                let _permit = gate.acquire((0, 1)).await;
            }
        });
        tokio::task::yield_now().await;
        gone.abort();
        let _ = gone.await;
        let next = tokio::spawn({
            let gate = Arc::clone(&gate);
            async move {
                let _permit = gate.acquire((0, 2)).await;
            }
        });
        tokio::task::yield_now().await;
        drop(held);
        tokio::time::timeout(Duration::from_secs(1), next).await.expect("the slot reached the next").unwrap();
        // Both slots' worth of waiting is over: the one slot is free again.
        assert_eq!(gate.lock().free, 1);
    }
}
