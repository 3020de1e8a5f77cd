//! Placeholder until the crdschema branch lands.
use kaiser_apimachinery::field::ErrorList;
use serde_json::Value;
pub fn prune(_obj: &mut Value, _schema: &Value) -> Vec<String> {
    Vec::new()
}
pub fn default(_obj: &mut Value, _schema: &Value) {}
pub fn validate(_obj: &Value, _schema: &Value) -> ErrorList {
    ErrorList::new()
}
pub fn validate_crd_schema(_schema: &Value, _path: &str) -> ErrorList {
    ErrorList::new()
}
