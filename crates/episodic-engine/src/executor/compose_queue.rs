//! Composes waiting together run together: one ffmpeg run for a backlog of segments.
//!
//! When a render that many segments wait on lands last (one listener clip shared by every
//! segment where its character listens, or every segment's own 5 s listener clip), every compose
//! becomes ready at once and the episode waits for all of them. A compose at a small canvas is
//! mostly ffmpeg starting (about 70 ms of CPU loading its libraries) and opening its clips;
//! composing the waiting segments in one run per ffmpeg slot pays that once per slot, not once
//! per segment ([`episodic_media::compose_batch`], BENCHMARKS.md).
//!
//! Each compose puts its job in the queue before it waits for an ffmpeg slot. The compose that
//! gets a slot takes its own job and the best-ranked others, its slot's share of the work (seconds
//! of video, not segments: ten long segments take a run longer than ten short ones), and runs them; the others receive their result without ever holding a slot. A
//! compose that is alone in the queue runs alone, as before. A compose whose task ends (a stop,
//! a failure elsewhere) takes its job back out if nobody has started it.

use super::Context;
use crate::NodeError;
use crate::gate::Rank;
use episodic_media::captions::CaptionFont;
use episodic_media::{BurnIn, ComposeExtras, ComposeJob, Composition, EncodeSettings, Fill, Layout, Seat};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long, at most, the compose that got a slot waits for composes still being prepared
/// (checking the journal and the artifact store, writing their captions) before it takes its
/// batch: they became ready in the same moment, and a batch taken without them would leave them
/// a run of their own.
const GATHER: Duration = Duration::from_millis(60);

/// How long the queue must stop growing before a batch is taken: a few milliseconds against
/// the tenth of a second the smallest compose takes.
const QUIET: Duration = Duration::from_millis(3);

/// Pixels a batch may compose at once: four 1080p segments. Beyond a few segments at 1080p,
/// ffmpeg's start is a small share of a compose, and every segment of a run holds its own decoders
/// and encoder in memory.
const BATCH_PIXELS: u64 = 4 * 1920 * 1080;

/// At most this many segments in one run, whatever the canvas.
const MAX_BATCH: usize = 32;

/// One compose's work, owned, so that whichever compose runs it can.
#[derive(Debug, Clone)]
pub(crate) struct QueuedJob {
    pub(crate) layout: Layout,
    pub(crate) canvas: (u32, u32),
    pub(crate) fps: u32,
    pub(crate) seconds: f64,
    pub(crate) main: PathBuf,
    pub(crate) main_seat: Seat,
    pub(crate) listener: Option<(PathBuf, Fill)>,
    pub(crate) encode: EncodeSettings,
    pub(crate) out: PathBuf,
    pub(crate) thumbnail: Option<(PathBuf, u32)>,
    pub(crate) captions: Option<(String, CaptionFont)>,
}

impl QueuedJob {
    pub(crate) fn job(&self) -> ComposeJob<'_> {
        ComposeJob {
            composition: Composition {
                layout: self.layout,
                canvas: self.canvas,
                fps: self.fps,
                seconds: self.seconds,
                main: &self.main,
                main_seat: self.main_seat,
                listener: self.listener.as_ref().map(|(path, fill)| (path.as_path(), *fill)),
                encode: &self.encode,
                // The episode's sound is the audio node's; concat copies the segments' video.
                sound: false,
            },
            out: &self.out,
            extras: ComposeExtras {
                thumbnail: self.thumbnail.as_ref().map(|(path, width)| (path.as_path(), *width)),
                captions: self.captions.as_ref().map(|(script, font)| BurnIn { script, font }),
            },
        }
    }

    /// The work this job is to a run: the seconds of video it composes. Decoding, filtering and
    /// encoding all go by the frame, and the segments of a run share one canvas and rate.
    fn work(&self) -> f64 {
        self.seconds.max(0.0)
    }

    /// How many segments of this canvas one run may take.
    fn batch_limit(&self) -> usize {
        let pixels = u64::from(self.canvas.0) * u64::from(self.canvas.1);
        usize::try_from(BATCH_PIXELS / pixels.max(1)).unwrap_or(MAX_BATCH).clamp(1, MAX_BATCH)
    }
}

/// The composes waiting to run, shared by every compose of a run.
#[derive(Debug, Default)]
pub(crate) struct ComposeQueue {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    waiting: Vec<Waiting>,
    /// The runs that have not ended.
    runs: Vec<Run>,
    /// How long a second of video took in the last run that ended (its wall over its work).
    pace: Option<Duration>,
    next: u64,
}

/// A run of ffmpeg composing `work` seconds of video since `started`.
#[derive(Debug)]
struct Run {
    id: u64,
    work: f64,
    started: Instant,
}

impl State {
    /// Seconds of video in runs that have not ended.
    #[cfg(test)]
    fn running(&self) -> f64 {
        self.runs.iter().map(|run| run.work).sum()
    }

    /// How much work the runs still have, by the last run's pace: a run about to end counts for
    /// little. Before any run has ended, every run counts whole.
    fn work_left(&self) -> f64 {
        self.runs
            .iter()
            .map(|run| match self.pace {
                Some(pace) if !pace.is_zero() => {
                    (run.work - run.started.elapsed().as_secs_f64() / pace.as_secs_f64()).max(0.0)
                }
                _ => run.work,
            })
            .sum()
    }

    fn end(&mut self, id: u64) -> Option<Run> {
        let at = self.runs.iter().position(|run| run.id == id)?;
        Some(self.runs.swap_remove(at))
    }
}

#[derive(Debug)]
struct Waiting {
    id: u64,
    rank: Rank,
    job: QueuedJob,
    reply: oneshot::Sender<Result<(), NodeError>>,
}

/// A job in the queue: its result arrives on `reply`. Dropped before anyone took it, the job
/// leaves the queue.
pub(crate) struct Ticket<'q> {
    queue: &'q ComposeQueue,
    id: u64,
    pub(crate) reply: oneshot::Receiver<Result<(), NodeError>>,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.queue.lock().waiting.retain(|waiting| waiting.id != self.id);
    }
}

/// Jobs taken into a run; counted as running until it ends or is dropped.
pub(crate) struct Batch<'q> {
    queue: &'q ComposeQueue,
    id: u64,
    jobs: Vec<Waiting>,
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.queue.lock().end(self.id);
    }
}

impl ComposeQueue {
    /// Puts a compose's job in the queue, at `rank` among the others.
    pub(crate) fn add(&self, rank: Rank, job: QueuedJob) -> Ticket<'_> {
        let (reply, receiver) = oneshot::channel();
        let mut state = self.lock();
        let id = state.next;
        state.next += 1;
        state.waiting.push(Waiting { id, rank, job, reply });
        Ticket { queue: self, id, reply: receiver }
    }

    /// For the compose holding `ticket`, which has just got an ffmpeg slot: its own job and the
    /// best-ranked others, its share of the queue among `slots` runs, or `None` when another run
    /// already took its job. Composes that became ready with this one may still be on their way
    /// into the queue (checking the journal, writing their captions): it waits until the queue
    /// stops growing for `QUIET`, at most `GATHER`.
    pub(crate) async fn take(&self, ticket: &Ticket<'_>, slots: usize) -> Option<Batch<'_>> {
        let queued = |state: &State| state.waiting.iter().any(|waiting| waiting.id == ticket.id);
        let mut seen = {
            let state = self.lock();
            if !queued(&state) {
                return None;
            }
            state.waiting.len()
        };
        let started = Instant::now();
        while started.elapsed() < GATHER {
            tokio::time::sleep(QUIET).await;
            let now = self.lock().waiting.len();
            if now <= seen {
                break;
            }
            seen = now;
        }
        let mut state = self.lock();
        let own = state.waiting.iter().position(|waiting| waiting.id == ticket.id)?;
        let limit = state.waiting[own].job.batch_limit();
        // An even share per slot of the work not yet done, what other runs still have to do
        // included: the second slot takes the half the first left, and a slot that frees while
        // another run is about to end takes half of what waits, not the other run's share too.
        let waiting: f64 = state.waiting.iter().map(|waiting| waiting.job.work()).sum();
        let share = (waiting + state.work_left()) / slots.max(1) as f64;
        let mut jobs = vec![state.waiting.swap_remove(own)];
        let mut taken = jobs[0].job.work();
        state.waiting.sort_by_key(|waiting| (waiting.rank, waiting.id));
        // Only segments encoded alike share a run: the same canvas, rate and settings. A job
        // joins while that brings the run nearer its share; on a tie it joins, as a job left
        // over would cost a run of its own.
        let mut index = 0;
        while jobs.len() < limit && index < state.waiting.len() {
            let candidate = &state.waiting[index].job;
            let same = candidate.encode == jobs[0].job.encode && candidate.batch_limit() == limit;
            if !same {
                index += 1;
                continue;
            }
            if taken + candidate.work() / 2.0 > share {
                // A shorter one further down may still fit.
                index += 1;
                continue;
            }
            taken += candidate.work();
            jobs.push(state.waiting.remove(index));
        }
        let id = state.next;
        state.next += 1;
        state.runs.push(Run { id, work: taken, started: Instant::now() });
        Some(Batch { queue: self, id, jobs })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Batch<'_> {
    /// How many segments this run composes.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Composes every job of the batch in one ffmpeg run and sends each its result.
    pub(crate) async fn run(mut self, ctx: &Context, ffmpeg: &episodic_media::Ffmpeg) {
        let owned: Vec<QueuedJob> = self.jobs.iter().map(|waiting| waiting.job.clone()).collect();
        let jobs: Vec<ComposeJob<'_>> = owned.iter().map(QueuedJob::job).collect();
        let results = tokio::select! {
            results = episodic_media::compose_batch(ffmpeg, &ctx.probe, &jobs) => {
                results.into_iter().map(|result| result.map_err(NodeError::from)).collect()
            }
            () = ctx.aborted() => jobs.iter().map(|_| Err(NodeError::Interrupted)).collect::<Vec<_>>(),
        };
        let jobs = std::mem::take(&mut self.jobs);
        // A run that failed or was stopped says nothing of the pace.
        let clean = results.iter().all(Result::is_ok);
        {
            let mut state = self.queue.lock();
            if let Some(run) = state.end(self.id)
                && clean
            {
                state.pace = (run.work > 0.0)
                    .then(|| Duration::from_secs_f64(run.started.elapsed().as_secs_f64() / run.work));
            }
        }
        for (waiting, result) in jobs.into_iter().zip(results) {
            // A compose that stopped waiting no longer needs its answer.
            let _ = waiting.reply.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(canvas: (u32, u32)) -> QueuedJob {
        QueuedJob {
            layout: Layout::SideBySide,
            canvas,
            fps: 30,
            seconds: 2.0,
            main: PathBuf::from("speaker.mp4"),
            main_seat: Seat::First,
            listener: None,
            encode: EncodeSettings::new(canvas.0, canvas.1, 30),
            out: PathBuf::from("segment.mov"),
            thumbnail: None,
            captions: None,
        }
    }

    #[tokio::test]
    async fn the_slots_share_the_backlog_best_rank_first_and_a_taken_job_is_not_taken_again() {
        let queue = ComposeQueue::default();
        let tickets: Vec<Ticket> = (0..5).map(|index| queue.add((0, 10 - index), job((240, 134)))).collect();
        // Ticket 2 got the first of two slots: itself and the best-ranked others, 3 of 5.
        let first = queue.take(&tickets[2], 2).await.expect("its job is waiting");
        let ranks: Vec<Rank> = first.jobs.iter().map(|waiting| waiting.rank).collect();
        assert_eq!(ranks, [(0, 8), (0, 6), (0, 7)]);
        assert!(queue.take(&tickets[4], 2).await.is_none(), "ticket 4's job is in the first run");
        // The next slot takes its half: all that is left.
        let second = queue.take(&tickets[0], 2).await.expect("its job is waiting");
        assert_eq!(second.len(), 2, "the rest");
        assert_eq!(queue.lock().running(), 10.0, "five segments of 2 s");
        drop(first);
        drop(second);
        assert_eq!(queue.lock().running(), 0.0);
    }

    #[tokio::test]
    async fn two_slots_split_segments_of_different_lengths_by_their_seconds_not_their_number() {
        let queue = ComposeQueue::default();
        // Twenty segments of 2.5 s to 4.4 s, the best-ranked the shortest.
        let tickets: Vec<Ticket> = (0..20)
            .map(|index| {
                let mut job = job((240, 134));
                job.seconds = 2.5 + 0.1 * index as f64;
                queue.add((0, index), job)
            })
            .collect();
        let first = queue.take(&tickets[0], 2).await.expect("waiting");
        let second = queue.take(&tickets[19], 2).await.expect("waiting");
        let seconds = |batch: &Batch| batch.jobs.iter().map(|waiting| waiting.job.seconds).sum::<f64>();
        assert_eq!(first.len() + second.len(), 20, "nothing left over for a third run");
        // Counted by segments, the first run would take the ten shortest: 29.5 s against 39.5 s.
        assert!(
            (seconds(&first) - seconds(&second)).abs() <= 4.4,
            "{} s and {} s",
            seconds(&first),
            seconds(&second)
        );
        assert!(first.len() > 10, "the short ones, more of them: {}", first.len());
    }

    #[tokio::test]
    async fn a_dropped_ticket_leaves_the_queue_and_big_canvases_batch_less() {
        let queue = ComposeQueue::default();
        let lone = queue.add((0, 1), job((1920, 1080)));
        drop(lone);
        assert!(queue.lock().waiting.is_empty());
        let tickets: Vec<Ticket> = (0..12).map(|index| queue.add((0, index), job((1920, 1080)))).collect();
        let batch = queue.take(&tickets[0], 1).await.expect("waiting");
        assert_eq!(batch.len(), 4, "four 1080p segments at most");
        // Segments encoded otherwise never share a run.
        let other = queue.add((0, 0), job((1280, 720)));
        let next = queue.take(&other, 1).await.expect("waiting");
        assert_eq!(next.len(), 1);
    }

    #[tokio::test]
    async fn a_run_about_to_end_leaves_the_freed_slot_half_of_what_waits() {
        let queue = ComposeQueue::default();
        let first: Vec<Ticket> = (0..5).map(|index| queue.add((0, index), job((240, 134)))).collect();
        let running = queue.take(&first[0], 1).await.expect("waiting");
        assert_eq!(running.len(), 5);
        let second: Vec<Ticket> = (10..20).map(|index| queue.add((0, index), job((240, 134)))).collect();
        {
            // The last run went at 10 ms a segment (5 ms a second of video), and this one has
            // run 45 of its 50 ms.
            let mut state = queue.lock();
            state.pace = Some(Duration::from_millis(5));
            state.runs[0].started = Instant::now() - Duration::from_millis(45);
        }
        let next = queue.take(&second[0], 2).await.expect("waiting");
        assert_eq!(next.len(), 5, "half of the ten waiting and the second of video left, not 8");
        drop(next);
        // Before any run has ended, a run's segments count whole.
        queue.lock().pace = None;
        let last = queue.take(&second[9], 2).await.expect("waiting");
        assert_eq!(last.len(), 5, "all five left: with the first run's 10 s counted whole, a share is 10 s");
    }

    #[tokio::test]
    async fn composes_arriving_together_are_waited_for_until_the_queue_is_quiet() {
        let queue = std::sync::Arc::new(ComposeQueue::default());
        let ticket = queue.add((0, 0), job((240, 134)));
        // Three more arrive a millisecond apart while the first has its slot.
        let arriving = {
            let queue = std::sync::Arc::clone(&queue);
            tokio::spawn(async move {
                let mut tickets = Vec::new();
                for index in 1..4 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    tickets.push(queue.add((0, index), job((240, 134))));
                }
                // Held until their results would come.
                tokio::time::sleep(Duration::from_millis(200)).await;
            })
        };
        let started = Instant::now();
        let batch = queue.take(&ticket, 1).await.expect("waiting");
        assert_eq!(batch.len(), 4, "all four, in one run");
        assert!(started.elapsed() < GATHER + Duration::from_millis(50));
        drop(batch);
        let _ = arriving.await;
        // Alone, the wait is one quiet spell.
        let lone = queue.add((0, 9), job((240, 134)));
        let started = Instant::now();
        assert_eq!(queue.take(&lone, 2).await.expect("waiting").len(), 1);
        assert!(started.elapsed() < GATHER);
    }
}
