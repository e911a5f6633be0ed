//! Helpers shared by the integration tests: building the adapter through its
//! factory and running a lookup the way the gateway does.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use badgegate_adapter::phone::parse_caller;
use badgegate_adapter::{
    Adapter, AdapterFactory, BuildError, Contact, Query, Region, SourceContext,
};
use badgegate_file::FileFactory;
use serde_json::json;

pub fn region(code: &str) -> Region {
    code.parse().unwrap()
}

pub fn context(config_dir: &Path, default_region: Region) -> SourceContext {
    SourceContext {
        name: "contacts".to_string(),
        timeout: Duration::from_millis(500),
        default_region,
        config_dir: config_dir.to_path_buf(),
        http: badgegate_adapter::http::client(),
    }
}

/// Builds an adapter for `path` with default region US.
pub fn build(config_dir: &Path, path: &str) -> Result<Arc<dyn Adapter>, BuildError> {
    FileFactory.build(context(config_dir, region("US")), json!({ "path": path }))
}

/// Writes `text` to `contacts.csv` in a new temporary folder and builds an
/// adapter for it. Keep the returned folder alive while using the adapter.
pub fn build_from_text(text: &str) -> (tempfile::TempDir, Result<Arc<dyn Adapter>, BuildError>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("contacts.csv"), text).unwrap();
    let result = build(dir.path(), "contacts.csv");
    (dir, result)
}

/// Looks up `caller` as JustCall would send it, reading a national number in
/// region US.
pub async fn find(adapter: &dyn Adapter, caller: &str) -> Vec<Contact> {
    let number = parse_caller(caller, region("US")).unwrap();
    let query = Query::new(
        number,
        tokio::time::Instant::now() + Duration::from_secs(1),
        "req1",
    );
    adapter.find(&query).await.unwrap()
}

pub fn names(contacts: &[Contact]) -> Vec<String> {
    contacts
        .iter()
        .map(|contact| contact.name.clone().unwrap_or_default())
        .collect()
}
