//! Resource quantities as upstream writes them back: parsed (anything finer
//! than a nano rounded up), then printed in canonical form (`0.5` → `500m`,
//! `1.5Gi` → `1536Mi`, `1000m` → `1`). Resource lists are rounded up to
//! milli-units first, as their defaulter does.

use serde_json::Value;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// `mantissa × 10^scale`, with the format the client wrote.
#[derive(Debug, PartialEq)]
struct Quantity {
    mantissa: i128,
    scale: i32,
    format: Format,
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

fn parse(s: &str) -> Option<Quantity> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    let num_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_len);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
        return None;
    }
    let (base2, exp, format) = match suffix {
        "" => (false, 0, Format::DecimalSi),
        "n" => (false, -9, Format::DecimalSi),
        "u" => (false, -6, Format::DecimalSi),
        "m" => (false, -3, Format::DecimalSi),
        "k" => (false, 3, Format::DecimalSi),
        "M" => (false, 6, Format::DecimalSi),
        "G" => (false, 9, Format::DecimalSi),
        "T" => (false, 12, Format::DecimalSi),
        "P" => (false, 15, Format::DecimalSi),
        "E" => (false, 18, Format::DecimalSi),
        "Ki" => (true, 10, Format::BinarySi),
        "Mi" => (true, 20, Format::BinarySi),
        "Gi" => (true, 30, Format::BinarySi),
        "Ti" => (true, 40, Format::BinarySi),
        "Pi" => (true, 50, Format::BinarySi),
        "Ei" => (true, 60, Format::BinarySi),
        _ => {
            let digits = suffix.strip_prefix(['e', 'E'])?;
            let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            (false, digits.parse::<i32>().ok()?, Format::DecimalExponent)
        }
    };
    // Leading zeros say nothing; trailing fraction zeros are kept as scale.
    let digits = format!("{int_part}{frac_part}");
    let trimmed = digits.trim_start_matches('0');
    let mut mantissa: i128 = if trimmed.is_empty() {
        0
    } else {
        trimmed.parse().ok()?
    };
    let mut scale = -i32::try_from(frac_part.len()).ok()?;
    if base2 {
        mantissa = mantissa.checked_mul(2i128.checked_pow(u32::try_from(exp).ok()?)?)?;
    } else {
        scale = scale.checked_add(exp)?;
    }
    if negative {
        mantissa = -mantissa;
    }
    let mut q = Quantity {
        mantissa,
        scale,
        format,
    };
    q.round_up(-9)?;
    Some(q)
}

impl Quantity {
    /// Rounds away from zero to at most `scale` digits after the point.
    fn round_up(&mut self, scale: i32) -> Option<()> {
        if self.scale >= scale {
            return Some(());
        }
        let drop = u32::try_from(scale.checked_sub(self.scale)?).ok()?;
        let Some(div) = pow10(drop) else {
            // Far below the unit: anything non-zero becomes one unit.
            self.mantissa = self.mantissa.signum();
            self.scale = scale;
            return Some(());
        };
        let q = self.mantissa / div;
        let r = self.mantissa % div;
        self.mantissa = if r == 0 {
            q
        } else {
            q + self.mantissa.signum()
        };
        self.scale = scale;
        Some(())
    }

    /// The integral value, when there is one.
    fn integral(&self) -> Option<i128> {
        if self.scale >= 0 {
            self.mantissa
                .checked_mul(pow10(u32::try_from(self.scale).ok()?)?)
        } else {
            let div = pow10(u32::try_from(-self.scale).ok()?)?;
            (self.mantissa % div == 0).then_some(self.mantissa / div)
        }
    }

    fn canonical(&self) -> Option<String> {
        if self.mantissa == 0 {
            return Some("0".to_owned());
        }
        let mut format = self.format;
        let mut integral = None;
        if format == Format::BinarySi {
            // Small or fractional values read better (and exactly) in decimal.
            match self.integral() {
                Some(v) if v.abs() >= 1024 => integral = Some(v),
                _ => format = Format::DecimalSi,
            }
        }
        if let Some(mut v) = integral {
            let mut power = 0;
            while v % 1024 == 0 {
                v /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].get(power)?;
            return Some(format!("{v}{suffix}"));
        }
        let (mut m, mut e) = (self.mantissa, self.scale);
        while m % 10 == 0 {
            m /= 10;
            e = e.checked_add(1)?;
        }
        let r = e.rem_euclid(3);
        m = m.checked_mul(pow10(u32::try_from(r).ok()?)?)?;
        e = e.checked_sub(r)?;
        let suffix = if format == Format::DecimalExponent {
            if e == 0 {
                String::new()
            } else {
                format!("e{e}")
            }
        } else {
            match e {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                0 => "",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                18 => "E",
                _ => return None,
            }
            .to_owned()
        };
        Some(format!("{m}{suffix}"))
    }
}

/// The canonical text of a quantity; `None` when it does not parse (the
/// value is then left as the client wrote it).
pub(super) fn canonical(s: &str) -> Option<String> {
    parse(s)?.canonical()
}

/// Canonicalizes the quantity value in place (strings and plain numbers).
pub(super) fn canonicalize(v: &mut Value) {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return,
    };
    if let Some(c) = canonical(&text) {
        *v = Value::String(c);
    }
}

/// A resource list's values: rounded up to milli-units, then canonical.
pub(super) fn resource_list(v: Option<&mut Value>) {
    let Some(Value::Object(m)) = v else { return };
    for val in m.values_mut() {
        let text = match val {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        let Some(mut q) = parse(&text) else { continue };
        if q.round_up(-3).is_none() {
            continue;
        }
        if let Some(c) = q.canonical() {
            *val = Value::String(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_forms() {
        for (given, want) in [
            ("0", "0"),
            ("0.0", "0"),
            ("0Mi", "0"),
            ("1", "1"),
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("100m", "100m"),
            ("1.5", "1500m"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("2000Mi", "2000Mi"),
            ("0.5Ki", "512"),
            ("1023Ki", "1023Ki"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("12e-1", "1200e-3"),
            ("1000", "1k"),
            ("1000000", "1M"),
            ("10G", "10G"),
            ("1E", "1E"),
            ("+5", "5"),
            ("-5m", "-5m"),
            ("007", "7"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("1.0001", "1000100u"),
        ] {
            assert_eq!(canonical(given).as_deref(), Some(want), "{given}");
        }
        for bad in ["", "abc", "1x", "1..2", ".", "-", "1e", "1Ki2", "e3", "1 "] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
    }

    #[test]
    fn resource_lists_round_to_milli() {
        let mut list = json!({"cpu": "0.0001", "memory": "1.5Gi", "nvidia.com/gpu": 2, "x": "1u", "bad": "??"});
        resource_list(Some(&mut list));
        assert_eq!(
            list,
            json!({"cpu": "1m", "memory": "1536Mi", "nvidia.com/gpu": "2", "x": "1m", "bad": "??"})
        );
        let mut v = json!("0.5");
        canonicalize(&mut v);
        assert_eq!(v, json!("500m"));
        let mut v = json!(true);
        canonicalize(&mut v);
        assert_eq!(v, json!(true));
        resource_list(None);
    }
}
