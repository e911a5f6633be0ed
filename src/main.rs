use std::process::ExitCode;

/// mimalloc returns freed memory to the system and keeps per-thread heaps
/// apart, so a cache that fills from two workers grows by what it holds
/// rather than by what glibc's per-thread arenas kept (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    badgegate::cli::run(badgegate::Registry::builtin())
}
