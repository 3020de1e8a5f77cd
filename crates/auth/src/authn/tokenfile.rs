//! The static token file (`--token-auth-file`): CSV records of
//! `token,user,uid[,"group1,group2"]`, read once at start. The CSV dialect
//! is Go's `encoding/csv` (quoted fields with `""` escapes, blank lines
//! skipped, any number of fields per record), so files that upstream
//! accepts are accepted here and those it refuses are refused.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;

use super::{Authenticated, AuthnError, TokenAuthenticator, UserInfo};

/// Users by token.
#[derive(Clone, Default)]
pub struct StaticTokens {
    tokens: HashMap<String, UserInfo>,
}

impl fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the tokens themselves.
        f.debug_struct("StaticTokens")
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl StaticTokens {
    /// Parses the file's contents; `path` only names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<Self, String> {
        let mut tokens = HashMap::new();
        for (number, record) in parse_csv(text)?.into_iter().enumerate() {
            if record.len() < 3 {
                return Err(format!(
                    "token file '{path}' must have at least 3 columns (token, user name, user uid), found {}",
                    record.len()
                ));
            }
            if record[0].is_empty() {
                tracing::warn!(
                    path,
                    record = number + 1,
                    "empty token has been found in token file"
                );
                continue;
            }
            let user = UserInfo {
                name: record[1].clone(),
                uid: record[2].clone(),
                groups: record
                    .get(3)
                    .map(|g| g.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
                extra: Default::default(),
            };
            if tokens.insert(record[0].clone(), user).is_some() {
                tracing::warn!(
                    path,
                    record = number + 1,
                    "duplicate token has been found in token file"
                );
            }
        }
        Ok(StaticTokens { tokens })
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

#[async_trait]
impl TokenAuthenticator for StaticTokens {
    async fn authenticate_token(
        &self,
        token: &str,
        _audiences: &[String],
    ) -> Result<Option<Authenticated>, AuthnError> {
        Ok(self.tokens.get(token).map(|u| Authenticated {
            user: u.clone(),
            audiences: Vec::new(),
        }))
    }
}

/// Go's `csv.Reader` with `FieldsPerRecord = -1`: the records of `text`.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut line = 1usize;
    let mut rest = text;
    while !rest.is_empty() {
        // Blank lines are skipped.
        if let Some(r) = rest
            .strip_prefix("\r\n")
            .or_else(|| rest.strip_prefix('\n'))
        {
            rest = r;
            line += 1;
            continue;
        }
        let (record, consumed, lines) = parse_record(rest, line)?;
        records.push(record);
        rest = &rest[consumed..];
        line += lines;
    }
    Ok(records)
}

/// One record from the start of `s`: its fields, the bytes it used
/// (through its line end) and how many lines it spanned.
fn parse_record(s: &str, first_line: usize) -> Result<(Vec<String>, usize, usize), String> {
    let b = s.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    let mut line = first_line;
    let mut col_base = 0; // byte index where the current line starts
    let err = |line: usize, col: usize, what: &str| {
        format!("parse error on line {line}, column {col}: {what}")
    };
    loop {
        let mut field = Vec::new();
        if b.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match b.get(i) {
                    None => {
                        return Err(err(
                            line,
                            i - col_base + 1,
                            "extraneous or missing \" in quoted-field",
                        ));
                    }
                    Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                        field.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        match b.get(i) {
                            None | Some(b',') | Some(b'\n') => break,
                            Some(b'\r') if b.get(i + 1) == Some(&b'\n') => break,
                            Some(_) => {
                                return Err(err(
                                    line,
                                    i - col_base + 1,
                                    "extraneous or missing \" in quoted-field",
                                ));
                            }
                        }
                    }
                    Some(b'\n') => {
                        field.push(b'\n');
                        i += 1;
                        line += 1;
                        col_base = i;
                    }
                    Some(b'\r') if b.get(i + 1) == Some(&b'\n') => {
                        // Go turns \r\n inside a quoted field into \n.
                        field.push(b'\n');
                        i += 2;
                        line += 1;
                        col_base = i;
                    }
                    Some(c) => {
                        field.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(&c) = b.get(i) {
                if c == b',' || c == b'\n' || (c == b'\r' && b.get(i + 1) == Some(&b'\n')) {
                    break;
                }
                if c == b'"' {
                    return Err(err(line, i - col_base + 1, "bare \" in non-quoted-field"));
                }
                field.push(c);
                i += 1;
            }
        }
        fields.push(String::from_utf8_lossy(&field).into_owned());
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'\n') => return Ok((fields, i + 1, line - first_line + 1)),
            Some(b'\r') => return Ok((fields, i + 2, line - first_line + 1)),
            _ => return Ok((fields, i, line - first_line + 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(s: &str) -> Vec<Vec<String>> {
        parse_csv(s).expect("valid CSV")
    }

    #[test]
    fn csv_follows_gos_reader() {
        assert_eq!(csv("a,b,c\n"), [["a", "b", "c"]]);
        assert_eq!(csv("a,b\r\n\r\n\nc,d"), [vec!["a", "b"], vec!["c", "d"]]);
        assert_eq!(csv("t,u,1,\"g1,g2\"\n"), [vec!["t", "u", "1", "g1,g2"]]);
        assert_eq!(csv("\"say \"\"hi\"\"\",x"), [["say \"hi\"", "x"]]);
        assert_eq!(
            csv("\"two\nlines\",x\ny"),
            [vec!["two\nlines", "x"], vec!["y"]]
        );
        assert_eq!(csv("a,,\n"), [["a", "", ""]]);
        assert_eq!(csv(" a , b"), [[" a ", " b"]]);
        assert!(csv("").is_empty());
        let e = parse_csv("ok,1\nbad\"quote,2\n").expect_err("bare quote");
        assert_eq!(
            e,
            "parse error on line 2, column 4: bare \" in non-quoted-field"
        );
        let e = parse_csv("\"open,2\n").expect_err("unterminated");
        assert!(
            e.contains("extraneous or missing \" in quoted-field"),
            "{e}"
        );
        let e = parse_csv("\"a\"b,c").expect_err("text after quote");
        assert_eq!(
            e,
            "parse error on line 1, column 4: extraneous or missing \" in quoted-field"
        );
    }

    #[tokio::test]
    async fn tokens_name_users_with_groups() {
        let file = "secret-1,alice,1001,\"devs,ops\"\nsecret-2,bob,1002\n,nobody,0\n";
        let t = StaticTokens::parse("tokens.csv", file).expect("valid");
        assert_eq!(t.len(), 2);
        let who = |tok: &'static str| {
            let t = t.clone();
            async move { t.authenticate_token(tok, &[]).await.expect("no error") }
        };
        let alice = who("secret-1").await.expect("known").user;
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.uid, "1001");
        assert_eq!(alice.groups, ["devs", "ops"]);
        assert!(who("secret-2").await.expect("known").user.groups.is_empty());
        assert!(who("nope").await.is_none());
        assert!(who("").await.is_none(), "the empty token was skipped");
        assert!(!format!("{t:?}").contains("secret"), "Debug hides tokens");
    }

    #[test]
    fn short_or_malformed_files_are_refused() {
        let e = StaticTokens::parse("f.csv", "tok,alice\n").expect_err("two columns");
        assert_eq!(
            e,
            "token file 'f.csv' must have at least 3 columns (token, user name, user uid), found 2"
        );
        assert!(StaticTokens::parse("f.csv", "tok,\"alice,1\n").is_err());
        // Later duplicates win, as upstream's map assignment.
        let t = StaticTokens::parse("f.csv", "t,a,1\nt,b,2\n").expect("valid");
        assert_eq!(t.len(), 1);
    }
}
