//! The `audit.k8s.io/v1` Event (upstream's field names, order and
//! omissions) and the per-request [`Recorder`] that fills it as the request
//! moves through the filters and writes it at each stage the policy keeps.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use kaiser_apimachinery::field::go_quote;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Auditor, Level, RequestConfig, Stage};
use crate::authn::UserInfo;
use crate::authz::Attributes;

/// Upstream cuts user agents longer than this and marks the cut.
const MAX_USER_AGENT: usize = 1024;
const USER_AGENT_CUT: &str = "...TRUNCATED";

pub const DECISION_ANNOTATION: &str = "authorization.k8s.io/decision";
pub const REASON_ANNOTATION: &str = "authorization.k8s.io/reason";

/// A user as the event records it (`authentication.k8s.io/v1` UserInfo).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EventUser {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

impl From<&UserInfo> for EventUser {
    fn from(u: &UserInfo) -> Self {
        EventUser {
            username: u.name.clone(),
            uid: u.uid.clone(),
            groups: u.groups.clone(),
            extra: u.extra.clone(),
        }
    }
}

/// What a resource request was about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

/// One audit event.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub kind: &'static str,
    pub api_version: &'static str,
    pub level: Level,
    #[serde(rename = "auditID")]
    pub audit_id: String,
    pub stage: Stage,
    #[serde(rename = "requestURI")]
    pub request_uri: String,
    pub verb: String,
    pub user: EventUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonated_user: Option<EventUser>,
    #[serde(rename = "sourceIPs", skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<ObjectRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_status: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_object: Option<Value>,
    pub request_received_timestamp: String,
    pub stage_timestamp: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Event {
    /// The JSON line the log backend writes (with its newline).
    pub fn json_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Upstream's `legacy` log format: one `AUDIT:` line of quoted fields.
    pub fn legacy_line(&self) -> String {
        let (user, groups) = if self.user.username.is_empty() {
            ("<none>".to_string(), "<none>".to_string())
        } else if self.user.groups.is_empty() {
            (self.user.username.clone(), "<none>".to_string())
        } else {
            (self.user.username.clone(), quoted_list(&self.user.groups))
        };
        let (as_user, as_groups) = match &self.impersonated_user {
            Some(u) if u.groups.is_empty() => (u.username.clone(), "<lookup>".to_string()),
            Some(u) => (u.username.clone(), quoted_list(&u.groups)),
            None => ("<self>".to_string(), "<lookup>".to_string()),
        };
        let namespace = self
            .object_ref
            .as_ref()
            .map(|o| o.namespace.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or("<none>");
        let response = self
            .response_status
            .as_ref()
            .and_then(|s| s.get("code"))
            .map_or_else(|| "<deferred>".to_string(), Value::to_string);
        let ip = self.source_ips.first().map_or("<unknown>", String::as_str);
        format!(
            "{} AUDIT: id={} stage={} ip={} method={} user={} groups={} as={} asgroups={} user-agent={} namespace={} uri={} response=\"{response}\"\n",
            trim_fraction(&self.request_received_timestamp),
            go_quote(&self.audit_id),
            go_quote(self.stage.as_str()),
            go_quote(ip),
            go_quote(&self.verb),
            go_quote(&user),
            go_quote(&groups),
            go_quote(&as_user),
            go_quote(&as_groups),
            go_quote(&self.user_agent),
            go_quote(namespace),
            go_quote(&self.request_uri),
        )
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| go_quote(s))
        .collect::<Vec<_>>()
        .join(",")
}

/// RFC 3339 with the fraction's trailing zeros dropped (Go's RFC3339Nano).
fn trim_fraction(ts: &str) -> String {
    match ts.strip_suffix('Z').and_then(|t| t.split_once('.')) {
        Some((secs, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                format!("{secs}Z")
            } else {
                format!("{secs}.{frac}Z")
            }
        }
        None => ts.to_string(),
    }
}

/// `2024-01-02T03:04:05.123456Z`, as `metav1.MicroTime` writes times.
pub fn micro_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = kaiser_apimachinery::time::format_rfc3339(d.as_secs() as i64);
    let base = secs.trim_end_matches('Z');
    format!("{base}.{:06}Z", d.subsec_micros())
}

/// What is known of a request before authentication.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    /// Path and query, as received.
    pub request_uri: String,
    pub user_agent: String,
    /// `X-Forwarded-For`, `X-Real-Ip`, then the peer address.
    pub source_ips: Vec<String>,
    pub received: SystemTime,
}

/// Upstream's source IPs: every valid `X-Forwarded-For` entry, `X-Real-Ip`
/// when not already listed, then the peer unless it is already last.
pub fn source_ips(
    forwarded_for: Option<&str>,
    real_ip: Option<&str>,
    peer: Option<std::net::IpAddr>,
) -> Vec<String> {
    let mut ips: Vec<std::net::IpAddr> = forwarded_for
        .into_iter()
        .flat_map(|h| h.split(','))
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    if let Some(ip) = real_ip.and_then(|r| r.trim().parse().ok())
        && !ips.contains(&ip)
    {
        ips.push(ip);
    }
    if let Some(p) = peer
        && ips.last() != Some(&p)
    {
        ips.push(p);
    }
    ips.iter().map(ToString::to_string).collect()
}

fn truncate_user_agent(ua: &str) -> String {
    if ua.len() <= MAX_USER_AGENT {
        return ua.to_string();
    }
    let mut end = MAX_USER_AGENT;
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{USER_AGENT_CUT}", &ua[..end])
}

enum State {
    /// The policy has not been asked yet (authentication runs first).
    Pending,
    /// Level None: nothing is recorded.
    Off,
    On(Box<Active>),
}

struct Active {
    config: RequestConfig,
    event: Event,
    long_running: bool,
}

/// The audit record of one request: the filters tell it what happened and
/// it writes the event at each stage the policy does not omit.
pub struct Recorder {
    auditor: Arc<Auditor>,
    audit_id: String,
    meta: RequestMeta,
    state: Mutex<State>,
}

/// The parts of a request the event names, beside the attributes.
pub struct RequestFacts<'a> {
    pub attributes: &'a Attributes<'a>,
    pub api_version: &'a str,
    /// False when authentication failed: user rules never match and the
    /// event names no user.
    pub authenticated: bool,
    /// Watches and streams: a ResponseStarted stage comes before the end.
    pub long_running: bool,
}

impl Recorder {
    pub fn new(auditor: Arc<Auditor>, audit_id: String, meta: RequestMeta) -> Recorder {
        Recorder {
            auditor,
            audit_id,
            meta,
            state: Mutex::new(State::Pending),
        }
    }

    pub fn audit_id(&self) -> &str {
        &self.audit_id
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Runs `f` on the event when the request is being recorded.
    fn active<R>(&self, f: impl FnOnce(&mut Active) -> R) -> Option<R> {
        self.with(|s| match s {
            State::On(a) => Some(f(a)),
            _ => None,
        })
    }

    /// The level the policy chose (None before it was asked).
    pub fn level(&self) -> Level {
        self.active(|a| a.config.level).unwrap_or(Level::None)
    }

    /// Whether the response streams (ResponseStarted, then ResponseComplete at its end).
    pub fn long_running(&self) -> bool {
        self.active(|a| a.long_running).unwrap_or(false)
    }

    /// Path and query as received.
    pub fn request_uri(&self) -> &str {
        &self.meta.request_uri
    }

    /// Whether the policy has been asked.
    pub fn started(&self) -> bool {
        self.with(|s| !matches!(s, State::Pending))
    }

    /// Asks the policy about the request and, when it is audited, starts
    /// the event (the caller writes the RequestReceived stage).
    pub fn begin(&self, facts: &RequestFacts<'_>) {
        let a = facts.attributes;
        let config = self.auditor.policy.evaluate(a, facts.authenticated);
        if config.level == Level::None {
            self.with(|s| *s = State::Off);
            return;
        }
        let object_ref = a.resource_request.then(|| ObjectRef {
            resource: a.resource.to_string(),
            namespace: a.namespace.to_string(),
            name: a.name.to_string(),
            api_group: a.api_group.to_string(),
            api_version: facts.api_version.to_string(),
            subresource: a.subresource.to_string(),
            ..ObjectRef::default()
        });
        let received = micro_time(self.meta.received);
        let event = Event {
            kind: "Event",
            api_version: "audit.k8s.io/v1",
            level: config.level,
            audit_id: self.audit_id.clone(),
            stage: Stage::RequestReceived,
            request_uri: self.meta.request_uri.clone(),
            verb: a.verb.to_string(),
            user: if facts.authenticated {
                EventUser::from(a.user)
            } else {
                EventUser::default()
            },
            impersonated_user: None,
            source_ips: self.meta.source_ips.clone(),
            user_agent: truncate_user_agent(&self.meta.user_agent),
            object_ref,
            response_status: None,
            request_object: None,
            response_object: None,
            request_received_timestamp: received.clone(),
            stage_timestamp: received,
            annotations: BTreeMap::new(),
        };
        let long_running = facts.long_running;
        self.with(|s| {
            *s = State::On(Box::new(Active {
                config,
                event,
                long_running,
            }))
        });
    }

    /// Records the identity impersonation switched to.
    pub fn impersonated(&self, user: &UserInfo) {
        self.active(|a| a.event.impersonated_user = Some(EventUser::from(user)));
    }

    pub fn annotate(&self, key: &str, value: &str) {
        self.active(|a| {
            a.event
                .annotations
                .insert(key.to_string(), value.to_string());
        });
    }

    /// The authorizer's decision, as upstream's annotations.
    pub fn authorized(&self, allowed: bool, reason: &str) {
        self.annotate(
            DECISION_ANNOTATION,
            if allowed { "allow" } else { "forbid" },
        );
        self.annotate(REASON_ANNOTATION, reason);
    }

    /// The request body: creates and updates name their object in the
    /// reference; at Request level and above the body is the requestObject.
    pub fn request_body(&self, verb: &str, body: &[u8]) {
        if body.is_empty() {
            return;
        }
        self.active(|a| {
            let fills_ref = matches!(verb, "create" | "update");
            if !fills_ref && a.config.level < Level::Request {
                return;
            }
            let Some(mut obj) = decode(body) else {
                return;
            };
            if fills_ref && let Some(r) = a.event.object_ref.as_mut() {
                complete_ref(r, &obj);
            }
            if a.config.level >= Level::Request {
                if a.config.omit_managed_fields {
                    strip_managed_fields(&mut obj);
                }
                a.event.request_object = Some(obj);
            }
        });
    }

    /// The response: its code, the fields of a `Status` body, and at
    /// RequestResponse level the body itself (`body` is None for streams).
    pub fn response(&self, code: u16, body: Option<&[u8]>) {
        self.active(|a| {
            let obj = body.and_then(decode);
            a.event.response_status = Some(response_status(code, obj.as_ref()));
            if a.config.level >= Level::RequestResponse
                && let Some(mut obj) = obj
            {
                if a.config.omit_managed_fields {
                    strip_managed_fields(&mut obj);
                }
                a.event.response_object = Some(obj);
            }
        });
    }

    /// Writes the event at `stage` unless the policy omits the stage.
    pub fn emit(&self, stage: Stage) {
        let event = self.active(|a| {
            if a.config.omit_stages.contains(&stage) {
                return None;
            }
            a.event.stage = stage;
            a.event.stage_timestamp = micro_time(SystemTime::now());
            Some(a.event.clone())
        });
        if let Some(Some(ev)) = event {
            self.auditor.emit(&ev);
        }
    }

    /// A handler panicked: the Panic stage with upstream's 500 status, and
    /// nothing after it.
    pub fn panicked(&self, message: &str) {
        self.active(|a| {
            a.event.response_status = Some(json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("APIServer panic'd: {message}"),
                "reason": "InternalError",
                "code": 500,
            }));
        });
        self.emit(Stage::Panic);
        self.with(|s| {
            if matches!(s, State::On(_)) {
                *s = State::Off;
            }
        });
    }
}

/// JSON, Kubernetes protobuf or YAML, read as the JSON upstream records.
fn decode(body: &[u8]) -> Option<Value> {
    if body.starts_with(b"k8s\x00") {
        // Type first, as upstream encodes objects.
        let obj = kaiser_apimachinery::protobuf::decode_typed(body).ok()?;
        let Value::Object(fields) = obj else {
            return Some(obj);
        };
        let mut out = Map::new();
        for k in ["kind", "apiVersion"] {
            if let Some(v) = fields.get(k) {
                out.insert(k.into(), v.clone());
            }
        }
        out.extend(
            fields
                .into_iter()
                .filter(|(k, _)| k != "kind" && k != "apiVersion"),
        );
        return Some(Value::Object(out));
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if matches!(first, b'{' | b'[') {
        return serde_json::from_slice(body).ok();
    }
    kaiser_apimachinery::codec::decode(body, kaiser_apimachinery::codec::Format::Yaml).ok()
}

fn complete_ref(r: &mut ObjectRef, obj: &Value) {
    let meta = |f: &str| {
        obj.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    for (slot, field) in [
        (&mut r.namespace, "namespace"),
        (&mut r.name, "name"),
        (&mut r.uid, "uid"),
        (&mut r.resource_version, "resourceVersion"),
    ] {
        if slot.is_empty() {
            *slot = meta(field);
        }
    }
}

/// `{metadata: {}, code}`, plus status, message, reason and details when
/// the body is a `Status`, as upstream copies them.
fn response_status(code: u16, body: Option<&Value>) -> Value {
    let mut s = Map::new();
    s.insert("metadata".into(), json!({}));
    if let Some(b) = body.filter(|b| b.get("kind").and_then(Value::as_str) == Some("Status")) {
        for f in ["status", "message", "reason", "details"] {
            if let Some(v) = b.get(f).filter(|v| !v.is_null() && v.as_str() != Some("")) {
                s.insert(f.into(), v.clone());
            }
        }
    }
    s.insert("code".into(), json!(code));
    Value::Object(s)
}

/// Drops `metadata.managedFields` from an object or each item of a list.
pub fn strip_managed_fields(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    if let Some(items) = obj.get_mut("items").and_then(Value::as_array_mut) {
        for item in items {
            if let Some(m) = item.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("managedFields");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Backend, Policy};

    /// Keeps what it is given, for assertions.
    #[derive(Default)]
    struct Keep(Mutex<Vec<Event>>);

    impl Backend for Keep {
        fn process(&self, event: &Event) {
            self.0.lock().expect("lock").push(event.clone());
        }
    }

    fn recorder(policy: &str) -> (Recorder, Arc<Keep>) {
        let keep = Arc::new(Keep::default());
        let auditor = Auditor::new(
            Policy::parse(policy.as_bytes()).expect("policy"),
            vec![keep.clone() as Arc<dyn Backend>],
        );
        let meta = RequestMeta {
            request_uri: "/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create".into(),
            user_agent: "kubectl/v1.33.0".into(),
            source_ips: vec!["127.0.0.1".into()],
            received: UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456),
        };
        (Recorder::new(Arc::new(auditor), "id-1".into(), meta), keep)
    }

    fn create_cm<'a>(u: &'a UserInfo) -> Attributes<'a> {
        Attributes {
            user: u,
            verb: "create",
            resource_request: true,
            path: "/api/v1/namespaces/default/configmaps",
            namespace: "default",
            api_group: "",
            resource: "configmaps",
            subresource: "",
            name: "",
        }
    }

    /// Starts `rec` on an authenticated create of a ConfigMap by `u`.
    fn begin_create_cm(rec: &Recorder, u: &UserInfo) {
        rec.begin(&RequestFacts {
            attributes: &create_cm(u),
            api_version: "v1",
            authenticated: true,
            long_running: false,
        });
    }

    #[test]
    fn request_response_events_carry_both_bodies() {
        let (rec, keep) = recorder(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitManagedFields: true\nrules:\n- level: RequestResponse\n",
        );
        let admin = UserInfo {
            name: "admin".into(),
            groups: vec!["system:masters".into()],
            ..UserInfo::default()
        };
        begin_create_cm(&rec, &admin);
        rec.emit(Stage::RequestReceived);
        rec.impersonated(&UserInfo {
            name: "alice".into(),
            ..UserInfo::default()
        });
        rec.authorized(true, "");
        rec.request_body(
            "create",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","managedFields":[{}]},"data":{"a":"b"}}"#,
        );
        rec.response(
            201,
            Some(br#"{"kind":"ConfigMap","metadata":{"name":"c1","uid":"u1"}}"#),
        );
        rec.emit(Stage::ResponseComplete);
        let events = keep.0.lock().expect("lock");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].stage, Stage::RequestReceived);
        assert!(events[0].impersonated_user.is_none());
        let done: Value = serde_json::from_str(&events[1].json_line()).expect("json");
        assert_eq!(done["kind"], "Event");
        assert_eq!(done["apiVersion"], "audit.k8s.io/v1");
        assert_eq!(done["auditID"], "id-1");
        assert_eq!(done["stage"], "ResponseComplete");
        assert_eq!(done["level"], "RequestResponse");
        assert_eq!(done["verb"], "create");
        assert_eq!(done["user"]["username"], "admin");
        assert_eq!(done["impersonatedUser"]["username"], "alice");
        assert_eq!(done["sourceIPs"], json!(["127.0.0.1"]));
        assert_eq!(
            done["objectRef"],
            json!({"resource": "configmaps", "namespace": "default", "name": "c1", "apiVersion": "v1"})
        );
        assert_eq!(done["responseStatus"], json!({"metadata": {}, "code": 201}));
        assert_eq!(done["requestObject"]["data"]["a"], "b");
        assert!(
            done["requestObject"]["metadata"]
                .get("managedFields")
                .is_none()
        );
        assert_eq!(done["responseObject"]["metadata"]["uid"], "u1");
        assert_eq!(
            done["requestReceivedTimestamp"],
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(
            done["annotations"],
            json!({"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""})
        );
        // Field order is upstream's.
        let line = events[1].json_line();
        let pos = |k: &str| line.find(&format!("\"{k}\"")).expect(k);
        assert!(pos("kind") < pos("level") && pos("level") < pos("auditID"));
        assert!(pos("user") < pos("impersonatedUser") && pos("objectRef") < pos("responseStatus"));
        assert!(pos("requestReceivedTimestamp") < pos("stageTimestamp"));
    }

    #[test]
    fn metadata_level_keeps_no_bodies_and_copies_status_fields() {
        let (rec, keep) = recorder(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n",
        );
        let u = UserInfo::default();
        begin_create_cm(&rec, &u);
        rec.emit(Stage::RequestReceived);
        rec.request_body(
            "create",
            br#"{"metadata":{"name":"s"},"data":{"k":"c2VjcmV0"}}"#,
        );
        rec.response(
            403,
            Some(br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"no","reason":"Forbidden","code":403}"#),
        );
        rec.emit(Stage::ResponseComplete);
        let events = keep.0.lock().expect("lock");
        assert_eq!(events.len(), 1, "RequestReceived is omitted");
        let line = events[0].json_line();
        assert!(!line.contains("c2VjcmV0"));
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["objectRef"]["name"], "s");
        assert_eq!(
            v["responseStatus"],
            json!({"metadata": {}, "status": "Failure", "message": "no", "reason": "Forbidden", "code": 403})
        );
        assert!(v.get("requestObject").is_none() && v.get("responseObject").is_none());
    }

    #[test]
    fn a_panic_is_the_last_stage() {
        let (rec, keep) = recorder(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n",
        );
        let u = UserInfo::default();
        begin_create_cm(&rec, &u);
        rec.panicked("boom");
        rec.response(500, None);
        rec.emit(Stage::ResponseComplete);
        let events = keep.0.lock().expect("lock");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].stage, Stage::Panic);
        assert_eq!(
            events[0].response_status,
            Some(
                json!({"metadata": {}, "status": "Failure", "message": "APIServer panic'd: boom", "reason": "InternalError", "code": 500})
            )
        );
    }

    #[test]
    fn level_none_writes_nothing() {
        let (rec, keep) = recorder(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  resources: [{group: \"\"}]\n",
        );
        let u = UserInfo::default();
        begin_create_cm(&rec, &u);
        rec.emit(Stage::RequestReceived);
        assert!(rec.started());
        rec.response(200, None);
        rec.emit(Stage::ResponseComplete);
        rec.panicked("boom");
        assert!(keep.0.lock().expect("lock").is_empty());
    }

    #[test]
    fn legacy_lines_and_helpers() {
        let (rec, keep) =
            recorder("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n");
        let u = UserInfo {
            name: "bob".into(),
            groups: vec!["g1".into(), "g2".into()],
            ..UserInfo::default()
        };
        begin_create_cm(&rec, &u);
        rec.emit(Stage::RequestReceived);
        let line = keep.0.lock().expect("lock")[0].legacy_line();
        assert_eq!(
            line,
            "2023-11-14T22:13:20.123456Z AUDIT: id=\"id-1\" stage=\"RequestReceived\" ip=\"127.0.0.1\" method=\"create\" user=\"bob\" groups=\"\\\"g1\\\",\\\"g2\\\"\" as=\"<self>\" asgroups=\"<lookup>\" user-agent=\"kubectl/v1.33.0\" namespace=\"default\" uri=\"/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create\" response=\"<deferred>\"\n"
        );
        assert_eq!(
            trim_fraction("2023-11-14T22:13:20.120000Z"),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(
            trim_fraction("2023-11-14T22:13:20.000000Z"),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            source_ips(
                Some("10.0.0.1, bad, 10.0.0.2"),
                Some("10.0.0.1"),
                "10.0.0.2".parse().ok()
            ),
            ["10.0.0.1", "10.0.0.2"]
        );
        assert_eq!(source_ips(None, None, "::1".parse().ok()), ["::1"]);
        let long = "x".repeat(2000);
        assert_eq!(
            truncate_user_agent(&long).len(),
            1024 + USER_AGENT_CUT.len()
        );
    }
}
