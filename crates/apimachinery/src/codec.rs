//! Request and response bodies: JSON and YAML to and from JSON values.

use serde_json::Value;

use crate::status::StatusError;

/// The body formats kaiser reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Yaml => "application/yaml",
        }
    }
}

/// Decodes an object body; errors are 400s worded as upstream's decoder.
pub fn decode(body: &[u8], format: Format) -> Result<Value, StatusError> {
    let v: Value = match format {
        Format::Json => serde_json::from_slice(body).map_err(|e| {
            StatusError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        Format::Yaml => {
            let text = std::str::from_utf8(body).map_err(|e| {
                StatusError::bad_request(format!("error converting YAML to JSON: {e}"))
            })?;
            serde_saphyr::from_str(text).map_err(|e| {
                let first = e.to_string().lines().next().unwrap_or("").to_string();
                StatusError::bad_request(format!("error converting YAML to JSON: yaml: {first}"))
            })?
        }
    };
    if !v.is_object() {
        return Err(StatusError::bad_request(format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            json_type_name(&v)
        )));
    }
    Ok(v)
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Encodes a value in the given format.
pub fn encode(v: &Value, format: Format, pretty: bool) -> Vec<u8> {
    match format {
        Format::Json if pretty => serde_json::to_vec_pretty(v).unwrap_or_default(),
        Format::Json => serde_json::to_vec(v).unwrap_or_default(),
        Format::Yaml => serde_saphyr::to_string(v).unwrap_or_default().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_formats() {
        let j = decode(br#"{"kind":"ConfigMap","data":{"a":"1"}}"#, Format::Json).expect("json");
        let y = decode(b"kind: ConfigMap\ndata:\n  a: \"1\"\n", Format::Yaml).expect("yaml");
        assert_eq!(j, y);
        let e = decode(b"{bad", Format::Json).expect_err("bad json");
        assert_eq!(e.code, 400);
        assert!(
            e.message
                .starts_with("couldn't get version/kind; json parse error")
        );
        assert_eq!(
            decode(b"a: [", Format::Yaml).expect_err("bad yaml").code,
            400
        );
        assert_eq!(decode(b"[1]", Format::Json).expect_err("array").code, 400);
        let round = decode(&encode(&j, Format::Yaml, false), Format::Yaml).expect("round trip");
        assert_eq!(round, j);
    }
}
