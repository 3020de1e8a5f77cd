//! Placeholder until the printers branch lands.
use kaiser_apimachinery::table::Column;
use serde_json::Value;
pub struct Printer {
    pub columns: &'static [Column],
    pub row: fn(&Value) -> Vec<Value>,
}
pub fn printer(_group: &str, _kind: &str) -> Option<Printer> {
    None
}
