//! Placeholder until the defaults branch lands.
use serde_json::Value;
pub fn defaulter(_group: &str, _version: &str, _kind: &str) -> Option<fn(&mut Value)> {
    None
}
pub fn job_generate_selector(_obj: &mut Value, _uid: &str) {}
