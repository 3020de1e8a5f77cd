//! ServiceAccounts.

use kaiser_apimachinery::table::Column;
use kaiser_registry::{ResourceInfo, Strategy};
use serde_json::Value;

use super::{AGE, NAME, age_cell};

pub fn info() -> ResourceInfo {
    ResourceInfo::new("", "v1", "serviceaccounts", "ServiceAccount", true)
        .short_names(&["sa"])
        .subresources(&["token"])
}

pub struct ServiceAccountStrategy;

const COLUMNS: &[Column] = &[
    NAME,
    Column::new(
        "Secrets",
        "string",
        "Number of secrets listed for this service account.",
    ),
    AGE,
];

impl Strategy for ServiceAccountStrategy {
    fn table_columns(&self) -> &[Column] {
        COLUMNS
    }

    fn table_row(&self, obj: &Value) -> Vec<Value> {
        let n = obj
            .get("secrets")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        vec![
            Value::from(kaiser_apimachinery::meta::name(obj)),
            Value::from(n),
            age_cell(obj),
        ]
    }
}
