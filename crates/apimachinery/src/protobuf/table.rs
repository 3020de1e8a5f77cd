//! The message table: the protobuf shape of every built-in message, read once
//! from `messages.txt` (written by `tools/protobuf-gen`).

use std::collections::HashMap;
use std::sync::OnceLock;

const DATA: &str = include_str!("messages.txt");

/// How a message is shown in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// An object of its fields.
    Object,
    /// `metav1.Time`: seconds (and ignored nanos), RFC 3339 seconds.
    Time,
    /// `metav1.MicroTime`: seconds and nanos, RFC 3339 with microseconds.
    MicroTime,
    /// `metav1.Duration`: nanoseconds, shown as Go's duration string.
    Duration,
    /// Field 1 holds raw JSON (`RawExtension`, `FieldsV1`, apiextensions `JSON`).
    Raw,
    /// `resource.Quantity`: field 1 is the string form.
    Quantity,
    /// `intstr.IntOrString`: type, intVal, strVal.
    IntOrString,
    /// A named Go slice (`ExtraValue`, `Verbs`): the JSON array of field 1.
    Items,
    /// `JSONSchemaPropsOrArray`: a schema or an array of schemas.
    OrArray,
    /// `JSONSchemaPropsOrBool`: a schema or a boolean.
    OrBool,
    /// `JSONSchemaPropsOrStringArray`: a schema or an array of strings.
    OrStrings,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    /// `[]byte`, shown base64-encoded.
    Bytes,
    Bool,
    Int32,
    Int64,
    Double,
    /// Bytes that hold a JSON document.
    Json,
    /// Another message, by index into the table.
    Message(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Card {
    Single,
    Repeated,
    /// `map<string, kind>`, encoded as repeated key (1) / value (2) entries.
    Map,
}

#[derive(Debug)]
pub(crate) struct Field {
    pub number: u32,
    pub name: String,
    pub kind: Kind,
    pub card: Card,
    /// The zero value stays in JSON (a Go pointer, or no `omitempty`).
    pub keep: bool,
    /// A Go embedded struct: its fields are promoted into the parent.
    pub inline: bool,
}

#[derive(Debug)]
pub(crate) struct Message {
    pub form: Form,
    /// Sorted by field number.
    pub fields: Vec<Field>,
}

impl Message {
    pub fn field(&self, number: u32) -> Option<usize> {
        self.fields.binary_search_by_key(&number, |f| f.number).ok()
    }
}

#[derive(Debug)]
pub(crate) struct Table {
    pub messages: Vec<Message>,
    pub by_name: HashMap<String, usize>,
}

/// The parsed table; an error only if the committed data is malformed,
/// which the unit tests rule out.
pub(crate) fn table() -> Result<&'static Table, String> {
    static TABLE: OnceLock<Result<Table, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| parse(DATA))
        .as_ref()
        .map_err(Clone::clone)
}

pub(crate) fn parse(data: &str) -> Result<Table, String> {
    let lines = || {
        data.lines()
            .enumerate()
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
    };
    // First pass: names, so that fields may refer to later messages.
    let mut by_name = HashMap::new();
    for (_, line) in lines() {
        if let Some(rest) = line.strip_prefix("message ") {
            let name = rest.split(' ').next().unwrap_or_default();
            let idx = by_name.len();
            if by_name.insert(name.to_string(), idx).is_some() {
                return Err(format!("message {name} is defined twice"));
            }
        }
    }
    let mut messages: Vec<Message> = Vec::with_capacity(by_name.len());
    for (n, line) in lines() {
        let bad = |what: &str| format!("messages.txt line {}: {what}: {line}", n + 1);
        if let Some(rest) = line.strip_prefix("message ") {
            let form = match rest.split(' ').nth(1) {
                None => Form::Object,
                Some("time") => Form::Time,
                Some("microtime") => Form::MicroTime,
                Some("duration") => Form::Duration,
                Some("raw") => Form::Raw,
                Some("quantity") => Form::Quantity,
                Some("intorstring") => Form::IntOrString,
                Some("items") => Form::Items,
                Some("or-array") => Form::OrArray,
                Some("or-bool") => Form::OrBool,
                Some("or-strings") => Form::OrStrings,
                Some(_) => return Err(bad("unknown form")),
            };
            messages.push(Message {
                form,
                fields: Vec::new(),
            });
            continue;
        }
        let msg = messages
            .last_mut()
            .ok_or_else(|| bad("field before any message"))?;
        let mut parts = line.split(' ');
        let (Some(number), Some(name), Some(kind)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("a field needs a number, a name and a kind"));
        };
        let number: u32 = number.parse().map_err(|_| bad("bad field number"))?;
        let (card, kind) = if let Some(k) = kind.strip_prefix("[]") {
            (Card::Repeated, k)
        } else if let Some(k) = kind.strip_prefix("{}") {
            (Card::Map, k)
        } else {
            (Card::Single, kind)
        };
        let kind = match kind {
            "string" => Kind::String,
            "bytes" => Kind::Bytes,
            "bool" => Kind::Bool,
            "int32" => Kind::Int32,
            "int64" => Kind::Int64,
            "double" => Kind::Double,
            "json" => Kind::Json,
            other => Kind::Message(
                *by_name
                    .get(other)
                    .ok_or_else(|| bad("unknown message kind"))?,
            ),
        };
        let (mut keep, mut inline) = (false, false);
        for flag in parts {
            match flag {
                "keep" => keep = true,
                "inline" => inline = true,
                _ => return Err(bad("unknown flag")),
            }
        }
        if msg.fields.last().is_some_and(|f| f.number >= number) {
            return Err(bad("fields must be in ascending number order"));
        }
        msg.fields.push(Field {
            number,
            name: name.to_string(),
            kind,
            card,
            keep,
            inline,
        });
    }
    Ok(Table { messages, by_name })
}
