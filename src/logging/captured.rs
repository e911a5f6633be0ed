//! Test output that keeps what a subscriber wrote, and an error to log.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// Keeps every byte written to it or to its clones.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_string).collect()
    }

    /// Returns the lines that the subscriber built by `format` writes while
    /// `log` runs.
    pub fn lines_logged(
        format: impl FnOnce(Captured) -> tracing::Dispatch,
        log: impl FnOnce(),
    ) -> Vec<String> {
        let captured = Captured::default();
        let dispatch = format(captured.clone());
        tracing::dispatcher::with_default(&dispatch, log);
        captured.lines()
    }
}

/// An error with a source, to log as a field.
#[derive(Debug)]
pub struct ErrorWithSource {
    pub message: &'static str,
    pub source: io::Error,
}

impl fmt::Display for ErrorWithSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for ErrorWithSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
