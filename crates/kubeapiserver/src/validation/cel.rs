//! CEL expressions in built-in objects (admission webhooks' match
//! conditions, ValidatingAdmissionPolicies): parsed with the `cel` crate,
//! never evaluated or type-checked here. A syntax error reads as upstream's
//! compiler reports it (`compilation failed: ERROR: <input>:…`).

use std::panic::catch_unwind;

/// Why `src` does not parse, worded as upstream's `compilation failed: …`.
pub fn compile_error(src: &str) -> Option<String> {
    match catch_unwind(|| cel::Program::compile(src)) {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(format!("compilation failed: {e}")),
        Err(_) => {
            Some("compilation failed: ERROR: <input>:1:1: expression could not be parsed".into())
        }
    }
}

/// `isCELIdentifier`: `[_a-zA-Z][_a-zA-Z0-9]*`, not a reserved word.
pub fn is_identifier(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ];
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic());
    first_ok && chars.all(|c| c == '_' || c.is_ascii_alphanumeric()) && !RESERVED.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_read_as_upstreams_compiler() {
        assert_eq!(compile_error("object.metadata.name == 'x'"), None);
        let e = compile_error("1 +").expect("error");
        assert!(
            e.starts_with("compilation failed: ERROR: <input>:1:"),
            "{e}"
        );
        assert!(is_identifier("foo_1") && is_identifier("_x"));
        assert!(!is_identifier("1x") && !is_identifier("in") && !is_identifier("a-b"));
    }
}
