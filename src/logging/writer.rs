//! The logging thread, and how lines reach it.
//!
//! A thread that logs formats its line, then appends it to one shared
//! buffer under a lock. The logging thread swaps that buffer for an empty
//! one and writes what it took in one call, so lines reach the output whole
//! and in the order they were appended. A thread that logs wakes the
//! logging thread only when it sleeps, and the logging thread sleeps until
//! woken: it neither spins nor polls.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// Bytes of lines that may wait for the logging thread. A thread that logs
/// while this many are waiting blocks until the logging thread takes them,
/// so no line is dropped while the gateway runs. Once it is stopping, lines
/// are queued past this limit instead.
const WAITING_BYTES: usize = 8 * 1024 * 1024;

/// The maximum capacity the logging thread keeps in a buffer it has written.
/// A larger one, left by a burst, is freed.
const KEPT_CAPACITY: usize = 256 * 1024;

/// How long the logging thread rests after a write, so a busy gateway's
/// lines wake it at most once per rest. Waking it for nearly every line
/// cost more CPU in the hit benchmark than formatting the lines. A quiet
/// gateway's first line is still written at once.
const REST: Duration = Duration::from_millis(1);

/// How long dropping the guard waits for the waiting lines to be written.
// NOTE: if whatever reads standard error has stopped reading, the lines
// still waiting after this long are lost at exit.
const EXIT_WAIT: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    lines: Vec<u8>,
    /// The logging thread waits for lines.
    asleep: bool,
    /// Threads waiting for room in a full buffer.
    blocked: usize,
    /// The gateway is stopping: threads that log no longer wait for room.
    stopping: bool,
    /// The guard was dropped: write what is left, then stop.
    closing: bool,
    /// The logging thread has written its last batch.
    finished: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the logging thread: lines arrived, or the guard was dropped.
    lines_waiting: Condvar,
    /// Wakes threads blocked on a full buffer, and the guard at exit.
    lines_taken: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock, and the state stays valid
        // if it did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8]) {
        let mut state = self.lock();
        while state.lines.len() >= WAITING_BYTES && !state.finished && !state.stopping {
            state.blocked += 1;
            state = self
                .lines_taken
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.blocked -= 1;
        }
        state.lines.extend_from_slice(line);
        if state.asleep {
            state.asleep = false;
            self.lines_waiting.notify_one();
        }
    }

    /// Runs on the logging thread until the guard is dropped and every line
    /// is written.
    fn write_lines(&self, mut output: impl Write) {
        let mut batch = Vec::new();
        loop {
            let (closing, blocked) = {
                let mut state = self.lock();
                while state.lines.is_empty() && !state.closing {
                    state.asleep = true;
                    state = self
                        .lines_waiting
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                std::mem::swap(&mut state.lines, &mut batch);
                (state.closing && batch.is_empty(), state.blocked > 0)
            };
            if closing {
                break;
            }
            if blocked {
                self.lines_taken.notify_all();
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
        self.lock().finished = true;
        self.lines_taken.notify_all();
    }
}

/// Gives the formatter a handle that appends its lines to the shared buffer.
#[derive(Clone)]
pub struct LineWriter {
    shared: Arc<Shared>,
}

impl LineWriter {
    /// Appends one formatted line, or several.
    pub(super) fn append(&self, lines: &[u8]) {
        self.shared.append(lines);
    }

    /// Lets threads that log append past the limit from now on, waking those
    /// that wait for room. Called when the gateway starts stopping: a reader
    /// of standard error that stopped reading would otherwise block the line
    /// that announces the stop, and every request after it, for good.
    pub fn stop_waiting_for_room(&self) {
        self.shared.lock().stopping = true;
        self.shared.lines_taken.notify_all();
    }
}

/// Appends one formatted line, or several, to the shared buffer.
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
        self.shared.append(bytes);
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
        while !state.finished {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = self
                .shared
                .lines_taken
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Starts the logging thread, which writes to `output`.
pub fn spawn(output: impl Write + Send + 'static) -> io::Result<(LineWriter, LogGuard)> {
    let shared = Arc::new(Shared::default());
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
        let waiting = || writer.shared.lock().lines.len();
        let deadline = Instant::now() + Duration::from_secs(30);
        while waiting() < WAITING_BYTES && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        thread::sleep(Duration::from_millis(100));
        assert!(waiting() >= WAITING_BYTES);
        assert!(waiting() < WAITING_BYTES + LONG_LINE);
        assert!(!logger.is_finished());
        assert_eq!(writer.shared.lock().blocked, 1);

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
        while writer.shared.lock().blocked == 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(writer.shared.lock().blocked, 1);

        writer.stop_waiting_for_room();
        logger.join().unwrap();
        assert!(writer.shared.lock().lines.len() > WAITING_BYTES);
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
