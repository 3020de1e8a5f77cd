//! CEL syntax shared by the servers: parsing an expression with the `cel`
//! crate (a parser panic reads as a parse error), upstream's wording of a
//! failed compilation, CEL's reserved words and what is an identifier.
//! Evaluation, type checks and cost stay with the servers that need them.

use std::panic::catch_unwind;

pub use ::cel::Program;

/// The words CEL's lexer reserves: no identifier or property name may be one.
pub const RESERVED: [&str; 21] = [
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

/// Parses `src`; the error is the compiler's text (`ERROR: <input>:…`).
pub fn parse(src: &str) -> Result<Program, String> {
    catch_unwind(|| Program::compile(src))
        .map_err(|_| "ERROR: <input>:1:1: expression could not be parsed".to_string())?
        .map_err(|e| e.to_string())
}

/// Why `src` does not parse, worded as upstream's `compilation failed: …`.
pub fn compile_error(src: &str) -> Option<String> {
    parse(src).err().map(|e| format!("compilation failed: {e}"))
}

/// `[_a-zA-Z][_a-zA-Z0-9]*`, not a reserved word.
pub fn is_identifier(name: &str) -> bool {
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
        assert!(parse("object.metadata.name == 'x'").is_ok());
        assert_eq!(compile_error("object.metadata.name == 'x'"), None);
        let e = compile_error("1 +").expect("error");
        assert!(
            e.starts_with("compilation failed: ERROR: <input>:1:"),
            "{e}"
        );
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("foo_1") && is_identifier("_x"));
        for bad in ["1x", "in", "a-b", "", "while"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }
}
