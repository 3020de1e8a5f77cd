//! Placeholder until the validation branch lands.
use kaiser_apimachinery::field::ErrorList;
use serde_json::Value;
pub struct Validator {
    pub create: fn(&Value) -> ErrorList,
    pub update: fn(&Value, &Value) -> ErrorList,
}
pub fn validator(_group: &str, _kind: &str) -> Option<Validator> {
    None
}
