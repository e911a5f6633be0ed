//! The logging thread, and how lines reach it.
//!
//! A thread that logs formats its line, then appends it to a buffer of its
//! own with the time it appended it. The logging thread takes the lines of
//! every thread, merges them by that time and writes them in one call, so
//! lines reach the output whole and in the order they were appended. A
//! thread that logs wakes the logging thread only when it sleeps, and the
//! logging thread sleeps until woken: it neither spins nor polls.
//!
//! NOTE: the order is that of the times lines are appended with. A line
//! from tracing is timed when it is appended, and its timestamp is read
//! when it is formatted, just before. A thread that waits for a core in
//! between appends its line after lines stamped later by other threads.
//! Timestamps in the output can then step back by that wait: hundreds of
//! microseconds under load, milliseconds when other programs keep the cores
//! busy. One buffer shared by all threads had the same property. The
//! `answered` line is timed and stamped with one reading, so it steps back
//! only when the logging thread took a batch while it was being appended.
//!
//! A buffer per thread, rather than one that every thread appends to,
//! keeps the worker threads of a busy gateway from writing the same lock and
//! the same cache lines for every line. Timed in the running gateway under
//! the hit benchmark's load on 2 cores, appending the `answered` line took
//! 150 to 210 ns to one shared buffer and 110 to 150 ns to the thread's own.

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// Bytes of lines that one thread may have waiting for the logging thread.
/// A thread that logs while this many of its lines are waiting blocks until
/// the logging thread takes them, so no line is dropped while the gateway
/// runs. Once it is stopping, lines are queued past this limit instead.
const WAITING_BYTES: usize = 8 * 1024 * 1024;

/// The maximum capacity the logging thread keeps in a buffer it has written.
/// A larger one, left by a burst, is freed.
const KEPT_CAPACITY: usize = 256 * 1024;

/// The maximum capacity kept in a buffer that a thread's lines were moved
/// to, which goes back to a thread to append to.
const KEPT_THREAD_CAPACITY: usize = 64 * 1024;

/// How long the logging thread rests after a write, so a busy gateway's
/// lines wake it at most once per rest. Waking it for nearly every line
/// cost more CPU in the hit benchmark than formatting the lines. A quiet
/// gateway's first line is still written at once.
const REST: Duration = Duration::from_millis(1);

/// How long dropping the guard waits for the waiting lines to be written.
// NOTE: if whatever reads standard error has stopped reading, the lines
// still waiting after this long are lost at exit.
const EXIT_WAIT: Duration = Duration::from_secs(1);

/// Tells the writers of one process apart in the threads' lists of buffers.
static NEXT_WRITER_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's buffer for each writer it has logged to, by writer id.
    /// A process has one writer, and tests start several.
    static BUFFERS: RefCell<Vec<(u64, Arc<ThreadLines>)>> = const { RefCell::new(Vec::new()) };
}

/// One thread's lines waiting for the logging thread.
#[derive(Default)]
struct ThreadLines {
    waiting: Mutex<Waiting>,
    /// Wakes the thread when it waits for room and the logging thread has
    /// taken its lines.
    room: Condvar,
}

impl ThreadLines {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // No code panics while holding the lock, and the lines stay valid if
        // it did.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct Waiting {
    bytes: Vec<u8>,
    /// Each line's append time and its end in `bytes`, in the order they
    /// were appended.
    lines: Vec<(Instant, usize)>,
    /// The thread waits for room.
    blocked: bool,
}

impl Waiting {
    /// Moves the lines appended at or before `cut` to `into`, which is
    /// empty, oldest first.
    fn take_until(&mut self, cut: Instant, into: &mut Waiting) {
        debug_assert!(into.lines.is_empty() && into.bytes.is_empty());
        let count = self.lines.partition_point(|&(at, _)| at <= cut);
        if count == 0 {
            return;
        }
        if count == self.lines.len() {
            std::mem::swap(&mut self.bytes, &mut into.bytes);
            std::mem::swap(&mut self.lines, &mut into.lines);
            return;
        }
        let end = self.lines[count - 1].1;
        into.bytes.extend_from_slice(&self.bytes[..end]);
        into.lines.extend_from_slice(&self.lines[..count]);
        self.bytes.drain(..end);
        self.lines.drain(..count);
        for (_, line_end) in &mut self.lines {
            *line_end -= end;
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.lines.clear();
    }
}

#[derive(Default)]
struct State {
    /// The buffer of every thread that has logged and may log again, or
    /// has lines waiting.
    threads: Vec<Arc<ThreadLines>>,
    /// The guard was dropped: write what is left, then stop.
    closing: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the logging thread: lines arrived, or the guard was dropped.
    lines_waiting: Condvar,
    /// Wakes the guard when the logging thread has finished.
    lines_written: Condvar,
    /// The logging thread waits for lines.
    asleep: AtomicBool,
    /// The gateway is stopping: threads that log no longer wait for room.
    stopping: AtomicBool,
    /// The logging thread has written its last batch.
    finished: AtomicBool,
    id: u64,
}

impl Shared {
    fn new() -> Self {
        Shared {
            state: Mutex::default(),
            lines_waiting: Condvar::new(),
            lines_written: Condvar::new(),
            asleep: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            id: NEXT_WRITER_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock, and the state stays valid
        // if it did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8], at: Option<Instant>) {
        let appended = BUFFERS.try_with(|buffers| {
            if let Some((_, own)) = buffers.borrow().iter().find(|(id, _)| *id == self.id) {
                self.append_to(own, line, at);
                return;
            }
            let own = self.register();
            self.append_to(&own, line, at);
            let mut buffers = buffers.borrow_mut();
            // Buffers of writers that are gone are referenced only by this list.
            buffers.retain(|(_, buffer)| Arc::strong_count(buffer) > 1);
            buffers.push((self.id, own));
        });
        if appended.is_err() {
            // The thread is exiting and its list is gone, so the line goes
            // to a buffer of its own, which the logging thread drops once
            // it has taken the line.
            self.append_to(&self.register(), line, at);
        }
    }

    fn register(&self) -> Arc<ThreadLines> {
        let own = Arc::new(ThreadLines::default());
        self.lock().threads.push(Arc::clone(&own));
        own
    }

    fn append_to(&self, own: &ThreadLines, line: &[u8], at: Option<Instant>) {
        // Nothing takes lines once the logging thread has finished, so they
        // would only pile up.
        if self.finished.load(Ordering::SeqCst) {
            return;
        }
        let mut waiting = own.lock();
        while waiting.bytes.len() >= WAITING_BYTES
            && !self.stopping.load(Ordering::SeqCst)
            && !self.finished.load(Ordering::SeqCst)
        {
            // The logging thread is awake: it was woken when these lines
            // arrived, and sleeps only when no thread has lines waiting.
            waiting.blocked = true;
            waiting = own
                .room
                .wait(waiting)
                .unwrap_or_else(PoisonError::into_inner);
        }
        waiting.blocked = false;
        // A line's time is read before it is appended, so the logging thread
        // can miss a line that is older than its cut and take it with the
        // next batch. No line logged after that one was appended can be
        // taken before it: its time is read later, so it is after the cut.
        // A thread's times never step back, which taking lines relies on.
        let at = at.unwrap_or_else(Instant::now);
        let at = waiting.lines.last().map_or(at, |&(last, _)| at.max(last));
        waiting.bytes.extend_from_slice(line);
        let end = waiting.bytes.len();
        waiting.lines.push((at, end));
        drop(waiting);
        if self.asleep.load(Ordering::SeqCst) {
            let _state = self.lock();
            if self.asleep.swap(false, Ordering::SeqCst) {
                self.lines_waiting.notify_one();
            }
        }
    }

    /// Runs on the logging thread until the guard is dropped and every line
    /// is written.
    fn write_lines(&self, mut output: impl Write) {
        let mut batch = Vec::new();
        let mut taken_by_thread = Vec::new();
        loop {
            let closing = self.lock().closing;
            // Lines appended after the cut wait for the next batch, so that
            // a line that one thread appends while the logging thread takes
            // another thread's lines is not written before older lines.
            self.take_lines(Instant::now(), &mut taken_by_thread, &mut batch);
            if batch.is_empty() {
                if !closing {
                    self.sleep_until_woken();
                } else if !self.any_waiting(&self.lock()) {
                    break;
                }
                continue;
            }
            // A failed write cannot be reported anywhere but the output that
            // failed, so its lines are dropped.
            let _ = output.write_all(&batch).and_then(|()| output.flush());
            batch.clear();
            batch.shrink_to(KEPT_CAPACITY);
            // Lines that arrive meanwhile wait for the next batch without
            // waking this thread.
            thread::sleep(REST);
        }
        self.finished.store(true, Ordering::SeqCst);
        let state = self.lock();
        wake_waiting_for_room(&state);
        self.lines_written.notify_all();
    }

    /// Takes every thread's lines appended at or before `cut` and appends
    /// them to `batch` in the order they were appended. `taken_by_thread`
    /// keeps the buffers that each thread's lines are moved to.
    fn take_lines(&self, cut: Instant, taken_by_thread: &mut Vec<Waiting>, batch: &mut Vec<u8>) {
        let mut state = self.lock();
        taken_by_thread.resize_with(state.threads.len(), Waiting::default);
        for (own, taken) in state.threads.iter().zip(taken_by_thread.iter_mut()) {
            let mut waiting = own.lock();
            waiting.take_until(cut, taken);
            if waiting.blocked && waiting.bytes.len() < WAITING_BYTES {
                own.room.notify_all();
            }
        }
        // A buffer that only this list references belongs to a thread that has
        // exited, and its lines are taken.
        state
            .threads
            .retain(|own| Arc::strong_count(own) > 1 || !own.lock().lines.is_empty());
        drop(state);

        let mut next = vec![0; taken_by_thread.len()];
        loop {
            let oldest = taken_by_thread
                .iter()
                .zip(&next)
                .enumerate()
                .filter_map(|(index, (lines, &line))| {
                    lines.lines.get(line).map(|&(at, _)| (at, index))
                })
                .min();
            let Some((_, index)) = oldest else { break };
            let lines = &taken_by_thread[index];
            let start = match next[index] {
                0 => 0,
                line => lines.lines[line - 1].1,
            };
            batch.extend_from_slice(&lines.bytes[start..lines.lines[next[index]].1]);
            next[index] += 1;
        }
        for lines in taken_by_thread.iter_mut() {
            lines.clear();
            lines.bytes.shrink_to(KEPT_THREAD_CAPACITY);
            lines.lines.shrink_to(KEPT_THREAD_CAPACITY / 64);
        }
    }

    /// Returns whether any thread has lines waiting.
    fn any_waiting(&self, state: &State) -> bool {
        state.threads.iter().any(|own| !own.lock().lines.is_empty())
    }

    /// Sleeps until a thread appends a line or the guard is dropped, unless
    /// a thread has lines waiting already.
    fn sleep_until_woken(&self) {
        let mut state = self.lock();
        self.asleep.store(true, Ordering::SeqCst);
        // A thread that appends after this check reads `asleep` and wakes
        // this thread.
        let any_waiting = self.any_waiting(&state);
        while !any_waiting && !state.closing && self.asleep.load(Ordering::SeqCst) {
            state = self
                .lines_waiting
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        self.asleep.store(false, Ordering::SeqCst);
    }
}

/// Wakes every thread that waits for room, so it checks again whether it
/// still has to. Each buffer's lock is taken first, so that a thread about
/// to wait does not miss the wake-up.
fn wake_waiting_for_room(state: &State) {
    for own in &state.threads {
        let _waiting = own.lock();
        own.room.notify_all();
    }
}

/// Gives the formatter a handle that appends its lines to the thread's buffer.
#[derive(Clone)]
pub struct LineWriter {
    shared: Arc<Shared>,
}

impl LineWriter {
    /// Appends one formatted line that happened `at`, as read by its caller
    /// just before, which saves reading the clock again.
    pub(super) fn append_at(&self, line: &[u8], at: Instant) {
        self.shared.append(line, Some(at));
    }

    /// Lets threads that log append past the limit from now on, waking those
    /// that wait for room. Called when the gateway starts stopping: a reader
    /// of standard error that stopped reading would otherwise block the line
    /// that announces the stop, and every request after it, for good.
    pub fn stop_waiting_for_room(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        wake_waiting_for_room(&self.shared.lock());
    }
}

/// Appends one formatted line, or several, to the thread's buffer. Each
/// write is kept whole and ordered as one unit, so a line must be written in
/// one call, as tracing-subscriber's formatter does.
pub struct LineHandle<'a> {
    shared: &'a Shared,
}

impl<'a> MakeWriter<'a> for LineWriter {
    type Writer = LineHandle<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineHandle {
            shared: &self.shared,
        }
    }
}

impl Write for LineHandle<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.shared.append(bytes, None);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Stops the logging thread when dropped, after it has written the lines
/// still waiting (for at most a second).
#[must_use = "dropping the guard stops the logging thread"]
pub struct LogGuard {
    shared: Arc<Shared>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let deadline = Instant::now() + EXIT_WAIT;
        let mut state = self.shared.lock();
        state.closing = true;
        self.shared.lines_waiting.notify_one();
        while !self.shared.finished.load(Ordering::SeqCst) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = self
                .shared
                .lines_written
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Starts the logging thread, which writes to `output`.
pub fn spawn(output: impl Write + Send + 'static) -> io::Result<(LineWriter, LogGuard)> {
    let shared = Arc::new(Shared::new());
    let thread_shared = Arc::clone(&shared);
    thread::Builder::new()
        .name("badgegate-log".to_string())
        .spawn(move || thread_shared.write_lines(output))?;
    Ok((
        LineWriter {
            shared: Arc::clone(&shared),
        },
        LogGuard { shared },
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Output that keeps what was written, each write call separately.
    #[derive(Clone, Default)]
    struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Writes {
        fn joined(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().concat()).unwrap()
        }
    }

    impl Write for Writes {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().push(bytes.to_vec());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn waiting_bytes(&self) -> usize {
            let state = self.lock();
            state.threads.iter().map(|own| own.lock().bytes.len()).sum()
        }

        fn blocked_threads(&self) -> usize {
            let state = self.lock();
            state
                .threads
                .iter()
                .filter(|own| own.lock().blocked)
                .count()
        }
    }

    fn write_line(writer: &LineWriter, line: &str) {
        writer.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn writer_keeps_lines_whole_and_ordered() {
        let output = Writes::default();
        let (writer, guard) = spawn(output.clone()).unwrap();
        thread::scope(|scope| {
            for thread in 0..4 {
                let writer = &writer;
                scope.spawn(move || {
                    for line in 0..2_000 {
                        write_line(writer, &format!("thread {thread} line {line}\n"));
                    }
                });
            }
        });
        drop(guard);

        let text = output.joined();
        assert_eq!(text.lines().count(), 8_000);
        for thread in 0..4 {
            let prefix = format!("thread {thread} line ");
            let numbers: Vec<usize> = text
                .lines()
                .filter_map(|line| line.strip_prefix(&prefix))
                .map(|number| number.parse().unwrap())
                .collect();
            assert_eq!(numbers, (0..2_000).collect::<Vec<_>>(), "thread {thread}");
        }
        // Every write call contains whole lines.
        for write in output.0.lock().unwrap().iter() {
            assert_eq!(write.last(), Some(&b'\n'));
        }
    }

    #[test]
    fn writer_keeps_order_across_threads() {
        // Each round, one thread writes its line and then lets the other
        // write, so the first line must come out first whichever thread's
        // buffer the logging thread takes first. This checks the merge; the
        // race that the cut closes is rare here, and
        // `taking_lines_stops_at_the_cut` checks the cut itself.
        let output = Writes::default();
        let (writer, guard) = spawn(output.clone()).unwrap();
        let (to_second, from_first) = std::sync::mpsc::channel::<usize>();
        let (to_first, from_second) = std::sync::mpsc::channel::<usize>();
        let rounds = 3_000;
        thread::scope(|scope| {
            let writer = &writer;
            scope.spawn(move || {
                for round in 0..rounds {
                    write_line(writer, &format!("round {round} first\n"));
                    to_second.send(round).unwrap();
                    from_second.recv().unwrap();
                }
            });
            scope.spawn(move || {
                for round in from_first {
                    write_line(writer, &format!("round {round} second\n"));
                    to_first.send(round).unwrap();
                }
            });
        });
        drop(guard);

        let expected: Vec<String> = (0..rounds)
            .flat_map(|round| {
                [
                    format!("round {round} first"),
                    format!("round {round} second"),
                ]
            })
            .collect();
        let text = output.joined();
        let written: Vec<&str> = text.lines().collect();
        assert_eq!(written, expected);
    }

    #[test]
    fn taking_lines_stops_at_the_cut() {
        // Two threads' buffers, filled by hand with known append times, in
        // microseconds after `start`.
        let start = Instant::now();
        let at = |micros: u64| start + Duration::from_micros(micros);
        let shared = Shared::new();
        let first = shared.register();
        let second = shared.register();
        let fill = |own: &ThreadLines, lines: &[(u64, &str)]| {
            let mut waiting = own.lock();
            for (micros, line) in lines {
                waiting.bytes.extend_from_slice(line.as_bytes());
                let end = waiting.bytes.len();
                waiting.lines.push((at(*micros), end));
            }
        };
        fill(&first, &[(10, "a10\n"), (30, "a30\n"), (50, "a50\n")]);
        fill(&second, &[(20, "b20\n"), (40, "b40\n")]);

        let mut taken_by_thread = Vec::new();
        let mut batch = Vec::new();
        shared.take_lines(at(35), &mut taken_by_thread, &mut batch);
        assert_eq!(String::from_utf8_lossy(&batch), "a10\nb20\na30\n");

        batch.clear();
        fill(&second, &[(60, "b60\n")]);
        shared.take_lines(at(1_000), &mut taken_by_thread, &mut batch);
        assert_eq!(String::from_utf8_lossy(&batch), "b40\na50\nb60\n");
        assert!(first.lock().lines.is_empty());
        assert!(second.lock().bytes.is_empty());
    }

    #[test]
    fn writer_drops_buffers_of_exited_threads() {
        let output = Writes::default();
        let (writer, guard) = spawn(output.clone()).unwrap();
        for thread in 0..20 {
            let writer = writer.clone();
            thread::spawn(move || write_line(&writer, &format!("thread {thread}\n")))
                .join()
                .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while output.joined().lines().count() < 20 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        // The logging thread drops an exited thread's buffer when it next
        // takes lines, so one more line lets it take them.
        write_line(&writer, "last\n");
        drop(guard);
        assert_eq!(output.joined().lines().count(), 21);
        assert_eq!(writer.shared.lock().threads.len(), 1);
    }

    #[test]
    fn lines_after_the_last_batch_are_dropped() {
        let output = Writes::default();
        let (writer, guard) = spawn(output.clone()).unwrap();
        write_line(&writer, "before\n");
        drop(guard);
        assert!(writer.shared.finished.load(Ordering::SeqCst));

        write_line(&writer, "after\n");
        assert_eq!(writer.shared.waiting_bytes(), 0);
        assert_eq!(output.joined(), "before\n");
    }

    #[test]
    fn writer_writes_lone_line_promptly() {
        let output = Writes::default();
        let (writer, _guard) = spawn(output.clone()).unwrap();
        write_line(&writer, "first\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        while output.joined().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(output.joined(), "first\n");
    }

    /// Output that blocks until released, as a stalled reader of a pipe does.
    struct Stalled {
        released: Arc<AtomicBool>,
        inner: Writes,
    }

    impl Write for Stalled {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            while !self.released.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(1));
            }
            self.inner.write(bytes)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Starts a logging thread whose output stalls until the returned flag is set.
    fn spawn_stalled(output: Writes) -> (LineWriter, LogGuard, Arc<AtomicBool>) {
        let released = Arc::new(AtomicBool::new(false));
        let (writer, guard) = spawn(Stalled {
            released: Arc::clone(&released),
            inner: output,
        })
        .unwrap();
        (writer, guard, released)
    }

    /// Length of each line [`log_twice_the_limit`] writes.
    const LONG_LINE: usize = 1024;

    /// Starts a thread that logs lines of [`LONG_LINE`] bytes, twice the
    /// limit and a little more, and returns it with the number of lines.
    fn log_twice_the_limit(writer: &LineWriter) -> (thread::JoinHandle<()>, usize) {
        let line = format!("{}\n", "x".repeat(LONG_LINE - 1));
        let lines = 2 * WAITING_BYTES / LONG_LINE + 64;
        let writer = writer.clone();
        let logger = thread::spawn(move || {
            for _ in 0..lines {
                write_line(&writer, &line);
            }
        });
        (logger, lines)
    }

    #[test]
    fn writer_blocks_logger_when_full() {
        let output = Writes::default();
        let (writer, guard, released) = spawn_stalled(output.clone());
        let (logger, lines) = log_twice_the_limit(&writer);
        // The first batch is stuck in the output, so the buffer fills up
        // behind it and the thread that logs has to wait for room.
        let waiting = || writer.shared.waiting_bytes();
        let deadline = Instant::now() + Duration::from_secs(30);
        while waiting() < WAITING_BYTES && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        thread::sleep(Duration::from_millis(100));
        assert!(waiting() >= WAITING_BYTES);
        assert!(waiting() < WAITING_BYTES + LONG_LINE);
        assert!(!logger.is_finished());
        assert_eq!(writer.shared.blocked_threads(), 1);

        released.store(true, Ordering::SeqCst);
        logger.join().unwrap();
        drop(guard);
        assert_eq!(output.joined().lines().count(), lines);
    }

    #[test]
    fn writer_stops_blocking_when_told() {
        let (writer, _guard, released) = spawn_stalled(Writes::default());
        let (logger, _) = log_twice_the_limit(&writer);
        let deadline = Instant::now() + Duration::from_secs(30);
        while writer.shared.blocked_threads() == 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(writer.shared.blocked_threads(), 1);

        writer.stop_waiting_for_room();
        logger.join().unwrap();
        assert!(writer.shared.waiting_bytes() > WAITING_BYTES);
        released.store(true, Ordering::SeqCst);
    }

    #[test]
    fn guard_gives_up_on_stalled_output() {
        let (writer, guard, released) = spawn_stalled(Writes::default());
        write_line(&writer, "stuck\n");
        let started = Instant::now();
        drop(guard);
        // Bounded generously: the guard waits one second.
        assert!(started.elapsed() < Duration::from_secs(30));
        released.store(true, Ordering::SeqCst);
    }
}
