//! Server-side `Table` output (`meta.k8s.io/v1`): column definitions and rows.

use serde_json::{Value, json};

use crate::codec::object;

/// One `TableColumnDefinition`.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub format: &'static str,
    pub description: &'static str,
    /// 0 is shown by default; higher only with `-o wide`.
    pub priority: u8,
}

impl Column {
    pub const fn new(name: &'static str, kind: &'static str, description: &'static str) -> Self {
        Column {
            name,
            kind,
            format: "",
            description,
            priority: 0,
        }
    }
    pub const fn format(mut self, format: &'static str) -> Self {
        self.format = format;
        self
    }
    pub const fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The NAME column every table starts with.
pub const NAME_COLUMN: Column =
    Column::new("Name", "string", "Name must be unique within a namespace.").format("name");

/// The AGE column.
pub const AGE_COLUMN: Column = Column::new(
    "Age",
    "string",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

/// How much of each object a row carries (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(format!(
                "includeObject: Unsupported value: {other:?}: supported values: \"Metadata\", \"None\", \"Object\""
            )),
        }
    }
}

/// The object embedded in a row, as `includeObject` asks; takes the object
/// so that its metadata moves into the row rather than being copied.
pub fn row_object(obj: Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => obj,
        IncludeObject::Metadata => partial_object_metadata(obj),
    }
}

/// `obj` as a `PartialObjectMetadata`: its metadata, moved.
pub fn partial_object_metadata(obj: Value) -> Value {
    let metadata = match obj {
        Value::Object(mut m) => m.remove("metadata"),
        _ => None,
    };
    object([
        ("kind", Value::from("PartialObjectMetadata")),
        ("apiVersion", Value::from("meta.k8s.io/v1")),
        (
            "metadata",
            metadata.unwrap_or_else(|| Value::Object(Default::default())),
        ),
    ])
}

/// One row of a `Table`: its cells and, unless `Null`, its object.
pub fn row(cells: Vec<Value>, obj: Value) -> Value {
    let cells = ("cells", Value::Array(cells));
    if obj.is_null() {
        object([cells])
    } else {
        object([cells, ("object", obj)])
    }
}

/// Builds a `Table` from columns and (cells, object) rows.
pub fn table(
    columns: Option<&[Column]>,
    rows: Vec<(Vec<Value>, Value)>,
    list_meta: Value,
) -> Value {
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|(cells, object)| row(cells, object))
        .collect();
    let mut t = object([
        ("kind", Value::from("Table")),
        ("apiVersion", Value::from("meta.k8s.io/v1")),
        ("metadata", list_meta),
    ]);
    if let Some(cols) = columns {
        t["columnDefinitions"] = Value::Array(cols.iter().map(Column::to_json).collect());
    }
    t["rows"] = Value::Array(rows);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_rows() {
        let obj = json!({"metadata": {"name": "a"}, "data": {}});
        let t = table(
            Some(&[NAME_COLUMN, AGE_COLUMN]),
            vec![(
                vec![json!("a"), json!("1s")],
                row_object(obj, IncludeObject::Metadata),
            )],
            json!({"resourceVersion": "5"}),
        );
        assert_eq!(t["columnDefinitions"][0]["name"], "Name");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert!(t["rows"][0]["object"].get("data").is_none());
        assert_eq!(IncludeObject::parse("None"), Ok(IncludeObject::None));
        assert!(IncludeObject::parse("x").is_err());
    }
}
