use std::process::ExitCode;

fn main() -> ExitCode {
    badgegate::cli::run(badgegate::Registry::builtin())
}
