//! `custom-badgegate`: the badgegate binary with one more adapter type,
//! `static-directory`, to show how a third party adds a source without
//! changing badgegate itself.
//!
//! A binary like this one implements [`badgegate_adapter::Adapter`] and
//! [`badgegate_adapter::AdapterFactory`] for its source, adds the factory to
//! the built-in registry, and hands over to [`badgegate::cli::run`], which
//! gives it every command and every config key of `badgegate`.

mod static_directory;

use std::process::ExitCode;

use static_directory::StaticDirectoryFactory;

fn main() -> ExitCode {
    let registry = badgegate::Registry::builtin().with(StaticDirectoryFactory);
    badgegate::cli::run(registry)
}
