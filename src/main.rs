use std::process::ExitCode;

/// mimalloc returns freed memory to the system, so a cache filled from two
/// worker threads grows RSS by the entries it contains. With glibc's
/// allocator the per-thread arenas kept about four times that (BENCHMARKS.md
/// gives the measurement).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    badgegate::cli::run(badgegate::Registry::builtin())
}
