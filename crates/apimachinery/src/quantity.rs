//! Kubernetes resource quantities (`1Gi`, `500m`, `1e3`, `0.5`): parsing
//! with upstream's grammar and errors, exact comparison, and the canonical
//! string upstream prints in messages (`1.5` prints `1500m`, `1024Mi`
//! prints `1Gi`).
//!
//! Values are kept as exact decimals (digits and a power of ten), so no
//! input overflows; like upstream, values are rounded up to nano units and
//! binary values are capped at 2^63-1.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

/// The three ways a quantity is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    DecimalExponent,
    BinarySI,
    DecimalSI,
}

impl Format {
    fn go_name(self) -> &'static str {
        match self {
            Format::DecimalExponent => "DecimalExponent",
            Format::BinarySI => "BinarySI",
            Format::DecimalSI => "DecimalSI",
        }
    }
}

/// Why a string is not a quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    FormatWrong,
    Numeric,
    Suffix,
}

impl ParseError {
    /// Upstream's error text.
    pub fn message(self) -> &'static str {
        match self {
            ParseError::FormatWrong => {
                "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            }
            ParseError::Numeric => "unable to parse numeric part of quantity",
            ParseError::Suffix => "unable to parse quantity's suffix",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A parsed quantity.
#[derive(Clone, Debug)]
pub struct Quantity {
    neg: bool,
    /// Decimal digits, most significant first, without leading or trailing
    /// zeros; empty for zero.
    digits: Vec<u8>,
    /// value = digits × 10^exp
    exp: i64,
    pub format: Format,
    /// The input, kept when it already is canonical (as upstream does).
    cached: Option<String>,
    /// The int64 (value, scale) form when upstream's fast path applied.
    fast: Option<(i64, i32)>,
}

const NANO: i64 = -9;
const MAX_INT64: &str = "9223372036854775807";

/// Reads a quantity member: a string, or a JSON number (its text). None
/// when absent or of another type.
pub fn of(v: &Value) -> Option<Result<Quantity, ParseError>> {
    match v {
        Value::String(s) => Some(parse(s)),
        Value::Number(n) => Some(parse(&n.to_string())),
        _ => None,
    }
}

struct Scanned<'a> {
    positive: bool,
    value: &'a str,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// Upstream's quantity scanner: sign, number, fraction, suffix.
fn scan(s: &str) -> Result<Scanned<'_>, ParseError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut out = Scanned {
        positive: true,
        value: "",
        num: "",
        denom: "",
        suffix: "",
    };
    let mut pos = 0;
    match b.first() {
        Some(b'-') => {
            out.positive = false;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        out.num = "0";
        out.value = "0";
        return Ok(out);
    }
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos >= end {
        out.num = &s[start..end];
        out.value = s;
        return Ok(out);
    }
    out.num = if pos == start { "0" } else { &s[start..pos] };
    if b[pos] == b'.' {
        pos += 1;
        let dstart = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos >= end {
            out.denom = &s[dstart..end];
            out.value = s;
            return Ok(out);
        }
        out.denom = &s[dstart..pos];
    }
    out.value = &s[..pos];
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos >= end {
        out.suffix = &s[suffix_start..];
        return Ok(out);
    }
    if matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos >= end {
        out.suffix = &s[suffix_start..];
        return Ok(out);
    }
    Err(ParseError::FormatWrong)
}

/// (base, exponent, format) of a suffix.
fn interpret(suffix: &str) -> Option<(u32, i32, Format)> {
    let dec = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(e) = dec {
        return Some((10, e, Format::DecimalSI));
    }
    let bin = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(e) = bin {
        return Some((2, e, Format::BinarySI));
    }
    let b = suffix.as_bytes();
    if b.len() > 1 && (b[0] == b'e' || b[0] == b'E') {
        // strconv.ParseInt(.., 10, 64), then Go's int32 conversion
        let n: i64 = go_parse_int(&suffix[1..])?;
        return Some((10, n as i32, Format::DecimalExponent));
    }
    None
}

fn go_parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Parses a quantity as upstream's `ParseQuantity`.
pub fn parse(s: &str) -> Result<Quantity, ParseError> {
    if s.is_empty() {
        return Err(ParseError::FormatWrong);
    }
    if s == "0" {
        let mut q = Quantity::zero(Format::DecimalSI);
        q.cached = Some("0".into());
        q.fast = Some((0, 0));
        return Ok(q);
    }
    let p = scan(s)?;
    let (base, exponent, format) = interpret(p.suffix).ok_or(ParseError::Suffix)?;

    // The int64 fast path, which also decides whether the input is kept.
    let precision: i32;
    let mut scale: i32 = 0;
    let mut mantissa: i64 = 1;
    match format {
        Format::DecimalExponent | Format::DecimalSI => {
            scale = exponent;
            precision = 18 - (p.num.len() + p.denom.len()) as i32;
        }
        Format::BinarySI => {
            if exponent >= 0 && p.denom.is_empty() {
                mantissa <<= exponent;
                precision = 15 - p.num.len() as i32 - ((exponent as f32) * 3.0 / 10.0) as i32 - 1;
            } else {
                precision = -1;
            }
        }
    }
    if precision >= 0 {
        scale = scale.wrapping_sub(p.denom.len() as i32);
        if scale >= NANO as i32 {
            let shifted = format!("{}{}", p.num, p.denom);
            let value: i64 = shifted.parse().map_err(|_| ParseError::Numeric)?;
            if let Some(result) = value.checked_mul(mantissa) {
                let result = if p.positive { result } else { -result };
                let canonical = match format {
                    Format::BinarySI => exponent % 10 == 0 && (value & 0x07) != 0,
                    _ => scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0'),
                };
                let mut q = Quantity::from_decimal(
                    result < 0,
                    &result.unsigned_abs().to_string(),
                    scale as i64,
                    format,
                );
                q.cached = canonical.then(|| s.to_string());
                q.fast = Some((result, scale));
                return Ok(q);
            }
        }
    }

    // The arbitrary precision path.
    let (neg, int_part, frac_part) = split_decimal(p.value).ok_or(ParseError::Numeric)?;
    let mut q = Quantity::from_decimal(
        neg,
        &format!("{int_part}{frac_part}"),
        -(frac_part.len() as i64),
        format,
    );
    if base == 10 {
        q.exp += exponent as i64;
    } else {
        for _ in 0..exponent.max(0) {
            q.digits = mul_small(&q.digits, 2);
        }
        q.normalize();
    }
    if !q.is_zero() && q.exp < NANO {
        q.round_up_to(NANO);
    }
    let max = Quantity::from_decimal(false, MAX_INT64, 0, Format::DecimalSI);
    if format == Format::BinarySI && q.cmp_magnitude(&max) == Ordering::Greater {
        q.digits = max.digits.clone();
        q.exp = max.exp;
    }
    let one = Quantity::from_decimal(false, "1", 0, Format::DecimalSI);
    if format == Format::BinarySI && !q.is_zero() && q.cmp_magnitude(&one) == Ordering::Less {
        q.format = Format::DecimalSI;
    }
    Ok(q)
}

/// `[+-]digits[.digits]` with at least one digit.
fn split_decimal(v: &str) -> Option<(bool, &str, &str)> {
    let (neg, rest) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let (i, f) = rest.split_once('.').unwrap_or((rest, ""));
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    (digits(i) && digits(f) && !(i.is_empty() && f.is_empty())).then_some((neg, i, f))
}

fn mul_small(digits: &[u8], m: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(digits.len() + 4);
    let mut carry = 0u32;
    for &d in digits.iter().rev() {
        let x = d as u32 * m + carry;
        out.push((x % 10) as u8);
        carry = x / 10;
    }
    while carry > 0 {
        out.push((carry % 10) as u8);
        carry /= 10;
    }
    out.reverse();
    out
}

/// (quotient, remainder) of a digit string by a small divisor.
fn div_small(digits: &[u8], d: u32) -> (Vec<u8>, u32) {
    let mut out = Vec::with_capacity(digits.len());
    let mut rem = 0u32;
    for &x in digits {
        let cur = rem * 10 + x as u32;
        out.push((cur / d) as u8);
        rem = cur % d;
    }
    let first = out.iter().position(|&x| x != 0).unwrap_or(out.len());
    (out[first..].to_vec(), rem)
}

impl Quantity {
    fn zero(format: Format) -> Self {
        Quantity {
            neg: false,
            digits: Vec::new(),
            exp: 0,
            format,
            cached: None,
            fast: None,
        }
    }

    fn from_decimal(neg: bool, digits: &str, exp: i64, format: Format) -> Self {
        let mut q = Quantity::zero(format);
        q.neg = neg;
        q.digits = digits.bytes().map(|c| c - b'0').collect();
        q.exp = exp;
        q.normalize();
        q
    }

    fn normalize(&mut self) {
        let first = self
            .digits
            .iter()
            .position(|&d| d != 0)
            .unwrap_or(self.digits.len());
        self.digits.drain(..first);
        while self.digits.last() == Some(&0) {
            self.digits.pop();
            self.exp += 1;
        }
        if self.digits.is_empty() {
            self.exp = 0;
            self.neg = false;
        }
    }

    /// Rounds the magnitude up (away from zero) to units of 10^`scale`
    /// (`-3`: milli-units, as resource lists are stored).
    pub fn round_up(&mut self, scale: i64) {
        if self.exp < scale {
            self.round_up_to(scale);
            self.cached = None;
            self.fast = None;
        }
    }

    /// Rounds the magnitude up (away from zero) to 10^scale units.
    fn round_up_to(&mut self, scale: i64) {
        if self.exp >= scale {
            return;
        }
        let drop = (scale - self.exp) as usize;
        let keep = self.digits.len().saturating_sub(drop);
        // Trailing digits are never zero, so anything dropped rounds up.
        let mut kept: Vec<u8> = self.digits[..keep].to_vec();
        let mut i = kept.len();
        loop {
            if i == 0 {
                kept.insert(0, 1);
                break;
            }
            i -= 1;
            if kept[i] == 9 {
                kept[i] = 0;
            } else {
                kept[i] += 1;
                break;
            }
        }
        self.digits = kept;
        self.exp = scale;
        self.normalize();
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    pub fn is_negative(&self) -> bool {
        self.neg && !self.is_zero()
    }

    fn cmp_magnitude(&self, other: &Quantity) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let top = |q: &Quantity| q.digits.len() as i64 + q.exp;
        match top(self).cmp(&top(other)) {
            Ordering::Equal => {}
            o => return o,
        }
        let n = self.digits.len().max(other.digits.len());
        for i in 0..n {
            let a = self.digits.get(i).copied().unwrap_or(0);
            let b = other.digits.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    }

    /// Exact comparison (`Quantity.Cmp`).
    pub fn compare(&self, other: &Quantity) -> Ordering {
        match (self.is_negative(), other.is_negative()) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }

    /// The value scaled by 10^-scale, rounded away from zero, saturating.
    fn scaled(&self, scale: i64) -> i128 {
        let mut q = self.clone();
        q.round_up_to(scale);
        let mut v: i128 = 0;
        for &d in &q.digits {
            v = v.saturating_mul(10).saturating_add(d as i128);
        }
        for _ in 0..(q.exp - scale).max(0) {
            v = v.saturating_mul(10);
        }
        if q.neg { -v } else { v }
    }

    /// `Quantity.Value()`: the integer value, rounded up.
    pub fn value(&self) -> i128 {
        self.scaled(0)
    }

    /// `Quantity.MilliValue()`.
    pub fn milli_value(&self) -> i128 {
        self.scaled(-3)
    }

    fn digit_string(&self) -> String {
        self.digits.iter().map(|d| (b'0' + d) as char).collect()
    }

    /// The canonical form upstream prints (`Quantity.String()`).
    fn canonical(&self) -> String {
        if let Some(c) = &self.cached {
            return c.clone();
        }
        if self.is_zero() {
            return "0".into();
        }
        let limit = Quantity::from_decimal(false, "1024", 0, Format::DecimalSI);
        let format = match self.format {
            Format::BinarySI if self.cmp_magnitude(&limit) == Ordering::Less || self.exp < 0 => {
                Format::DecimalSI
            }
            f => f,
        };
        let sign = if self.neg { "-" } else { "" };
        if format == Format::BinarySI {
            // Integral here: move factors of 1024 into the suffix.
            let mut digits = self.digits.clone();
            digits.extend(std::iter::repeat_n(0, self.exp as usize));
            let mut times = 0;
            loop {
                let (q, r) = div_small(&digits, 1024);
                if r != 0 || q.is_empty() || times == 6 {
                    break;
                }
                digits = q;
                times += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][times];
            let number: String = digits.iter().map(|d| (b'0' + d) as char).collect();
            return format!("{sign}{number}{suffix}");
        }
        let mut number = self.digit_string();
        let mut exp = self.exp;
        match exp % 3 {
            1 | -2 => {
                number.push('0');
                exp -= 1;
            }
            2 | -1 => {
                number.push_str("00");
                exp -= 2;
            }
            _ => {}
        }
        let suffix = match format {
            Format::DecimalExponent => {
                if exp == 0 {
                    String::new()
                } else {
                    format!("e{exp}")
                }
            }
            _ => match exp {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                18 => "E",
                _ => "",
            }
            .to_string(),
        };
        format!("{sign}{number}{suffix}")
    }

    /// Go's `%#v` of a `resource.Quantity` (a struct dump upstream prints
    /// for some errors).
    pub fn go_repr(&self) -> String {
        let s = self.cached.clone().unwrap_or_default();
        let format = self.format.go_name();
        match self.fast {
            Some((value, scale)) => format!(
                "resource.Quantity{{i:resource.int64Amount{{value:{value}, scale:{scale}}}, d:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:{s:?}, Format:{format:?}}}"
            ),
            None => format!(
                "resource.Quantity{{i:resource.int64Amount{{value:0, scale:0}}, d:resource.infDecAmount{{Dec:(*inf.Dec)(0xc000000000)}}, s:{s:?}, Format:{format:?}}}"
            ),
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        parse(s).expect(s).to_string()
    }

    #[test]
    fn canonical_forms() {
        for (input, want) in [
            ("100m", "100m"),
            ("1Gi", "1Gi"),
            ("1e3", "1e3"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("1000", "1k"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("8Gi", "8Gi"),
            ("0.5Gi", "512Mi"),
            ("1.1Ki", "1126400m"),
            ("0", "0"),
            ("000", "0"),
            ("0.1n", "1n"),
            ("1.0", "1"),
            ("-1", "-1"),
            ("+1", "+1"),
            ("12345678901234567890", "12345678901234567890"),
            ("1e100", "10e99"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("1.5e3", "1500"),
            ("1Mi", "1Mi"),
            ("123Mi", "123Mi"),
            ("500Ki", "500Ki"),
            ("1024", "1024"),
            ("2048Ki", "2Mi"),
            ("100Gi", "100Gi"),
            ("10Ei", "9223372036854775807"),
        ] {
            assert_eq!(canon(input), want, "{input}");
        }
    }

    #[test]
    fn parse_errors() {
        assert_eq!(parse("").err(), Some(ParseError::FormatWrong));
        assert_eq!(parse("abc").err(), Some(ParseError::FormatWrong));
        assert_eq!(parse("1Gix").err(), Some(ParseError::FormatWrong));
        assert_eq!(parse("1.5.5").err(), Some(ParseError::FormatWrong));
        assert_eq!(parse("1k2").err(), Some(ParseError::Suffix));
        assert_eq!(parse("1e").err(), Some(ParseError::Suffix));
        assert_eq!(parse("1Gi").map(|q| q.format), Ok(Format::BinarySI));
        assert_eq!(
            ParseError::FormatWrong.message(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    #[test]
    fn compares_exactly() {
        let q = |s: &str| parse(s).expect(s);
        assert_eq!(q("1").compare(&q("1000m")), Ordering::Equal);
        assert_eq!(q("1Ki").compare(&q("1k")), Ordering::Greater);
        assert_eq!(q("600m").compare(&q("500m")), Ordering::Greater);
        assert_eq!(q("-1").compare(&q("0")), Ordering::Less);
        assert_eq!(q("1e30").compare(&q("1E")), Ordering::Greater);
        assert!(q("-0.5").is_negative());
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("1.0001").milli_value(), 1001);
        assert_eq!(q("2Ki").value(), 2048);
        assert_eq!(
            q("500m").go_repr(),
            "resource.Quantity{i:resource.int64Amount{value:500, scale:-3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:\"500m\", Format:\"DecimalSI\"}"
        );
    }
}
