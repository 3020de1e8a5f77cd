//! IP and CIDR syntax as upstream's "sloppy" parsers accept it (IPv4 octets
//! may carry leading zeros), with upstream's messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use kaiser_apimachinery::field::{ErrorList, FieldError};

pub const IP_MSG: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
pub const CIDR_MSG: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

fn parse_v4_sloppy(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let trimmed = p.trim_start_matches('0');
        if trimmed.len() > 3 {
            return None;
        }
        let n: u32 = if trimmed.is_empty() {
            0
        } else {
            trimmed.parse().ok()?
        };
        octets[i] = u8::try_from(n).ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// `netutils.ParseIPSloppy`.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        parse_v4_sloppy(s).map(IpAddr::V4)
    }
}

/// Whether an address is IPv6 (not an IPv4-mapped one).
pub fn is_ipv6(s: &str) -> bool {
    match parse_ip(s) {
        Some(IpAddr::V6(a)) => a.to_ipv4_mapped().is_none(),
        _ => false,
    }
}

/// `netutils.ParseCIDRSloppy`: the address and prefix length.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u32)> {
    let (ip, bits) = s.split_once('/')?;
    let addr = parse_ip(ip)?;
    if bits.is_empty() || !bits.bytes().all(|c| c.is_ascii_digit()) || bits.len() > 3 {
        return None;
    }
    let n: u32 = bits.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (n <= max).then_some((addr, n))
}

/// `validation.IsValidIP`.
pub fn valid_ip(errs: &mut ErrorList, path: &str, value: &str) -> bool {
    if parse_ip(value).is_none() {
        errs.push(FieldError::invalid(path, value, IP_MSG));
        return false;
    }
    true
}

/// `validation.IsValidCIDR`.
pub fn valid_cidr(errs: &mut ErrorList, path: &str, value: &str) -> bool {
    if parse_cidr(value).is_none() {
        errs.push(FieldError::invalid(path, value, CIDR_MSG));
        return false;
    }
    true
}

/// Whether a dotted IPv4 literal (or the dotted tail of an IPv6 one) has an
/// octet with a leading zero, which Go's strict parsers reject.
fn has_leading_zero(s: &str) -> bool {
    let tail = s.rsplit(':').next().unwrap_or(s);
    tail.contains('.') && tail.split('.').any(|o| o.len() > 1 && o.starts_with('0'))
}

fn is_v4_mapped(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(a) if a.to_ipv4_mapped().is_some())
}

/// `validation.IsValidIP` of 1.33 (strict): the messages for `value`,
/// ending with the canonical-form check.
pub fn strict_ip_errors(value: &str) -> Vec<String> {
    let Some(ip) = parse_ip(value) else {
        return vec![IP_MSG.to_string()];
    };
    let mut msgs = Vec::new();
    if has_leading_zero(value) {
        msgs.push("must not have leading 0s".to_string());
    }
    if is_v4_mapped(ip) {
        msgs.push("must not be an IPv4-mapped IPv6 address".to_string());
    }
    if msgs.is_empty() && value != ip.to_string() {
        msgs.push(format!("must be in canonical form (\"{ip}\")"));
    }
    msgs
}

/// The network address of `ip` under a prefix of `bits`.
fn masked(ip: IpAddr, bits: u32) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

/// `validation.IsValidCIDR` of 1.33 (strict, subnet form, canonical).
pub fn strict_cidr_errors(value: &str) -> Vec<String> {
    let Some((ip, bits)) = parse_cidr(value) else {
        return vec![CIDR_MSG.to_string()];
    };
    let (ip_text, bits_text) = value.split_once('/').unwrap_or((value, ""));
    let net = masked(ip, bits);
    if has_leading_zero(ip_text) || (bits_text.len() > 1 && bits_text.starts_with('0')) {
        return vec!["must not have leading 0s in IP or prefix length".to_string()];
    }
    if is_v4_mapped(ip) {
        return vec!["must not have an IPv4-mapped IPv6 address".to_string()];
    }
    if net != ip {
        return vec!["must not have bits set beyond the prefix length".to_string()];
    }
    let canonical = format!("{net}/{bits}");
    if value != canonical {
        return vec![format!("must be in canonical form (\"{canonical}\")")];
    }
    Vec::new()
}

/// `ValidateNonSpecialIP`: no unspecified, loopback or link-local addresses.
pub fn non_special_ip(errs: &mut ErrorList, path: &str, value: &str) {
    let Some(ip) = parse_ip(value) else {
        errs.push(FieldError::invalid(
            path,
            value,
            "must be a valid IP address",
        ));
        return;
    };
    let ip = match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(a)),
        v4 => v4,
    };
    if ip.is_unspecified() {
        errs.push(FieldError::invalid(
            path,
            value,
            format!("may not be unspecified ({value})"),
        ));
    }
    if ip.is_loopback() {
        errs.push(FieldError::invalid(
            path,
            value,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let (link_local_unicast, link_local_multicast) = match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            (
                o[0] == 169 && o[1] == 254,
                o[0] == 224 && o[1] == 0 && o[2] == 0,
            )
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            ((s[0] & 0xffc0) == 0xfe80, (s[0] & 0xff0f) == 0xff02)
        }
    };
    if link_local_unicast {
        errs.push(FieldError::invalid(
            path,
            value,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        errs.push(FieldError::invalid(
            path,
            value,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sloppy_parsing() {
        assert!(parse_ip("10.0.0.1").is_some());
        assert!(parse_ip("010.000.0.1").is_some());
        assert!(parse_ip("256.0.0.1").is_none());
        assert!(parse_ip("2001:db8::1").is_some());
        assert!(parse_ip("").is_none());
        assert!(is_ipv6("2001:db8::1"));
        assert!(!is_ipv6("10.0.0.1"));
        assert!(parse_cidr("10.0.0.0/8").is_some());
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(parse_cidr("10.0.0.0").is_none());
        assert!(strict_ip_errors("10.0.0.1").is_empty());
        assert_eq!(strict_ip_errors("10.0.0.01"), ["must not have leading 0s"]);
        assert_eq!(
            strict_ip_errors("::ffff:1.2.3.4"),
            ["must not be an IPv4-mapped IPv6 address"]
        );
        assert_eq!(
            strict_ip_errors("2001:DB8::1"),
            ["must be in canonical form (\"2001:db8::1\")"]
        );
        assert_eq!(strict_ip_errors("x"), [IP_MSG]);
        assert!(strict_cidr_errors("10.96.0.0/12").is_empty());
        assert_eq!(
            strict_cidr_errors("10.96.0.1/12"),
            ["must not have bits set beyond the prefix length"]
        );
        assert_eq!(
            strict_cidr_errors("10.0.0.0/08"),
            ["must not have leading 0s in IP or prefix length"]
        );
        assert_eq!(
            strict_cidr_errors("2001:DB8::/64"),
            ["must be in canonical form (\"2001:db8::/64\")"]
        );
        let mut errs = ErrorList::new();
        non_special_ip(&mut errs, "ip", "127.0.0.1");
        non_special_ip(&mut errs, "ip", "0.0.0.0");
        assert_eq!(
            errs.to_string(),
            "[ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128), ip: Invalid value: \"0.0.0.0\": may not be unspecified (0.0.0.0)]"
        );
    }
}
