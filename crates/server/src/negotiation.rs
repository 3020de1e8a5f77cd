//! Content negotiation: which body format and which transform (Table,
//! PartialObjectMetadata, aggregated discovery) a client accepts.

use kaiser_apimachinery::StatusError;
use kaiser_apimachinery::codec::Format;

/// What the response should be converted to before encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Object,
    Table,
    PartialObjectMetadata,
    PartialObjectMetadataList,
    DiscoveryV2,
    DiscoveryV2Beta1,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub format: Format,
    pub target: Target,
}

impl Negotiated {
    pub const JSON: Negotiated = Negotiated {
        format: Format::Json,
        target: Target::Object,
    };

    /// The `Content-Type` of a response in this form.
    pub fn content_type(&self) -> String {
        let base = self.format.media_type();
        match self.target {
            Target::Object => base.to_string(),
            Target::Table => format!("{base};as=Table;v=v1;g=meta.k8s.io"),
            Target::PartialObjectMetadata => {
                format!("{base};as=PartialObjectMetadata;v=v1;g=meta.k8s.io")
            }
            Target::PartialObjectMetadataList => {
                format!("{base};as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")
            }
            Target::DiscoveryV2 => {
                format!("{base};g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
            }
            Target::DiscoveryV2Beta1 => {
                format!("{base};g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")
            }
        }
    }
}

/// What a request handler can produce.
#[derive(Clone, Copy, Debug)]
pub struct Offer {
    pub table: bool,
    pub partial: bool,
    pub discovery: bool,
}

pub const OBJECTS: Offer = Offer {
    table: true,
    partial: true,
    discovery: false,
};
pub const PLAIN: Offer = Offer {
    table: false,
    partial: false,
    discovery: false,
};
pub const DISCOVERY: Offer = Offer {
    table: false,
    partial: false,
    discovery: true,
};

struct MediaRange<'a> {
    kind: &'a str,
    params: Vec<(&'a str, &'a str)>,
    q: f32,
}

fn parse_accept(accept: &str) -> Vec<MediaRange<'_>> {
    let mut out: Vec<MediaRange<'_>> = accept
        .split(',')
        .filter_map(|item| {
            let mut it = item.split(';').map(str::trim);
            let kind = it.next().filter(|k| !k.is_empty())?;
            let mut params = Vec::new();
            let mut q = 1.0;
            for p in it {
                if let Some((k, v)) = p.split_once('=') {
                    let v = v.trim_matches('"');
                    if k == "q" {
                        q = v.parse().unwrap_or(1.0);
                    } else {
                        params.push((k, v));
                    }
                }
            }
            Some(MediaRange { kind, params, q })
        })
        .collect();
    out.sort_by(|a, b| b.q.partial_cmp(&a.q).unwrap_or(std::cmp::Ordering::Equal));
    out
}

/// Picks the first acceptable form, in the client's order of preference.
pub fn negotiate(accept: Option<&str>, offer: Offer) -> Result<Negotiated, StatusError> {
    let accept = match accept {
        None => return Ok(Negotiated::JSON),
        Some(a) if a.trim().is_empty() => return Ok(Negotiated::JSON),
        Some(a) => a,
    };
    for r in parse_accept(accept) {
        let format = match r.kind {
            "application/json" | "application/*" | "*/*" => Format::Json,
            "application/yaml" => Format::Yaml,
            _ => continue,
        };
        let param = |k: &str| r.params.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v);
        let target = match (param("as"), param("g"), param("v")) {
            (None, _, _) => Target::Object,
            (Some("Table"), Some("meta.k8s.io"), Some("v1" | "v1beta1")) if offer.table => {
                Target::Table
            }
            (Some("PartialObjectMetadata"), Some("meta.k8s.io"), Some("v1" | "v1beta1"))
                if offer.partial =>
            {
                Target::PartialObjectMetadata
            }
            (Some("PartialObjectMetadataList"), Some("meta.k8s.io"), Some("v1" | "v1beta1"))
                if offer.partial =>
            {
                Target::PartialObjectMetadataList
            }
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2"))
                if offer.discovery =>
            {
                Target::DiscoveryV2
            }
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2beta1"))
                if offer.discovery =>
            {
                Target::DiscoveryV2Beta1
            }
            _ => continue,
        };
        return Ok(Negotiated { format, target });
    }
    Err(StatusError::not_acceptable(
        "only the following media types are accepted: application/json, application/yaml",
    ))
}

/// The format of a request body from its `Content-Type`.
pub fn body_format(content_type: Option<&str>) -> Result<Format, StatusError> {
    let ct = content_type.unwrap_or("application/json");
    let base = ct.split(';').next().unwrap_or("").trim();
    match base {
        "" | "application/json" => Ok(Format::Json),
        "application/yaml" => Ok(Format::Yaml),
        _ => Err(StatusError::unsupported_media_type(ct)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_table_accept() {
        let a = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            negotiate(Some(a), OBJECTS).expect("ok").target,
            Target::Table
        );
        assert_eq!(
            negotiate(Some(a), PLAIN).expect("ok").target,
            Target::Object
        );
    }

    #[test]
    fn discovery_and_fallbacks() {
        let a = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(
            negotiate(Some(a), DISCOVERY).expect("ok").target,
            Target::DiscoveryV2
        );
        assert_eq!(
            negotiate(Some("application/yaml"), PLAIN)
                .expect("ok")
                .format,
            Format::Yaml
        );
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf, */*"), PLAIN)
                .expect("ok")
                .format,
            Format::Json
        );
        assert_eq!(
            negotiate(Some("text/html"), PLAIN).expect_err("406").code,
            406
        );
        assert_eq!(
            negotiate(Some("application/json;as=Table;v=v1;g=meta.k8s.io"), PLAIN)
                .expect_err("406")
                .code,
            406
        );
        assert_eq!(
            body_format(Some("application/json; charset=utf-8")).expect("ok"),
            Format::Json
        );
        assert_eq!(body_format(Some("text/plain")).expect_err("415").code, 415);
    }
}
