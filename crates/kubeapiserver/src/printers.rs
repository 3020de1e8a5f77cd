//! Server-side `Table` printers for the built-in kinds: the columns and
//! cells that `kubectl get` (and `-o wide`) shows, computed the way
//! kube-apiserver 1.33 computes them.
//!
//! The server always sends every column, wide ones included; kubectl hides
//! the columns of priority 1 unless asked for `-o wide`. Objects arrive in
//! their v1 wire form and any field may be missing or of the wrong type:
//! nothing here panics, missing values print as the upstream printers print
//! the zero value of the field.

use kaiser_apimachinery::table::{AGE_COLUMN, Column, NAME_COLUMN};
use kaiser_apimachinery::{meta, time};
use serde_json::{Map, Value, json};

/// The columns of one kind and the function computing a row's cells.
pub struct Printer {
    pub columns: &'static [Column],
    pub row: fn(&Value) -> Vec<Value>,
}

type RowFn = fn(&Value) -> Vec<Value>;

/// The printer for a kind (`group` is "" for core), or `None` when upstream
/// shows only the default NAME / CREATED AT table.
pub fn printer(group: &str, kind: &str) -> Option<Printer> {
    let (columns, row): (&'static [Column], RowFn) = match (group, kind) {
        ("", "Pod") => (POD, pod_row),
        ("", "PodTemplate") => (POD_TEMPLATE, pod_template_row),
        ("", "Service") => (SERVICE, service_row),
        ("", "Endpoints") => (ENDPOINTS, endpoints_row),
        ("", "Node") => (NODE, node_row),
        ("", "PersistentVolume") => (PV, pv_row),
        ("", "PersistentVolumeClaim") => (PVC, pvc_row),
        ("", "ReplicationController") => (REPLICATION_CONTROLLER, replication_controller_row),
        ("", "ResourceQuota") => (RESOURCE_QUOTA, resource_quota_row),
        ("", "ComponentStatus") => (COMPONENT_STATUS, component_status_row),
        ("", "ConfigMap") => (CONFIG_MAP, config_map_row),
        ("", "Secret") => (SECRET, secret_row),
        ("", "ServiceAccount") => (SERVICE_ACCOUNT, service_account_row),
        ("", "Namespace") => (NAMESPACE, namespace_row),
        ("", "Event") => (EVENT, core_event_row),
        ("events.k8s.io", "Event") => (EVENT, events_event_row),
        ("apps", "Deployment") => (DEPLOYMENT, deployment_row),
        ("apps", "ReplicaSet") => (REPLICA_SET, replica_set_row),
        ("apps", "StatefulSet") => (STATEFUL_SET, stateful_set_row),
        ("apps", "DaemonSet") => (DAEMON_SET, daemon_set_row),
        ("apps", "ControllerRevision") => (CONTROLLER_REVISION, controller_revision_row),
        ("batch", "Job") => (JOB, job_row),
        ("batch", "CronJob") => (CRON_JOB, cron_job_row),
        ("autoscaling", "HorizontalPodAutoscaler") => (HPA, hpa_row),
        ("policy", "PodDisruptionBudget") => (PDB, pdb_row),
        ("rbac.authorization.k8s.io", "RoleBinding") => (ROLE_BINDING, binding_row),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => (CLUSTER_ROLE_BINDING, binding_row),
        ("networking.k8s.io", "Ingress") => (INGRESS, ingress_row),
        ("networking.k8s.io", "IngressClass") => (INGRESS_CLASS, ingress_class_row),
        ("networking.k8s.io", "NetworkPolicy") => (NETWORK_POLICY, network_policy_row),
        ("networking.k8s.io", "IPAddress") => (IP_ADDRESS, ip_address_row),
        ("networking.k8s.io", "ServiceCIDR") => (SERVICE_CIDR, service_cidr_row),
        ("storage.k8s.io", "StorageClass") => (STORAGE_CLASS, storage_class_row),
        ("storage.k8s.io", "CSIDriver") => (CSI_DRIVER, csi_driver_row),
        ("storage.k8s.io", "CSINode") => (CSI_NODE, csi_node_row),
        ("storage.k8s.io", "CSIStorageCapacity") => {
            (CSI_STORAGE_CAPACITY, csi_storage_capacity_row)
        }
        ("storage.k8s.io", "VolumeAttachment") => (VOLUME_ATTACHMENT, volume_attachment_row),
        ("coordination.k8s.io", "Lease") => (LEASE, lease_row),
        ("discovery.k8s.io", "EndpointSlice") => (ENDPOINT_SLICE, endpoint_slice_row),
        ("scheduling.k8s.io", "PriorityClass") => (PRIORITY_CLASS, priority_class_row),
        ("node.k8s.io", "RuntimeClass") => (RUNTIME_CLASS, runtime_class_row),
        ("certificates.k8s.io", "CertificateSigningRequest") => (CSR, csr_row),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            (MUTATING_WEBHOOK, webhook_configuration_row)
        }
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            (VALIDATING_WEBHOOK, webhook_configuration_row)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            (VALIDATING_ADMISSION_POLICY, validating_admission_policy_row)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => (
            VALIDATING_ADMISSION_POLICY_BINDING,
            validating_admission_policy_binding_row,
        ),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => (FLOW_SCHEMA, flow_schema_row),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => {
            (PRIORITY_LEVEL, priority_level_row)
        }
        ("apiregistration.k8s.io", "APIService") => (API_SERVICE, api_service_row),
        // Role, ClusterRole, LimitRange, CustomResourceDefinition and the
        // rest use the default table.
        _ => return None,
    };
    Some(Printer { columns, row })
}

// ---------------------------------------------------------------------------
// Columns. Descriptions are our own short wording.

const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column::new(name, kind, description)
}

const CONTAINERS: Column = col(
    "Containers",
    "string",
    "Container names of the pod template.",
)
.wide();
const IMAGES: Column = col("Images", "string", "Container images of the pod template.").wide();
const SELECTOR: Column = col("Selector", "string", "Label selector for the managed pods.").wide();

const POD: &[Column] = &[
    NAME_COLUMN,
    col("Ready", "string", "Ready containers out of all containers."),
    col(
        "Status",
        "string",
        "A summary of the pod's and its containers' state.",
    ),
    col(
        "Restarts",
        "string",
        "Container restarts, and how long ago the last one was.",
    ),
    AGE_COLUMN,
    col("IP", "string", "The pod's primary IP address.").wide(),
    col("Node", "string", "The node the pod runs on.").wide(),
    col(
        "Nominated Node",
        "string",
        "The node nominated by preemption, if any.",
    )
    .wide(),
    col(
        "Readiness Gates",
        "string",
        "Readiness gates that are true, out of all.",
    )
    .wide(),
];

const POD_TEMPLATE: &[Column] = &[
    NAME_COLUMN,
    col("Containers", "string", "Container names of the template."),
    col("Images", "string", "Container images of the template."),
    col(
        "Pod Labels",
        "string",
        "Labels given to the template's pods.",
    ),
];

const PDB: &[Column] = &[
    NAME_COLUMN,
    col("Min Available", "string", "Pods that must stay available."),
    col(
        "Max Unavailable",
        "string",
        "Pods that may be unavailable at once.",
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "Pods that may be disrupted right now.",
    ),
    AGE_COLUMN,
];

const REPLICATION_CONTROLLER: &[Column] = &[
    NAME_COLUMN,
    col("Desired", "integer", "Replicas asked for."),
    col("Current", "integer", "Replicas that exist."),
    col("Ready", "integer", "Replicas that are ready."),
    AGE_COLUMN,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const REPLICA_SET: &[Column] = REPLICATION_CONTROLLER;

const DAEMON_SET: &[Column] = &[
    NAME_COLUMN,
    col(
        "Desired",
        "integer",
        "Nodes that should run the daemon pod.",
    ),
    col(
        "Current",
        "integer",
        "Nodes running at least one daemon pod.",
    ),
    col("Ready", "integer", "Nodes whose daemon pod is ready."),
    col(
        "Up-to-date",
        "integer",
        "Nodes running the current template.",
    ),
    col(
        "Available",
        "integer",
        "Nodes whose daemon pod is available.",
    ),
    col(
        "Node Selector",
        "string",
        "Node labels the pods are restricted to.",
    ),
    AGE_COLUMN,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const JOB: &[Column] = &[
    NAME_COLUMN,
    col("Status", "string", "The job's current state."),
    col(
        "Completions",
        "string",
        "Succeeded pods out of the required completions.",
    ),
    col(
        "Duration",
        "string",
        "How long the job ran, or has been running.",
    ),
    AGE_COLUMN,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const CRON_JOB: &[Column] = &[
    NAME_COLUMN,
    col("Schedule", "string", "The cron schedule."),
    col("Timezone", "string", "Time zone the schedule is read in."),
    col("Suspend", "boolean", "Whether new runs are suspended."),
    col("Active", "integer", "Jobs currently running."),
    col(
        "Last Schedule",
        "string",
        "How long ago a job was last scheduled.",
    ),
    AGE_COLUMN,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const SERVICE: &[Column] = &[
    NAME_COLUMN,
    col("Type", "string", "How the service is exposed."),
    col("Cluster-IP", "string", "The service's cluster-internal IP."),
    col(
        "External-IP",
        "string",
        "Addresses reachable from outside the cluster.",
    ),
    col(
        "Port(s)",
        "string",
        "Service ports, with node ports if any.",
    ),
    AGE_COLUMN,
    col(
        "Selector",
        "string",
        "Labels of the pods behind the service.",
    )
    .wide(),
];

const INGRESS: &[Column] = &[
    NAME_COLUMN,
    col("Class", "string", "The IngressClass handling this ingress."),
    col("Hosts", "string", "Host names the rules match."),
    col(
        "Address",
        "string",
        "Load balancer addresses of the ingress.",
    ),
    col("Ports", "string", "Ports the ingress serves."),
    AGE_COLUMN,
];

const INGRESS_CLASS: &[Column] = &[
    NAME_COLUMN,
    col(
        "Controller",
        "string",
        "The controller implementing the class.",
    ),
    col(
        "Parameters",
        "string",
        "Resource holding the class's parameters.",
    ),
    AGE_COLUMN,
];

const STATEFUL_SET: &[Column] = &[
    NAME_COLUMN,
    col("Ready", "string", "Ready replicas out of desired."),
    AGE_COLUMN,
    CONTAINERS,
    IMAGES,
];

const ENDPOINTS: &[Column] = &[
    NAME_COLUMN,
    col(
        "Endpoints",
        "string",
        "Addresses and ports of the endpoints.",
    ),
    AGE_COLUMN,
];

const NODE: &[Column] = &[
    NAME_COLUMN,
    col(
        "Status",
        "string",
        "Readiness and schedulability of the node.",
    ),
    col("Roles", "string", "Roles taken from the node's labels."),
    AGE_COLUMN,
    col("Version", "string", "The kubelet's version."),
    col("Internal-IP", "string", "The node's internal address.").wide(),
    col("External-IP", "string", "The node's external address.").wide(),
    col("OS-Image", "string", "Operating system image of the node.").wide(),
    col("Kernel-Version", "string", "Kernel version of the node.").wide(),
    col(
        "Container-Runtime",
        "string",
        "Container runtime and its version.",
    )
    .wide(),
];

const EVENT: &[Column] = &[
    col(
        "Last Seen",
        "string",
        "How long ago the event last happened.",
    ),
    col("Type", "string", "Normal or Warning."),
    col("Reason", "string", "Short machine-readable cause."),
    col("Object", "string", "The object the event is about."),
    col("Subobject", "string", "The part of the object concerned.").wide(),
    col("Source", "string", "The component that reported it.").wide(),
    col("Message", "string", "Human-readable description."),
    col(
        "First Seen",
        "string",
        "How long ago the event first happened.",
    )
    .wide(),
    col("Count", "string", "How many times it happened.").wide(),
    NAME_COLUMN.wide(),
];

const NAMESPACE: &[Column] = &[
    NAME_COLUMN,
    col(
        "Status",
        "string",
        "Active, or Terminating while being deleted.",
    ),
    AGE_COLUMN,
];

const SECRET: &[Column] = &[
    NAME_COLUMN,
    col("Type", "string", "The kind of secret."),
    col("Data", "string", "Number of data entries."),
    AGE_COLUMN,
];

const SERVICE_ACCOUNT: &[Column] = &[
    NAME_COLUMN,
    col("Secrets", "string", "Number of listed secrets."),
    AGE_COLUMN,
];

const PV: &[Column] = &[
    NAME_COLUMN,
    col("Capacity", "string", "Storage size of the volume."),
    col("Access Modes", "string", "Ways the volume can be mounted."),
    col(
        "Reclaim Policy",
        "string",
        "What happens to the volume once released.",
    ),
    col("Status", "string", "The volume's phase."),
    col("Claim", "string", "The claim bound to the volume."),
    col("StorageClass", "string", "Storage class of the volume."),
    col(
        "VolumeAttributesClass",
        "string",
        "Volume attributes class of the volume.",
    ),
    col("Reason", "string", "Why the volume is in its phase."),
    AGE_COLUMN,
    col("VolumeMode", "string", "Filesystem or Block.").wide(),
];

const PVC: &[Column] = &[
    NAME_COLUMN,
    col("Status", "string", "The claim's phase."),
    col("Volume", "string", "The volume bound to the claim."),
    col("Capacity", "string", "Storage size of the bound volume."),
    col(
        "Access Modes",
        "string",
        "Ways the bound volume can be mounted.",
    ),
    col("StorageClass", "string", "Storage class of the claim."),
    col(
        "VolumeAttributesClass",
        "string",
        "Volume attributes class of the claim.",
    ),
    AGE_COLUMN,
    col("VolumeMode", "string", "Filesystem or Block.").wide(),
];

const COMPONENT_STATUS: &[Column] = &[
    NAME_COLUMN,
    col("Status", "string", "Health of the component."),
    col("Message", "string", "Message of the health condition."),
    col("Error", "string", "Error of the health condition."),
];

const DEPLOYMENT: &[Column] = &[
    NAME_COLUMN,
    col("Ready", "string", "Ready replicas out of desired."),
    col(
        "Up-to-date",
        "string",
        "Replicas running the current template.",
    ),
    col("Available", "string", "Replicas available to serve."),
    AGE_COLUMN,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const HPA: &[Column] = &[
    NAME_COLUMN,
    col("Reference", "string", "The scaled workload."),
    col("Targets", "string", "Current and target metric values."),
    col("MinPods", "string", "Lower replica bound."),
    col("MaxPods", "string", "Upper replica bound."),
    col("Replicas", "string", "Replicas at the last check."),
    AGE_COLUMN,
];

const CONFIG_MAP: &[Column] = &[
    NAME_COLUMN,
    col(
        "Data",
        "string",
        "Number of entries in data and binaryData.",
    ),
    AGE_COLUMN,
];

const NETWORK_POLICY: &[Column] = &[
    NAME_COLUMN,
    col("Pod-Selector", "string", "Pods the policy applies to."),
    AGE_COLUMN,
];

const ROLE_BINDING: &[Column] = &[
    NAME_COLUMN,
    col("Role", "string", "The role granted."),
    AGE_COLUMN,
    col("Users", "string", "Users bound.").wide(),
    col("Groups", "string", "Groups bound.").wide(),
    col("ServiceAccounts", "string", "Service accounts bound.").wide(),
];

const CLUSTER_ROLE_BINDING: &[Column] = ROLE_BINDING;

const CSR: &[Column] = &[
    NAME_COLUMN,
    AGE_COLUMN,
    col("SignerName", "string", "Signer asked to sign the request."),
    col("Requestor", "string", "User that made the request."),
    col(
        "RequestedDuration",
        "string",
        "Validity asked for the certificate.",
    ),
    col("Condition", "string", "Approval state of the request."),
];

const LEASE: &[Column] = &[
    NAME_COLUMN,
    col("Holder", "string", "Identity holding the lease."),
    AGE_COLUMN,
];

const STORAGE_CLASS: &[Column] = &[
    NAME_COLUMN,
    col(
        "Provisioner",
        "string",
        "Volume plugin that provisions volumes.",
    ),
    col(
        "ReclaimPolicy",
        "string",
        "Reclaim policy of provisioned volumes.",
    ),
    col(
        "VolumeBindingMode",
        "string",
        "When volumes are bound and provisioned.",
    ),
    col(
        "AllowVolumeExpansion",
        "string",
        "Whether volumes may grow.",
    ),
    AGE_COLUMN,
];

const CONTROLLER_REVISION: &[Column] = &[
    NAME_COLUMN,
    col("Controller", "string", "The object owning the revision."),
    col("Revision", "string", "Revision number."),
    AGE_COLUMN,
];

const RESOURCE_QUOTA: &[Column] = &[
    NAME_COLUMN,
    col(
        "Request",
        "string",
        "Used out of hard limits, for requests and counts.",
    ),
    col("Limit", "string", "Used out of hard limits, for limits.*."),
    AGE_COLUMN,
];

const PRIORITY_CLASS: &[Column] = &[
    NAME_COLUMN,
    col("Value", "integer", "The priority value."),
    col(
        "Global-Default",
        "boolean",
        "Whether pods without a class get this one.",
    ),
    AGE_COLUMN,
    col(
        "PreemptionPolicy",
        "string",
        "Whether pods of this class preempt others.",
    ),
];

const RUNTIME_CLASS: &[Column] = &[
    NAME_COLUMN,
    col("Handler", "string", "The runtime handler used."),
    AGE_COLUMN,
];

const VOLUME_ATTACHMENT: &[Column] = &[
    NAME_COLUMN,
    col("Attacher", "string", "Driver that attaches the volume.").format("name"),
    col("PV", "string", "The persistent volume attached."),
    col("Node", "string", "The node attached to."),
    col("Attached", "boolean", "Whether the attach succeeded."),
    AGE_COLUMN,
];

const ENDPOINT_SLICE: &[Column] = &[
    NAME_COLUMN,
    col("AddressType", "string", "IPv4, IPv6 or FQDN."),
    col("Ports", "string", "Ports of the slice."),
    col("Endpoints", "string", "Addresses of the slice."),
    AGE_COLUMN,
];

const CSI_NODE: &[Column] = &[
    NAME_COLUMN,
    col("Drivers", "integer", "CSI drivers registered on the node."),
    AGE_COLUMN,
];

const CSI_DRIVER: &[Column] = &[
    NAME_COLUMN,
    col(
        "AttachRequired",
        "boolean",
        "Whether volumes need an attach step.",
    ),
    col(
        "PodInfoOnMount",
        "boolean",
        "Whether pod details are passed on mount.",
    ),
    col(
        "StorageCapacity",
        "boolean",
        "Whether capacity is tracked for scheduling.",
    ),
    col(
        "TokenRequests",
        "string",
        "Audiences of service account tokens passed on mount.",
    ),
    col(
        "RequiresRepublish",
        "boolean",
        "Whether mounts are republished periodically.",
    ),
    col("Modes", "string", "Supported volume lifecycle modes."),
    AGE_COLUMN,
];

const CSI_STORAGE_CAPACITY: &[Column] = &[
    NAME_COLUMN,
    col(
        "StorageClassName",
        "string",
        "Storage class the capacity is for.",
    ),
    col("Capacity", "string", "Reported capacity."),
];

const MUTATING_WEBHOOK: &[Column] = &[
    NAME_COLUMN,
    col("Webhooks", "integer", "Webhooks in the configuration."),
    AGE_COLUMN,
];

const VALIDATING_WEBHOOK: &[Column] = MUTATING_WEBHOOK;

const VALIDATING_ADMISSION_POLICY: &[Column] = &[
    NAME_COLUMN,
    col("Validations", "integer", "Validation rules in the policy."),
    col(
        "ParamKind",
        "string",
        "Kind of the policy's parameter resources.",
    ),
    AGE_COLUMN,
];

const VALIDATING_ADMISSION_POLICY_BINDING: &[Column] = &[
    NAME_COLUMN,
    col("PolicyName", "string", "The policy bound."),
    col("ParamRef", "string", "Parameter resource for the policy."),
    AGE_COLUMN,
];

const FLOW_SCHEMA: &[Column] = &[
    NAME_COLUMN,
    col(
        "PriorityLevel",
        "string",
        "Priority level of matching requests.",
    ),
    col(
        "MatchingPrecedence",
        "string",
        "Order among flow schemas; lower first.",
    ),
    col("DistinguisherMethod", "string", "How flows are told apart."),
    AGE_COLUMN,
    col(
        "MissingPL",
        "string",
        "Whether the priority level is missing.",
    ),
];

const PRIORITY_LEVEL: &[Column] = &[
    NAME_COLUMN,
    col("Type", "string", "Exempt or Limited."),
    col(
        "NominalConcurrencyShares",
        "string",
        "Share of the server's concurrency.",
    ),
    col("Queues", "string", "Number of queues."),
    col("HandSize", "string", "Queues dealt to each flow."),
    col("QueueLengthLimit", "string", "Requests a queue may hold."),
    AGE_COLUMN,
];

const SERVICE_CIDR: &[Column] = &[
    NAME_COLUMN,
    col("CIDRs", "string", "Ranges service IPs are taken from."),
    AGE_COLUMN,
];

// Upstream defines two columns but fills three cells (the age comes last,
// without a header); kubectl drops cells beyond the columns.
const IP_ADDRESS: &[Column] = &[
    NAME_COLUMN,
    col(
        "ParentRef",
        "string",
        "The object the address is allocated to.",
    ),
];

const API_SERVICE: &[Column] = &[
    NAME_COLUMN,
    col("Service", "string", "Service serving the API, or Local."),
    col("Available", "string", "Whether the API is reachable."),
    AGE_COLUMN,
];

// ---------------------------------------------------------------------------
// Field access: every lookup tolerates missing fields and wrong types.

/// The value at a dotted path (keys without dots).
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, key| cur.get(key))
}

/// Like `at`, but `null` counts as absent (a nil pointer upstream).
fn present<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    at(v, path).filter(|x| !x.is_null())
}

fn text<'a>(v: &'a Value, path: &str) -> &'a str {
    opt_text(v, path).unwrap_or("")
}

fn opt_text<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

fn int(v: &Value, path: &str) -> i64 {
    opt_int(v, path).unwrap_or(0)
}

fn opt_int(v: &Value, path: &str) -> Option<i64> {
    at(v, path).and_then(Value::as_i64)
}

fn flag(v: &Value, path: &str) -> Option<bool> {
    at(v, path).and_then(Value::as_bool)
}

fn list<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn object<'a>(v: &'a Value, path: &str) -> Option<&'a Map<String, Value>> {
    at(v, path).and_then(Value::as_object)
}

fn count(v: &Value, path: &str) -> i64 {
    let n = at(v, path).map_or(0, |x| match x {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => 0,
    });
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    object(v, "metadata.annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

fn or<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.is_empty() { fallback } else { s }
}

/// Human age of a timestamp, `<unknown>` when unset.
fn since(ts: &str) -> String {
    time::age((!ts.is_empty()).then_some(ts))
}

fn name(v: &Value) -> Value {
    Value::from(meta::name(v))
}

fn age(v: &Value) -> Value {
    Value::from(since(meta::str_field(v, "creationTimestamp")))
}

fn is_deleting(v: &Value) -> bool {
    meta::metadata(v)
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|t| !t.is_null())
}

/// The `status` of the first condition of `kind` equals "True".
fn condition_true(conditions: &[Value], kind: &str) -> bool {
    conditions
        .iter()
        .find(|c| text(c, "type") == kind)
        .is_some_and(|c| text(c, "status") == "True")
}

/// Comma-joined names and images of the containers at `path`.
fn containers(v: &Value, path: &str) -> (Value, Value) {
    let cs = list(v, path);
    let names: Vec<&str> = cs.iter().map(|c| text(c, "name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| text(c, "image")).collect();
    (Value::from(names.join(",")), Value::from(images.join(",")))
}

/// A label map as `k=v,...` sorted by key, `<none>` when empty.
fn format_labels(labels: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<(&str, &str)> = labels
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
        .collect();
    pairs.sort_unstable();
    let s: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if s.is_empty() {
        "<none>".into()
    } else {
        s.join(",")
    }
}

/// A `LabelSelector` in label-query syntax; `None` when it does not parse.
/// Unset and empty selectors give "".
fn selector_string(sel: Option<&Value>) -> Option<String> {
    let Some(sel) = sel else {
        return Some(String::new());
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(labels) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            reqs.push((k.clone(), format!("{k}={}", v.as_str()?)));
        }
    }
    for e in list(sel, "matchExpressions") {
        let key = text(e, "key");
        let mut values: Vec<&str> = list(e, "values").iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let rendered = match text(e, "operator") {
            "In" | "NotIn" if values.is_empty() => return None,
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => return None,
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return None,
        };
        reqs.push((key.to_string(), rendered));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    let parts: Vec<String> = reqs.into_iter().map(|(_, r)| r).collect();
    Some(parts.join(","))
}

/// A selector for display: `<none>` when it selects everything or nothing,
/// `<error>` when it does not parse.
fn format_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        None => "<error>".into(),
        Some(s) if s.is_empty() => "<none>".into(),
        Some(s) => s,
    }
}

/// A `LabelSelector` printed as its Go struct (`&LabelSelector{...}`).
fn selector_struct_string(sel: &Value) -> String {
    let mut labels: Vec<(&str, &str)> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
        .collect();
    labels.sort_unstable();
    let mut s = String::from("&LabelSelector{MatchLabels:map[string]string{");
    for (k, v) in labels {
        s.push_str(&format!("{k}: {v},"));
    }
    s.push_str("},MatchExpressions:[]LabelSelectorRequirement{");
    for e in list(sel, "matchExpressions") {
        let values: Vec<&str> = list(e, "values").iter().filter_map(Value::as_str).collect();
        s.push_str(&format!(
            "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
            text(e, "key"),
            text(e, "operator"),
            values.join(" ")
        ));
    }
    s.push_str("},}");
    s
}

fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn access_modes(modes: &[Value]) -> String {
    const SHORT: [(&str, &str); 4] = [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ];
    let out: Vec<&str> = SHORT
        .iter()
        .filter(|(long, _)| modes.iter().any(|m| m.as_str() == Some(long)))
        .map(|(_, short)| *short)
        .collect();
    out.join(",")
}

/// `a,b,c + N more...` for lists cut at three, `<unset>` when empty.
fn list_with_more(items: &[String], total: usize) -> String {
    let shown = items.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if total > 3 {
        format!("{shown} + {} more...", total - 3)
    } else if shown.is_empty() {
        "<unset>".into()
    } else {
        shown
    }
}

// ---------------------------------------------------------------------------
// Quantities, printed in canonical form as `resource.Quantity` does.

/// The canonical form of a quantity string (`1.5Gi` → `1536Mi`,
/// `1000` → `1k`, `0.5` → `500m`); `None` when it does not parse.
fn canonical_quantity(input: &str) -> Option<String> {
    kaiser_apimachinery::quantity::parse(input.trim())
        .ok()
        .map(|q| q.to_string())
}

/// A quantity field printed canonically; `None` when unset.
fn quantity(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(canonical_quantity(s).unwrap_or_else(|| s.clone())),
        Value::Number(n) => {
            let s = n.to_string();
            Some(canonical_quantity(&s).unwrap_or(s))
        }
        _ => None,
    }
}

/// A quantity map entry; the zero quantity prints as "0".
fn quantity_or_zero(v: Option<&Value>) -> String {
    quantity(v).unwrap_or_else(|| "0".into())
}

/// A quantity pointer; nil prints as "<nil>".
fn quantity_ptr(v: Option<&Value>) -> String {
    quantity(v).unwrap_or_else(|| "<nil>".into())
}

// ---------------------------------------------------------------------------
// core

fn unix(ts: &str) -> Option<i64> {
    time::parse_rfc3339(ts)
}

/// The later of a restart date and a container's last termination.
fn later_termination(latest: Option<i64>, container: &Value) -> Option<i64> {
    if present(container, "lastState.terminated").is_none() {
        return latest;
    }
    match (
        latest,
        unix(text(container, "lastState.terminated.finishedAt")),
    ) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn pod_row(pod: &Value) -> Vec<Value> {
    let phase = text(pod, "status.phase");
    let mut reason = or(text(pod, "status.reason"), phase).to_string();
    let conditions = list(pod, "status.conditions");
    if conditions
        .iter()
        .any(|c| text(c, "type") == "PodScheduled" && text(c, "reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let init_specs = list(pod, "spec.initContainers");
    let restartable = |name: &str| {
        init_specs
            .iter()
            .rev()
            .find(|c| text(c, "name") == name)
            .is_some_and(|c| text(c, "restartPolicy") == "Always")
    };
    let total = list(pod, "spec.containers").len()
        + init_specs
            .iter()
            .filter(|c| text(c, "restartPolicy") == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<i64> = None;
    let mut last_sidecar_restart: Option<i64> = None;

    let mut initializing = false;
    for (i, c) in list(pod, "status.initContainerStatuses").iter().enumerate() {
        let rc = int(c, "restartCount");
        restarts += rc;
        last_restart = later_termination(last_restart, c);
        let is_sidecar = restartable(text(c, "name"));
        if is_sidecar {
            sidecar_restarts += rc;
            last_sidecar_restart = later_termination(last_sidecar_restart, c);
        }
        let terminated = present(c, "state.terminated");
        let waiting = present(c, "state.waiting");
        if let Some(t) = terminated
            && int(t, "exitCode") == 0
        {
            continue;
        }
        if is_sidecar && flag(c, "started") == Some(true) {
            if flag(c, "ready") == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            match text(t, "reason") {
                "" if int(t, "signal") != 0 => format!("Init:Signal:{}", int(t, "signal")),
                "" => format!("Init:ExitCode:{}", int(t, "exitCode")),
                r => format!("Init:{r}"),
            }
        } else if let Some(w) = waiting
            && !text(w, "reason").is_empty()
            && text(w, "reason") != "PodInitializing"
        {
            format!("Init:{}", text(w, "reason"))
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    let initialized = conditions
        .iter()
        .find(|c| text(c, "type") == "Initialized")
        .is_some_and(|c| text(c, "status") == "True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for c in list(pod, "status.containerStatuses").iter().rev() {
            restarts += int(c, "restartCount");
            last_restart = later_termination(last_restart, c);
            let terminated = present(c, "state.terminated");
            let waiting_reason = present(c, "state.waiting").map_or("", |w| text(w, "reason"));
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = match text(t, "reason") {
                    "" if int(t, "signal") != 0 => format!("Signal:{}", int(t, "signal")),
                    "" => format!("ExitCode:{}", int(t, "exitCode")),
                    r => r.to_string(),
                };
            } else if flag(c, "ready") == Some(true) && present(c, "state.running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if conditions
                .iter()
                .any(|c| text(c, "type") == "Ready" && text(c, "status") == "True")
            {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    if is_deleting(pod) && text(pod, "status.reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if is_deleting(pod) && phase != "Failed" && phase != "Succeeded" {
        reason = "Terminating".into();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => {
            format!(
                "{restarts} ({} ago)",
                time::human_duration(time::now_unix() - t)
            )
        }
        _ => restarts.to_string(),
    };

    let ip = or(
        text(pod, "status.podIP"),
        list(pod, "status.podIPs")
            .first()
            .map_or("", |p| text(p, "ip")),
    );
    let gates = list(pod, "spec.readinessGates");
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| {
                let kind = text(g, "conditionType");
                conditions
                    .iter()
                    .find(|c| text(c, "type") == kind)
                    .is_some_and(|c| text(c, "status") == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    vec![
        name(pod),
        Value::from(format!("{ready}/{total}")),
        Value::from(reason),
        Value::from(restarts_cell),
        age(pod),
        Value::from(or(ip, "<none>")),
        Value::from(or(text(pod, "spec.nodeName"), "<none>")),
        Value::from(or(text(pod, "status.nominatedNodeName"), "<none>")),
        Value::from(gates_cell),
    ]
}

fn pod_template_row(v: &Value) -> Vec<Value> {
    let (names, images) = containers(v, "template.spec.containers");
    vec![
        name(v),
        names,
        images,
        Value::from(format_labels(object(v, "template.metadata.labels"))),
    ]
}

fn service_external_ip(svc: &Value) -> String {
    let external: Vec<&str> = list(svc, "spec.externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match text(svc, "spec.type") {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".into(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let mut lb = load_balancer_addresses(list(svc, "status.loadBalancer.ingress"));
            if !external.is_empty() {
                lb.extend(external.iter().map(|s| s.to_string()));
                lb.join(",")
            } else if lb.is_empty() {
                "<pending>".into()
            } else {
                lb.join(",")
            }
        }
        "ExternalName" => text(svc, "spec.externalName").to_string(),
        _ => "<unknown>".into(),
    }
}

/// Sorted, de-duplicated IP-or-hostname of load balancer ingress points.
fn load_balancer_addresses(ingress: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = ingress
        .iter()
        .filter_map(|i| {
            let ip = text(i, "ip");
            let host = text(i, "hostname");
            (!ip.is_empty())
                .then_some(ip)
                .or((!host.is_empty()).then_some(host))
        })
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn service_row(svc: &Value) -> Vec<Value> {
    let cluster_ip = or(
        text(svc, "spec.clusterIP"),
        list(svc, "spec.clusterIPs")
            .first()
            .and_then(Value::as_str)
            .unwrap_or(""),
    );
    let ports: Vec<String> = list(svc, "spec.ports")
        .iter()
        .map(|p| {
            let (port, node_port, proto) =
                (int(p, "port"), int(p, "nodePort"), text(p, "protocol"));
            if node_port > 0 {
                format!("{port}:{node_port}/{proto}")
            } else {
                format!("{port}/{proto}")
            }
        })
        .collect();
    let ports = ports.join(",");
    vec![
        name(svc),
        Value::from(text(svc, "spec.type")),
        Value::from(or(cluster_ip, "<none>")),
        Value::from(service_external_ip(svc)),
        Value::from(or(&ports, "<none>")),
        age(svc),
        Value::from(format_labels(object(svc, "spec.selector"))),
    ]
}

fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn endpoints_row(v: &Value) -> Vec<Value> {
    let subsets = list(v, "subsets");
    let cell = if subsets.is_empty() {
        "<none>".to_string()
    } else {
        let mut shown: Vec<String> = Vec::new();
        let mut total = 0usize;
        for ss in subsets {
            let addresses = list(ss, "addresses");
            let ports = list(ss, "ports");
            if ports.is_empty() {
                total += addresses.len();
                shown.extend(addresses.iter().map(|a| text(a, "ip").to_string()));
            } else {
                for port in ports {
                    total += addresses.len();
                    shown.extend(
                        addresses
                            .iter()
                            .map(|a| join_host_port(text(a, "ip"), int(port, "port"))),
                    );
                }
            }
        }
        let head = shown.iter().take(3).cloned().collect::<Vec<_>>().join(",");
        if total > 3 {
            format!("{head} + {} more...", total - 3)
        } else {
            head
        }
    };
    vec![name(v), Value::from(cell), age(v)]
}

fn node_row(node: &Value) -> Vec<Value> {
    let mut status: Vec<&str> = Vec::new();
    if let Some(c) = list(node, "status.conditions")
        .iter()
        .rev()
        .find(|c| text(c, "type") == "Ready")
    {
        status.push(if text(c, "status") == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if flag(node, "spec.unschedulable") == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<&str> = meta::labels(node)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                (!role.is_empty()).then_some(role)
            } else if k == "kubernetes.io/role" {
                v.as_str().filter(|r| !r.is_empty())
            } else {
                None
            }
        })
        .collect();
    roles.sort_unstable();
    roles.dedup();
    let roles = roles.join(",");
    let address = |kind: &str| {
        list(node, "status.addresses")
            .iter()
            .find(|a| text(a, "type") == kind)
            .map_or("<none>", |a| text(a, "address"))
    };
    let info =
        |field: &str| or(text(node, &format!("status.nodeInfo.{field}")), "<unknown>").to_string();
    vec![
        name(node),
        Value::from(status.join(",")),
        Value::from(or(&roles, "<none>")),
        age(node),
        Value::from(text(node, "status.nodeInfo.kubeletVersion")),
        Value::from(address("InternalIP")),
        Value::from(address("ExternalIP")),
        Value::from(info("osImage")),
        Value::from(info("kernelVersion")),
        Value::from(info("containerRuntimeVersion")),
    ]
}

const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

fn pv_row(pv: &Value) -> Vec<Value> {
    let claim = match present(pv, "spec.claimRef") {
        Some(c) => format!("{}/{}", text(c, "namespace"), text(c, "name")),
        None => String::new(),
    };
    let phase = if is_deleting(pv) {
        "Terminating"
    } else {
        text(pv, "status.phase")
    };
    let class = annotation(pv, BETA_STORAGE_CLASS).unwrap_or(text(pv, "spec.storageClassName"));
    vec![
        name(pv),
        Value::from(quantity_or_zero(at(pv, "spec.capacity.storage"))),
        Value::from(access_modes(list(pv, "spec.accessModes"))),
        Value::from(text(pv, "spec.persistentVolumeReclaimPolicy")),
        Value::from(phase),
        Value::from(claim),
        Value::from(class),
        Value::from(opt_text(pv, "spec.volumeAttributesClassName").unwrap_or("<unset>")),
        Value::from(text(pv, "status.reason")),
        age(pv),
        Value::from(opt_text(pv, "spec.volumeMode").unwrap_or("<unset>")),
    ]
}

fn pvc_row(pvc: &Value) -> Vec<Value> {
    let phase = if is_deleting(pvc) {
        "Terminating"
    } else {
        text(pvc, "status.phase")
    };
    let volume = text(pvc, "spec.volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity_or_zero(at(pvc, "status.capacity.storage")),
            access_modes(list(pvc, "status.accessModes")),
        )
    };
    let class = annotation(pvc, BETA_STORAGE_CLASS).unwrap_or(text(pvc, "spec.storageClassName"));
    vec![
        name(pvc),
        Value::from(phase),
        Value::from(volume),
        Value::from(capacity),
        Value::from(modes),
        Value::from(class),
        Value::from(opt_text(pvc, "spec.volumeAttributesClassName").unwrap_or("<unset>")),
        age(pvc),
        Value::from(opt_text(pvc, "spec.volumeMode").unwrap_or("<unset>")),
    ]
}

fn replication_controller_row(v: &Value) -> Vec<Value> {
    let (names, images) = containers(v, "spec.template.spec.containers");
    vec![
        name(v),
        Value::from(int(v, "spec.replicas")),
        Value::from(int(v, "status.replicas")),
        Value::from(int(v, "status.readyReplicas")),
        age(v),
        names,
        images,
        Value::from(format_labels(object(v, "spec.selector"))),
    ]
}

fn resource_quota_row(v: &Value) -> Vec<Value> {
    let hard = object(v, "status.hard");
    let used = object(v, "status.used");
    let mut resources: Vec<&String> = hard.into_iter().flat_map(|h| h.keys()).collect();
    resources.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for r in resources {
        let entry = format!(
            "{r}: {}/{}",
            quantity_or_zero(used.and_then(|u| u.get(r.as_str()))),
            quantity_or_zero(hard.and_then(|h| h.get(r.as_str()))),
        );
        let mut pieces = r.split('.');
        if pieces.next() == Some("limits") && pieces.next().is_some() {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    vec![
        name(v),
        Value::from(requests.join(", ")),
        Value::from(limits.join(", ")),
        age(v),
    ]
}

fn component_status_row(v: &Value) -> Vec<Value> {
    let (status, message, error) = match list(v, "conditions")
        .iter()
        .find(|c| text(c, "type") == "Healthy")
    {
        Some(c) => (
            if text(c, "status") == "True" {
                "Healthy"
            } else {
                "Unhealthy"
            },
            text(c, "message"),
            text(c, "error"),
        ),
        None => ("Unknown", "", ""),
    };
    vec![
        name(v),
        Value::from(status),
        Value::from(message),
        Value::from(error),
    ]
}

fn config_map_row(v: &Value) -> Vec<Value> {
    vec![
        name(v),
        Value::from(count(v, "data") + count(v, "binaryData")),
        age(v),
    ]
}

fn secret_row(v: &Value) -> Vec<Value> {
    vec![
        name(v),
        Value::from(text(v, "type")),
        Value::from(count(v, "data")),
        age(v),
    ]
}

fn service_account_row(v: &Value) -> Vec<Value> {
    vec![name(v), Value::from(count(v, "secrets")), age(v)]
}

fn namespace_row(v: &Value) -> Vec<Value> {
    vec![name(v), Value::from(text(v, "status.phase")), age(v)]
}

/// The fields an Event row needs, from either Event API.
struct EventFields<'a> {
    first: &'a str,
    last: &'a str,
    event_time: &'a str,
    series: Option<&'a Value>,
    count: i64,
    regarding: Option<&'a Value>,
    component: &'a str,
    host: &'a str,
    controller: &'a str,
    instance: &'a str,
    kind: &'a str,
    reason: &'a str,
    message: &'a str,
}

fn event_cells(e: &Value, f: EventFields<'_>) -> Vec<Value> {
    let first = if f.first.is_empty() {
        since(f.event_time)
    } else {
        since(f.first)
    };
    let mut last = if f.last.is_empty() {
        first.clone()
    } else {
        since(f.last)
    };
    let mut count = f.count;
    if let Some(series) = f.series.filter(|s| s.is_object()) {
        last = since(text(series, "lastObservedTime"));
        count = int(series, "count");
    } else if count == 0 {
        count = 1;
    }
    let regarding = f.regarding.unwrap_or(&Value::Null);
    let kind = text(regarding, "kind").to_lowercase();
    let object_name = text(regarding, "name");
    let target = if object_name.is_empty() {
        kind
    } else {
        format!("{kind}/{object_name}")
    };
    let component = or(f.component, f.controller);
    let instance = or(f.host, f.instance);
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        Value::from(last),
        Value::from(f.kind),
        Value::from(f.reason),
        Value::from(target),
        Value::from(text(regarding, "fieldPath")),
        Value::from(source),
        Value::from(f.message.trim()),
        Value::from(first),
        Value::from(count),
        name(e),
    ]
}

fn core_event_row(e: &Value) -> Vec<Value> {
    event_cells(
        e,
        EventFields {
            first: text(e, "firstTimestamp"),
            last: text(e, "lastTimestamp"),
            event_time: text(e, "eventTime"),
            series: present(e, "series"),
            count: int(e, "count"),
            regarding: at(e, "involvedObject"),
            component: text(e, "source.component"),
            host: text(e, "source.host"),
            controller: text(e, "reportingComponent"),
            instance: text(e, "reportingInstance"),
            kind: text(e, "type"),
            reason: text(e, "reason"),
            message: text(e, "message"),
        },
    )
}

fn events_event_row(e: &Value) -> Vec<Value> {
    event_cells(
        e,
        EventFields {
            first: text(e, "deprecatedFirstTimestamp"),
            last: text(e, "deprecatedLastTimestamp"),
            event_time: text(e, "eventTime"),
            series: present(e, "series"),
            count: int(e, "deprecatedCount"),
            regarding: at(e, "regarding"),
            component: text(e, "deprecatedSource.component"),
            host: text(e, "deprecatedSource.host"),
            controller: text(e, "reportingController"),
            instance: text(e, "reportingInstance"),
            kind: text(e, "type"),
            reason: text(e, "reason"),
            message: text(e, "note"),
        },
    )
}

// ---------------------------------------------------------------------------
// apps

fn deployment_row(v: &Value) -> Vec<Value> {
    let (names, images) = containers(v, "spec.template.spec.containers");
    let selector =
        selector_string(present(v, "spec.selector")).unwrap_or_else(|| "<invalid>".into());
    vec![
        name(v),
        Value::from(format!(
            "{}/{}",
            int(v, "status.readyReplicas"),
            int(v, "spec.replicas")
        )),
        Value::from(int(v, "status.updatedReplicas")),
        Value::from(int(v, "status.availableReplicas")),
        age(v),
        names,
        images,
        Value::from(selector),
    ]
}

fn replica_set_row(v: &Value) -> Vec<Value> {
    let (names, images) = containers(v, "spec.template.spec.containers");
    vec![
        name(v),
        Value::from(int(v, "spec.replicas")),
        Value::from(int(v, "status.replicas")),
        Value::from(int(v, "status.readyReplicas")),
        age(v),
        names,
        images,
        Value::from(format_selector(present(v, "spec.selector"))),
    ]
}

fn stateful_set_row(v: &Value) -> Vec<Value> {
    let (names, images) = containers(v, "spec.template.spec.containers");
    vec![
        name(v),
        Value::from(format!(
            "{}/{}",
            int(v, "status.readyReplicas"),
            int(v, "spec.replicas")
        )),
        age(v),
        names,
        images,
    ]
}

fn daemon_set_row(v: &Value) -> Vec<Value> {
    let (names, images) = containers(v, "spec.template.spec.containers");
    vec![
        name(v),
        Value::from(int(v, "status.desiredNumberScheduled")),
        Value::from(int(v, "status.currentNumberScheduled")),
        Value::from(int(v, "status.numberReady")),
        Value::from(int(v, "status.updatedNumberScheduled")),
        Value::from(int(v, "status.numberAvailable")),
        Value::from(format_labels(object(v, "spec.template.spec.nodeSelector"))),
        age(v),
        names,
        images,
        Value::from(format_selector(present(v, "spec.selector"))),
    ]
}

fn controller_revision_row(v: &Value) -> Vec<Value> {
    let owner = list(v, "metadata.ownerReferences")
        .iter()
        .find(|o| flag(o, "controller") == Some(true));
    let controller = match owner {
        None => "<none>".to_string(),
        Some(o) => {
            let group = text(o, "apiVersion").split_once('/').map_or("", |(g, _)| g);
            let kind = text(o, "kind");
            let group_kind = match (group.is_empty(), kind.is_empty()) {
                (true, true) => String::new(),
                (true, false) => kind.to_string(),
                _ => format!("{kind}.{group}"),
            };
            if group_kind.is_empty() {
                text(o, "name").to_string()
            } else {
                format!("{}/{}", group_kind.to_lowercase(), text(o, "name"))
            }
        }
    };
    vec![
        name(v),
        Value::from(controller),
        Value::from(int(v, "revision")),
        age(v),
    ]
}

// ---------------------------------------------------------------------------
// batch

fn job_row(job: &Value) -> Vec<Value> {
    let succeeded = int(job, "status.succeeded");
    let completions = match opt_int(job, "spec.completions") {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int(job, "spec.parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = unix(text(job, "status.startTime"));
    let end = unix(text(job, "status.completionTime"));
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(s), None) => time::human_duration(time::now_unix() - s),
        (Some(s), Some(e)) => time::human_duration(e - s),
    };
    let conditions = list(job, "status.conditions");
    let status = if condition_true(conditions, "Complete") {
        "Complete"
    } else if condition_true(conditions, "Failed") {
        "Failed"
    } else if is_deleting(job) {
        "Terminating"
    } else if condition_true(conditions, "Suspended") {
        "Suspended"
    } else if condition_true(conditions, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = containers(job, "spec.template.spec.containers");
    vec![
        name(job),
        Value::from(status),
        Value::from(completions),
        Value::from(duration),
        age(job),
        names,
        images,
        Value::from(format_selector(present(job, "spec.selector"))),
    ]
}

fn cron_job_row(cj: &Value) -> Vec<Value> {
    let last = match opt_text(cj, "status.lastScheduleTime") {
        Some(t) => since(t),
        None => "<none>".into(),
    };
    let suspend = match flag(cj, "spec.suspend") {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let (names, images) = containers(cj, "spec.jobTemplate.spec.template.spec.containers");
    vec![
        name(cj),
        Value::from(text(cj, "spec.schedule")),
        Value::from(opt_text(cj, "spec.timeZone").unwrap_or("<none>")),
        Value::from(suspend),
        Value::from(count(cj, "status.active")),
        Value::from(last),
        age(cj),
        names,
        images,
        Value::from(format_selector(present(
            cj,
            "spec.jobTemplate.spec.selector",
        ))),
    ]
}

// ---------------------------------------------------------------------------
// autoscaling

/// `current/target` for Object and External metrics.
fn value_metric(spec: &Value, status: Option<&Value>) -> String {
    if let Some(target) = present(spec, "target.averageValue") {
        let current = status
            .and_then(|s| present(s, "current.averageValue"))
            .and_then(|q| quantity(Some(q)))
            .unwrap_or_else(|| "<unknown>".into());
        format!("{current}/{} (avg)", quantity_ptr(Some(target)))
    } else {
        let current = match status {
            Some(s) => quantity_ptr(present(s, "current.value")),
            None => "<unknown>".into(),
        };
        format!("{current}/{}", quantity_ptr(present(spec, "target.value")))
    }
}

/// `name: current/target` for Resource and ContainerResource metrics.
fn resource_metric(spec: &Value, status: Option<&Value>) -> String {
    let resource = text(spec, "name");
    if let Some(target) = present(spec, "target.averageValue") {
        let current = match status {
            Some(s) => quantity_ptr(present(s, "current.averageValue")),
            None => "<unknown>".into(),
        };
        format!("{resource}: {current}/{}", quantity_ptr(Some(target)))
    } else {
        let current = status
            .and_then(|s| opt_int(s, "current.averageUtilization"))
            .map_or_else(|| "<unknown>".into(), |u| format!("{u}%"));
        let target = opt_int(spec, "target.averageUtilization")
            .map_or_else(|| "<auto>".into(), |u| format!("{u}%"));
        format!("{resource}: {current}/{target}")
    }
}

fn hpa_targets(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".into();
    }
    let entries: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let source = |field: &str| {
                (
                    present(spec, field).unwrap_or(&Value::Null),
                    statuses.get(i).and_then(|s| present(s, field)),
                )
            };
            match text(spec, "type") {
                "External" => {
                    let (sp, st) = source("external");
                    value_metric(sp, st)
                }
                "Object" => {
                    let (sp, st) = source("object");
                    value_metric(sp, st)
                }
                "Pods" => {
                    let (sp, st) = source("pods");
                    let current = match st {
                        Some(s) => quantity_ptr(present(s, "current.averageValue")),
                        None => "<unknown>".into(),
                    };
                    format!(
                        "{current}/{}",
                        quantity_ptr(present(sp, "target.averageValue"))
                    )
                }
                "Resource" => {
                    let (sp, st) = source("resource");
                    resource_metric(sp, st)
                }
                "ContainerResource" => {
                    let (sp, st) = source("containerResource");
                    resource_metric(sp, st)
                }
                _ => "<unknown type>".into(),
            }
        })
        .collect();
    let shown = entries
        .iter()
        .take(2)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if entries.len() > 2 {
        format!("{shown} + {} more...", entries.len() - 2)
    } else {
        shown
    }
}

fn hpa_row(hpa: &Value) -> Vec<Value> {
    let v1_form = present(hpa, "spec.metrics").is_none()
        && (text(hpa, "apiVersion") == "autoscaling/v1"
            || at(hpa, "spec.targetCPUUtilizationPercentage").is_some());
    let targets = if v1_form {
        // autoscaling/v1 carries one CPU target; converting it to the
        // internal form defaults the target to 80%.
        let target = opt_int(hpa, "spec.targetCPUUtilizationPercentage").unwrap_or(80);
        let specs = [json!({"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}})];
        let statuses: Vec<Value> = opt_int(hpa, "status.currentCPUUtilizationPercentage")
            .map(|c| {
                json!({"type": "Resource", "resource": {
                    "name": "cpu", "current": {"averageUtilization": c}}})
            })
            .into_iter()
            .collect();
        hpa_targets(&specs, &statuses)
    } else {
        hpa_targets(
            list(hpa, "spec.metrics"),
            list(hpa, "status.currentMetrics"),
        )
    };
    let min = opt_int(hpa, "spec.minReplicas").map_or_else(|| "<unset>".into(), |m| m.to_string());
    vec![
        name(hpa),
        Value::from(format!(
            "{}/{}",
            text(hpa, "spec.scaleTargetRef.kind"),
            text(hpa, "spec.scaleTargetRef.name")
        )),
        Value::from(targets),
        Value::from(min),
        Value::from(int(hpa, "spec.maxReplicas")),
        Value::from(int(hpa, "status.currentReplicas")),
        age(hpa),
    ]
}

// ---------------------------------------------------------------------------
// policy, rbac

fn pdb_row(v: &Value) -> Vec<Value> {
    let bound = |path: &str| present(v, path).map_or_else(|| "N/A".into(), int_or_string);
    vec![
        name(v),
        Value::from(bound("spec.minAvailable")),
        Value::from(bound("spec.maxUnavailable")),
        Value::from(int(v, "status.disruptionsAllowed")),
        age(v),
    ]
}

fn binding_row(v: &Value) -> Vec<Value> {
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for s in list(v, "subjects") {
        match text(s, "kind") {
            "ServiceAccount" => sas.push(format!("{}/{}", text(s, "namespace"), text(s, "name"))),
            "User" => users.push(text(s, "name").to_string()),
            "Group" => groups.push(text(s, "name").to_string()),
            _ => {}
        }
    }
    vec![
        name(v),
        Value::from(format!(
            "{}/{}",
            text(v, "roleRef.kind"),
            text(v, "roleRef.name")
        )),
        age(v),
        Value::from(users.join(", ")),
        Value::from(groups.join(", ")),
        Value::from(sas.join(", ")),
    ]
}

// ---------------------------------------------------------------------------
// networking

fn ingress_row(v: &Value) -> Vec<Value> {
    let rules = list(v, "spec.rules");
    // Up to three hosts; "more" once a rule follows a full list.
    let (mut hosts, mut more) = (Vec::new(), false);
    for rule in rules {
        if hosts.len() == 3 {
            more = true;
        }
        let host = text(rule, "host");
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    let hosts = if hosts.is_empty() {
        "*".to_string()
    } else if more {
        format!("{} + {} more...", hosts.join(","), rules.len() - 3)
    } else {
        hosts.join(",")
    };
    let ports = if list(v, "spec.tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(v),
        Value::from(opt_text(v, "spec.ingressClassName").unwrap_or("<none>")),
        Value::from(hosts),
        Value::from(load_balancer_addresses(list(v, "status.loadBalancer.ingress")).join(",")),
        Value::from(ports),
        age(v),
    ]
}

fn ingress_class_row(v: &Value) -> Vec<Value> {
    let parameters = match present(v, "spec.parameters") {
        None => "<none>".to_string(),
        Some(p) => {
            let mut s = text(p, "kind").to_string();
            if let Some(group) = opt_text(p, "apiGroup") {
                s.push('.');
                s.push_str(group);
            }
            format!("{s}/{}", text(p, "name"))
        }
    };
    vec![
        name(v),
        Value::from(text(v, "spec.controller")),
        Value::from(parameters),
        age(v),
    ]
}

fn network_policy_row(v: &Value) -> Vec<Value> {
    vec![
        name(v),
        Value::from(format_selector(present(v, "spec.podSelector"))),
        age(v),
    ]
}

fn ip_address_row(v: &Value) -> Vec<Value> {
    let parent = match present(v, "spec.parentRef") {
        None => "<none>".to_string(),
        Some(p) => {
            let (group, resource) = (text(p, "group"), text(p, "resource"));
            let mut s = if group.is_empty() {
                resource.to_lowercase()
            } else {
                format!("{resource}.{group}").to_lowercase()
            };
            let ns = text(p, "namespace");
            if !ns.is_empty() {
                s.push('/');
                s.push_str(ns);
            }
            format!("{s}/{}", text(p, "name"))
        }
    };
    vec![name(v), Value::from(parent), age(v)]
}

fn service_cidr_row(v: &Value) -> Vec<Value> {
    let cidrs: Vec<&str> = list(v, "spec.cidrs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    vec![name(v), Value::from(cidrs.join(",")), age(v)]
}

fn endpoint_slice_row(v: &Value) -> Vec<Value> {
    let ports: Vec<String> = list(v, "ports")
        .iter()
        .map(|p| {
            if let Some(n) = opt_int(p, "port") {
                n.to_string()
            } else if let Some(n) = opt_text(p, "name") {
                n.to_string()
            } else {
                "*".to_string()
            }
        })
        .collect();
    let addresses: Vec<String> = list(v, "endpoints")
        .iter()
        .flat_map(|e| list(e, "addresses"))
        .map(|a| a.as_str().unwrap_or("").to_string())
        .collect();
    vec![
        name(v),
        Value::from(text(v, "addressType")),
        Value::from(list_with_more(&ports, ports.len())),
        Value::from(list_with_more(&addresses, addresses.len())),
        age(v),
    ]
}

// ---------------------------------------------------------------------------
// storage

fn storage_class_row(v: &Value) -> Vec<Value> {
    let default = annotation(v, "storageclass.kubernetes.io/is-default-class") == Some("true")
        || annotation(v, "storageclass.beta.kubernetes.io/is-default-class") == Some("true");
    let mut display = meta::name(v).to_string();
    if default {
        display.push_str(" (default)");
    }
    vec![
        Value::from(display),
        Value::from(text(v, "provisioner")),
        Value::from(opt_text(v, "reclaimPolicy").unwrap_or("Delete")),
        Value::from(opt_text(v, "volumeBindingMode").unwrap_or("Immediate")),
        Value::from(flag(v, "allowVolumeExpansion").unwrap_or(false)),
        age(v),
    ]
}

fn csi_driver_row(v: &Value) -> Vec<Value> {
    let modes: Vec<&str> = list(v, "spec.volumeLifecycleModes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let tokens = match present(v, "spec.tokenRequests") {
        None => "<unset>".to_string(),
        Some(t) => t
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| text(r, "audience"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
    };
    let modes = modes.join(",");
    vec![
        name(v),
        Value::from(flag(v, "spec.attachRequired").unwrap_or(true)),
        Value::from(flag(v, "spec.podInfoOnMount").unwrap_or(false)),
        Value::from(flag(v, "spec.storageCapacity").unwrap_or(false)),
        Value::from(tokens),
        Value::from(flag(v, "spec.requiresRepublish").unwrap_or(false)),
        Value::from(or(&modes, "<none>")),
        age(v),
    ]
}

fn csi_node_row(v: &Value) -> Vec<Value> {
    vec![name(v), Value::from(count(v, "spec.drivers")), age(v)]
}

fn csi_storage_capacity_row(v: &Value) -> Vec<Value> {
    vec![
        name(v),
        Value::from(text(v, "storageClassName")),
        Value::from(quantity(present(v, "capacity")).unwrap_or_else(|| "<unset>".into())),
    ]
}

fn volume_attachment_row(v: &Value) -> Vec<Value> {
    vec![
        name(v),
        Value::from(text(v, "spec.attacher")),
        Value::from(text(v, "spec.source.persistentVolumeName")),
        Value::from(text(v, "spec.nodeName")),
        Value::from(flag(v, "status.attached").unwrap_or(false)),
        age(v),
    ]
}

// ---------------------------------------------------------------------------
// the remaining groups

fn lease_row(v: &Value) -> Vec<Value> {
    vec![name(v), Value::from(text(v, "spec.holderIdentity")), age(v)]
}

fn priority_class_row(v: &Value) -> Vec<Value> {
    vec![
        name(v),
        Value::from(int(v, "value")),
        Value::from(flag(v, "globalDefault").unwrap_or(false)),
        age(v),
        Value::from(text(v, "preemptionPolicy")),
    ]
}

fn runtime_class_row(v: &Value) -> Vec<Value> {
    vec![name(v), Value::from(text(v, "handler")), age(v)]
}

fn csr_row(v: &Value) -> Vec<Value> {
    let conditions = list(v, "status.conditions");
    let has = |kind: &str| conditions.iter().any(|c| text(c, "type") == kind);
    let mut status = if has("Denied") {
        "Denied"
    } else if has("Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_string();
    if has("Failed") {
        status.push_str(",Failed");
    }
    if !text(v, "status.certificate").is_empty() {
        status.push_str(",Issued");
    }
    let duration =
        opt_int(v, "spec.expirationSeconds").map_or_else(|| "<none>".into(), time::human_duration);
    vec![
        name(v),
        age(v),
        Value::from(or(text(v, "spec.signerName"), "<none>")),
        Value::from(text(v, "spec.username")),
        Value::from(duration),
        Value::from(status),
    ]
}

fn webhook_configuration_row(v: &Value) -> Vec<Value> {
    vec![name(v), Value::from(count(v, "webhooks")), age(v)]
}

fn validating_admission_policy_row(v: &Value) -> Vec<Value> {
    let param_kind = match present(v, "spec.paramKind") {
        Some(p) => format!("{}/{}", text(p, "apiVersion"), text(p, "kind")),
        None => "<unset>".into(),
    };
    vec![
        name(v),
        Value::from(count(v, "spec.validations")),
        Value::from(param_kind),
        age(v),
    ]
}

fn validating_admission_policy_binding_row(v: &Value) -> Vec<Value> {
    let param = match present(v, "spec.paramRef") {
        None => "<unset>".to_string(),
        Some(p) => {
            let (ns, ref_name) = (text(p, "namespace"), text(p, "name"));
            if !ref_name.is_empty() {
                format!("{}/{ref_name}", or(ns, "*"))
            } else if let Some(sel) = present(p, "selector") {
                selector_struct_string(sel)
            } else {
                "<unset>".to_string()
            }
        }
    };
    vec![
        name(v),
        Value::from(text(v, "spec.policyName")),
        Value::from(param),
        age(v),
    ]
}

fn flow_schema_row(v: &Value) -> Vec<Value> {
    let distinguisher = match present(v, "spec.distinguisherMethod") {
        Some(d) => text(d, "type").to_string(),
        None => "<none>".into(),
    };
    let missing = list(v, "status.conditions")
        .iter()
        .find(|c| text(c, "type") == "Dangling")
        .map_or("?", |c| text(c, "status"));
    vec![
        name(v),
        Value::from(text(v, "spec.priorityLevelConfiguration.name")),
        Value::from(int(v, "spec.matchingPrecedence")),
        Value::from(distinguisher),
        age(v),
        Value::from(missing),
    ]
}

fn priority_level_row(v: &Value) -> Vec<Value> {
    let none = || Value::from("<none>");
    let (mut shares, mut queues, mut hand, mut limit) = (none(), none(), none(), none());
    if let Some(limited) = present(v, "spec.limited") {
        shares = Value::from(int(limited, "nominalConcurrencyShares"));
        if let Some(q) = present(limited, "limitResponse.queuing") {
            queues = Value::from(int(q, "queues"));
            hand = Value::from(int(q, "handSize"));
            limit = Value::from(int(q, "queueLengthLimit"));
        }
    }
    vec![
        name(v),
        Value::from(text(v, "spec.type")),
        shares,
        queues,
        hand,
        limit,
        age(v),
    ]
}

fn api_service_row(v: &Value) -> Vec<Value> {
    let service = match present(v, "spec.service") {
        Some(s) => format!("{}/{}", text(s, "namespace"), text(s, "name")),
        None => "Local".into(),
    };
    let available = match list(v, "status.conditions")
        .iter()
        .find(|c| text(c, "type") == "Available")
    {
        None => "Unknown".to_string(),
        Some(c) => {
            let (status, reason) = (text(c, "status"), text(c, "reason"));
            if status != "True" && !reason.is_empty() {
                format!("{status} ({reason})")
            } else {
                status.to_string()
            }
        }
    };
    vec![
        name(v),
        Value::from(service),
        Value::from(available),
        age(v),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind with a printer.
    const KINDS: &[(&str, &str)] = &[
        ("", "Pod"),
        ("", "PodTemplate"),
        ("", "Service"),
        ("", "Endpoints"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "ReplicationController"),
        ("", "ResourceQuota"),
        ("", "ComponentStatus"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "Namespace"),
        ("", "Event"),
        ("events.k8s.io", "Event"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ControllerRevision"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("policy", "PodDisruptionBudget"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "CSIStorageCapacity"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("coordination.k8s.io", "Lease"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration",
        ),
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
        ),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicyBinding",
        ),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("apiregistration.k8s.io", "APIService"),
    ];

    /// Kinds whose row carries more cells than columns, as upstream's.
    const EXTRA_CELLS: &[(&str, &str)] = &[("networking.k8s.io", "IPAddress")];

    fn ago(secs: i64) -> String {
        time::format_rfc3339(time::now_unix() - secs)
    }

    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;

    fn row(group: &str, kind: &str, obj: &Value) -> Vec<Value> {
        let p = printer(group, kind).expect("has a printer");
        (p.row)(obj)
    }

    fn column_names(group: &str, kind: &str) -> Vec<(&'static str, &'static str, u8)> {
        printer(group, kind)
            .expect("has a printer")
            .columns
            .iter()
            .map(|c| (c.name, c.kind, c.priority))
            .collect()
    }

    fn status_of(pod: Value) -> (String, String, String) {
        let r = row("", "Pod", &pod);
        (
            r[1].as_str().unwrap_or_default().to_string(),
            r[2].as_str().unwrap_or_default().to_string(),
            r[3].as_str().unwrap_or_default().to_string(),
        )
    }

    #[test]
    fn pod_running_with_restarts_and_wide_cells() {
        let pod = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(5 * HOUR)},
            "spec": {
                "nodeName": "n1",
                "containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "busybox"}],
                "readinessGates": [{"conditionType": "example.com/ok"}, {"conditionType": "example.com/lb"}],
            },
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.5",
                "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
                "conditions": [
                    {"type": "Ready", "status": "False"},
                    {"type": "example.com/ok", "status": "True"},
                ],
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 3, "state": {"running": {}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(3 * HOUR)}}},
                    {"name": "b", "ready": false, "restartCount": 0, "state": {"running": {}}},
                ],
            },
        });
        assert_eq!(
            row("", "Pod", &pod),
            vec![
                json!("web"),
                json!("1/2"),
                json!("Running"),
                json!("3 (3h ago)"),
                json!("5h"),
                json!("10.0.0.5"),
                json!("n1"),
                json!("<none>"),
                json!("1/2"),
            ]
        );
        let cols = column_names("", "Pod");
        assert_eq!(
            cols,
            vec![
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Status", "string", 0),
                ("Restarts", "string", 0),
                ("Age", "string", 0),
                ("IP", "string", 1),
                ("Node", "string", 1),
                ("Nominated Node", "string", 1),
                ("Readiness Gates", "string", 1),
            ]
        );
        assert_eq!(POD[0].format, "name");
    }

    #[test]
    fn pod_pending_without_status() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending"},
        });
        assert_eq!(
            row("", "Pod", &pod),
            vec![
                json!("p"),
                json!("0/1"),
                json!("Pending"),
                json!("0"),
                json!("<unknown>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
            ]
        );
        // The IP comes from podIPs when podIP is unset.
        let pod =
            json!({"status": {"podIPs": [{"ip": "fd00::1"}]}, "spec": {"nominatedNodeName": "x"}});
        assert_eq!(row("", "Pod", &pod)[5], "fd00::1");
    }

    #[test]
    fn pod_status_reasons() {
        let deleting = ago(10);
        let cases = [
            (
                json!({"status": {"phase": "Succeeded", "containerStatuses": [
                    {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]},
                    "spec": {"containers": [{"name": "a"}]}}),
                ("0/1", "Completed"),
            ),
            (
                json!({"metadata": {"deletionTimestamp": deleting}, "status": {"phase": "Running",
                    "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}]},
                    "spec": {"containers": [{"name": "a"}]}}),
                ("1/1", "Terminating"),
            ),
            (
                json!({"metadata": {"deletionTimestamp": deleting},
                    "status": {"phase": "Running", "reason": "NodeLost"}}),
                ("0/0", "Unknown"),
            ),
            (
                json!({"metadata": {"deletionTimestamp": deleting}, "status": {"phase": "Succeeded"}}),
                ("0/0", "Succeeded"),
            ),
            (
                json!({"status": {"phase": "Failed", "reason": "Evicted"}, "spec": {"containers": [{}]}}),
                ("0/1", "Evicted"),
            ),
            (
                json!({"status": {"phase": "Pending", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}}),
                ("0/0", "SchedulingGated"),
            ),
            (
                json!({"status": {"phase": "Pending", "containerStatuses": [
                    {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}]},
                    "spec": {"containers": [{"name": "a"}]}}),
                ("0/1", "ContainerCreating"),
            ),
            (
                json!({"status": {"phase": "Running", "containerStatuses": [
                    {"name": "a", "state": {"terminated": {"exitCode": 137}}}]}}),
                ("0/0", "ExitCode:137"),
            ),
            (
                json!({"status": {"phase": "Running", "containerStatuses": [
                    {"name": "a", "state": {"terminated": {"exitCode": 0, "signal": 9}}}]}}),
                ("0/0", "Signal:9"),
            ),
            (
                json!({"spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]},
                    "status": {"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "state": {"running": {}}},
                        {"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}}]}}),
                ("0/1", "Init:0/2"),
            ),
            (
                json!({"spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}]},
                    "status": {"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                        {"name": "i2", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}),
                ("0/0", "Init:CrashLoopBackOff"),
            ),
            (
                json!({"spec": {"initContainers": [{"name": "i1"}]},
                    "status": {"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}}),
                ("0/0", "Init:Error"),
            ),
            (
                json!({"spec": {"initContainers": [{"name": "i1"}]},
                    "status": {"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "state": {"terminated": {"exitCode": 2}}}]}}),
                ("0/0", "Init:ExitCode:2"),
            ),
            (
                json!({"spec": {"initContainers": [{"name": "i1"}]},
                    "status": {"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "state": {"terminated": {"exitCode": 1, "signal": 15}}}]}}),
                ("0/0", "Init:Signal:15"),
            ),
            (
                // One container finished, another still running, pod not ready.
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                    "status": {"phase": "Running", "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        {"name": "b", "ready": true, "state": {"running": {}}}]}}),
                ("1/2", "NotReady"),
            ),
            (
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        {"name": "b", "ready": true, "state": {"running": {}}}]}}),
                ("1/2", "Running"),
            ),
        ];
        for (pod, (ready, status)) in cases {
            let (r, s, _) = status_of(pod.clone());
            assert_eq!((r.as_str(), s.as_str()), (ready, status), "{pod}");
        }
    }

    #[test]
    fn pod_sidecars_and_restarts() {
        let pod = json!({
            "spec": {
                "initContainers": [{"name": "proxy", "restartPolicy": "Always"}, {"name": "setup"}],
                "containers": [{"name": "app"}],
            },
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                "initContainerStatuses": [
                    {"name": "proxy", "started": true, "ready": true, "restartCount": 1, "state": {"running": {}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(2 * DAY)}}},
                    {"name": "setup", "restartCount": 4, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                ],
                "containerStatuses": [
                    {"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(3 * DAY)}}},
                ],
            },
        });
        // The plain init container's restarts no longer count once initialized;
        // the latest termination (the sidecar's) gives the "ago".
        assert_eq!(
            status_of(pod),
            ("2/2".into(), "Running".into(), "3 (2d ago)".into())
        );
        // Restarts without a termination time show no "ago".
        let pod = json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "a", "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(
            status_of(pod),
            ("0/0".into(), "CrashLoopBackOff".into(), "5".into())
        );
        // While initializing, init container restarts count.
        let pod = json!({"spec": {"initContainers": [{"name": "i"}]}, "status": {"phase": "Pending",
            "initContainerStatuses": [{"name": "i", "restartCount": 7,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(5 * HOUR)}}}]}});
        assert_eq!(
            status_of(pod),
            (
                "0/0".into(),
                "Init:CrashLoopBackOff".into(),
                "7 (5h ago)".into()
            )
        );
    }

    #[test]
    fn services_of_each_type() {
        let svc = |spec: Value, status: Value| json!({"metadata": {"name": "s", "creationTimestamp": ago(3 * DAY)}, "spec": spec, "status": status});
        let cluster_ip = svc(
            json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                   "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                   "selector": {"k8s-app": "kube-dns", "app": "dns"}}),
            json!({}),
        );
        assert_eq!(
            row("", "Service", &cluster_ip),
            vec![
                json!("s"),
                json!("ClusterIP"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("53/UDP,53/TCP"),
                json!("3d"),
                json!("app=dns,k8s-app=kube-dns"),
            ]
        );
        let node_port = svc(
            json!({"type": "NodePort", "clusterIPs": ["10.96.1.1"], "externalIPs": ["1.2.3.4", "5.6.7.8"],
                   "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "nodePort": 30001, "protocol": "TCP"}]}),
            json!({}),
        );
        let r = row("", "Service", &node_port);
        assert_eq!(r[2], "10.96.1.1");
        assert_eq!(r[3], "1.2.3.4,5.6.7.8");
        assert_eq!(r[4], "80/TCP,443:30001/TCP");
        assert_eq!(r[6], "<none>");

        let pending = svc(
            json!({"type": "LoadBalancer", "clusterIP": "10.0.0.1", "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}]}),
            json!({"loadBalancer": {}}),
        );
        assert_eq!(row("", "Service", &pending)[3], "<pending>");
        let lb = svc(
            json!({"type": "LoadBalancer", "clusterIP": "10.0.0.1", "externalIPs": ["9.9.9.9"]}),
            json!({"loadBalancer": {"ingress": [
                {"hostname": "a-very-long-load-balancer-name.example.com"}, {"ip": "3.3.3.3"}, {"ip": "3.3.3.3"}]}}),
        );
        let r = row("", "Service", &lb);
        assert_eq!(
            r[3],
            "3.3.3.3,a-very-long-load-balancer-name.example.com,9.9.9.9"
        );
        assert_eq!(r[4], "<none>");

        let external = svc(
            json!({"type": "ExternalName", "externalName": "db.example.com"}),
            json!({}),
        );
        let r = row("", "Service", &external);
        assert_eq!((&r[2], &r[3]), (&json!("<none>"), &json!("db.example.com")));

        let headless = svc(
            json!({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}),
            json!({}),
        );
        assert_eq!(row("", "Service", &headless)[2], "None");
        assert_eq!(row("", "Service", &json!({}))[3], "<unknown>");
    }

    fn template(containers: Value) -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}})
    }

    #[test]
    fn workloads() {
        let containers =
            json!([{"name": "web", "image": "nginx:1"}, {"name": "log", "image": "fluentd"}]);
        let selector = json!({"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]}]});
        let deploy = json!({
            "metadata": {"name": "d", "creationTimestamp": ago(2 * DAY)},
            "spec": {"replicas": 3, "selector": selector, "template": template(containers.clone())},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        });
        assert_eq!(
            row("apps", "Deployment", &deploy),
            vec![
                json!("d"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("2d"),
                json!("web,log"),
                json!("nginx:1,fluentd"),
                json!("app=web,tier in (edge,front)"),
            ]
        );
        let rs = json!({"metadata": {"name": "rs"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": template(containers.clone())}, "status": {"replicas": 2, "readyReplicas": 1}});
        assert_eq!(
            row("apps", "ReplicaSet", &rs),
            vec![
                json!("rs"),
                json!(2),
                json!(2),
                json!(1),
                json!("<unknown>"),
                json!("web,log"),
                json!("nginx:1,fluentd"),
                json!("app=web"),
            ]
        );
        let rc = json!({"metadata": {"name": "rc"}, "spec": {"replicas": 1, "selector": {"app": "web"},
            "template": template(containers.clone())}, "status": {"replicas": 1}});
        let r = row("", "ReplicationController", &rc);
        assert_eq!(
            (&r[1], &r[3], &r[7]),
            (&json!(1), &json!(0), &json!("app=web"))
        );

        let sts = json!({"metadata": {"name": "db", "creationTimestamp": ago(5 * HOUR)},
            "spec": {"replicas": 3, "template": template(json!([{"name": "pg", "image": "postgres:16"}]))},
            "status": {"replicas": 3, "readyReplicas": 1}});
        assert_eq!(
            row("apps", "StatefulSet", &sts),
            vec![
                json!("db"),
                json!("1/3"),
                json!("5h"),
                json!("pg"),
                json!("postgres:16")
            ]
        );

        let ds = json!({"metadata": {"name": "agent", "creationTimestamp": ago(4 * DAY)},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"spec": {
                "nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "a", "image": "agent:2"}]}}},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                       "updatedNumberScheduled": 1, "numberAvailable": 2}});
        assert_eq!(
            row("apps", "DaemonSet", &ds),
            vec![
                json!("agent"),
                json!(3),
                json!(3),
                json!(2),
                json!(1),
                json!(2),
                json!("kubernetes.io/os=linux"),
                json!("4d"),
                json!("a"),
                json!("agent:2"),
                json!("app=agent"),
            ]
        );
        assert_eq!(row("apps", "DaemonSet", &json!({}))[6], "<none>");
        // An unset selector prints "<none>", one that cannot parse "<error>"
        // ("<invalid>" for deployments).
        assert_eq!(row("apps", "ReplicaSet", &json!({}))[7], "<none>");
        let bad = json!({"spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}}});
        assert_eq!(row("apps", "ReplicaSet", &bad)[7], "<error>");
        assert_eq!(row("apps", "Deployment", &bad)[7], "<invalid>");
        assert_eq!(row("apps", "Deployment", &json!({}))[7], "");

        let revision = json!({"metadata": {"name": "web-7d4", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]}, "revision": 4});
        let r = row("apps", "ControllerRevision", &revision);
        assert_eq!((&r[1], &r[2]), (&json!("statefulset.apps/web"), &json!(4)));
        assert_eq!(row("apps", "ControllerRevision", &json!({}))[1], "<none>");
    }

    #[test]
    fn jobs_and_cronjobs() {
        let start = time::now_unix() - 10 * DAY;
        let job = json!({
            "metadata": {"name": "pi", "creationTimestamp": ago(10 * DAY)},
            "spec": {"completions": 3, "parallelism": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                     "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
            "status": {"succeeded": 3, "startTime": time::format_rfc3339(start),
                       "completionTime": time::format_rfc3339(start + 125),
                       "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]},
        });
        assert_eq!(
            row("batch", "Job", &job),
            vec![
                json!("pi"),
                json!("Complete"),
                json!("3/3"),
                json!("2m5s"),
                json!("10d"),
                json!("pi"),
                json!("perl"),
                json!("batch.kubernetes.io/controller-uid=u1"),
            ]
        );
        let running = json!({"spec": {"parallelism": 4}, "status": {"succeeded": 1, "startTime": ago(2 * HOUR)}});
        let r = row("batch", "Job", &running);
        assert_eq!(
            (&r[1], &r[2], &r[3]),
            (&json!("Running"), &json!("1/1 of 4"), &json!("120m"))
        );
        let failed = json!({"status": {"conditions": [{"type": "Complete", "status": "False"}, {"type": "Failed", "status": "True"}]}});
        let r = row("batch", "Job", &failed);
        assert_eq!(
            (&r[1], &r[2], &r[3]),
            (&json!("Failed"), &json!("0/1"), &json!(""))
        );
        let suspended =
            json!({"status": {"conditions": [{"type": "Suspended", "status": "True"}]}});
        assert_eq!(row("batch", "Job", &suspended)[1], "Suspended");
        let deleting = json!({"metadata": {"deletionTimestamp": ago(1)}, "status": {"conditions": [{"type": "Suspended", "status": "True"}]}});
        assert_eq!(row("batch", "Job", &deleting)[1], "Terminating");

        let cron = json!({
            "metadata": {"name": "hello", "creationTimestamp": ago(DAY * 3)},
            "spec": {"schedule": "*/5 * * * *", "suspend": false, "jobTemplate": {"spec": {
                "template": {"spec": {"containers": [{"name": "hello", "image": "busybox"}]}}}}},
            "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": ago(5 * HOUR)},
        });
        assert_eq!(
            row("batch", "CronJob", &cron),
            vec![
                json!("hello"),
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("5h"),
                json!("3d"),
                json!("hello"),
                json!("busybox"),
                json!("<none>"),
            ]
        );
        let fresh = json!({"spec": {"schedule": "@daily", "timeZone": "Etc/UTC"}});
        let r = row("batch", "CronJob", &fresh);
        assert_eq!(
            (&r[2], &r[3], &r[4], &r[5]),
            (
                &json!("Etc/UTC"),
                &json!("<unset>"),
                &json!(0),
                &json!("<none>")
            )
        );
        let cols = column_names("batch", "CronJob");
        assert_eq!(cols[3], ("Suspend", "boolean", 0));
        assert_eq!(cols[9], ("Selector", "string", 1));
    }

    #[test]
    fn nodes() {
        let node = json!({
            "metadata": {"name": "n1", "creationTimestamp": ago(30 * DAY), "labels": {
                "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "",
                "kubernetes.io/role": "master", "node-role.kubernetes.io/": "x"}},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
                "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Ubuntu 24.04", "kernelVersion": "6.8.0",
                             "containerRuntimeVersion": "containerd://2.0.0"},
            },
        });
        assert_eq!(
            row("", "Node", &node),
            vec![
                json!("n1"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane,master,worker"),
                json!("30d"),
                json!("v1.33.1"),
                json!("192.168.1.10"),
                json!("<none>"),
                json!("Ubuntu 24.04"),
                json!("6.8.0"),
                json!("containerd://2.0.0"),
            ]
        );
        let r = row(
            "",
            "Node",
            &json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
        );
        assert_eq!(
            (&r[1], &r[2], &r[4], &r[7]),
            (
                &json!("NotReady"),
                &json!("<none>"),
                &json!(""),
                &json!("<unknown>")
            )
        );
        assert_eq!(row("", "Node", &json!({}))[1], "Unknown");
    }

    #[test]
    fn volumes_and_claims() {
        let pv = json!({
            "metadata": {"name": "pv1", "creationTimestamp": ago(2 * DAY)},
            "spec": {"capacity": {"storage": "1.5Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "fast", "volumeMode": "Filesystem",
                     "claimRef": {"namespace": "default", "name": "data"}},
            "status": {"phase": "Bound"},
        });
        assert_eq!(
            row("", "PersistentVolume", &pv),
            vec![
                json!("pv1"),
                json!("1536Mi"),
                json!("RWO,RWX"),
                json!("Retain"),
                json!("Bound"),
                json!("default/data"),
                json!("fast"),
                json!("<unset>"),
                json!(""),
                json!("2d"),
                json!("Filesystem"),
            ]
        );
        let released = json!({"metadata": {"deletionTimestamp": ago(1),
            "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}},
            "spec": {"storageClassName": "fast"}, "status": {"phase": "Released", "reason": "gone"}});
        let r = row("", "PersistentVolume", &released);
        assert_eq!(
            (&r[1], &r[4], &r[6], &r[8]),
            (
                &json!("0"),
                &json!("Terminating"),
                &json!("legacy"),
                &json!("gone")
            )
        );

        let bound = json!({
            "metadata": {"name": "data", "creationTimestamp": ago(5 * HOUR)},
            "spec": {"volumeName": "pv1", "storageClassName": "fast", "volumeAttributesClassName": "gold",
                     "resources": {"requests": {"storage": "1Gi"}}, "volumeMode": "Block"},
            "status": {"phase": "Bound", "capacity": {"storage": "2048Mi"}, "accessModes": ["ReadWriteOncePod", "ReadOnlyMany"]},
        });
        assert_eq!(
            row("", "PersistentVolumeClaim", &bound),
            vec![
                json!("data"),
                json!("Bound"),
                json!("pv1"),
                json!("2Gi"),
                json!("ROX,RWOP"),
                json!("fast"),
                json!("gold"),
                json!("5h"),
                json!("Block"),
            ]
        );
        let pending = json!({"metadata": {"name": "w"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Pending"}});
        assert_eq!(
            row("", "PersistentVolumeClaim", &pending),
            vec![
                json!("w"),
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!("<unset>"),
                json!("<unknown>"),
                json!("<unset>"),
            ]
        );
    }

    #[test]
    fn horizontal_pod_autoscalers() {
        let hpa = json!({
            "apiVersion": "autoscaling/v2",
            "metadata": {"name": "web", "creationTimestamp": ago(DAY * 2)},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2, "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}},
                    {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
                ],
            },
            "status": {"currentReplicas": 3, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42, "averageValue": "210m"}}},
                {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "524288Ki"}}},
            ]},
        });
        assert_eq!(
            row("autoscaling", "HorizontalPodAutoscaler", &hpa),
            vec![
                json!("web"),
                json!("Deployment/web"),
                json!("cpu: 42%/50%, memory: 512Mi/1Gi + 1 more..."),
                json!("2"),
                json!(10),
                json!(3),
                json!("2d"),
            ]
        );
        let two = json!({"spec": {"metrics": [
            {"type": "Pods", "pods": {"target": {"averageValue": "100"}}},
            {"type": "External", "external": {"target": {"type": "Value", "value": "2000m"}}},
        ]}, "status": {"currentMetrics": [
            {"type": "Pods", "pods": {"current": {"averageValue": "50"}}},
        ]}});
        assert_eq!(
            row("autoscaling", "HorizontalPodAutoscaler", &two)[2],
            "50/100, <unknown>/2"
        );
        let object = json!({"spec": {"metrics": [
            {"type": "Object", "object": {"target": {"averageValue": "3"}}},
            {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {}}},
        ]}, "status": {"currentMetrics": [
            {"type": "Object", "object": {"current": {"averageValue": "1500m"}}},
            {"type": "ContainerResource", "containerResource": {"name": "cpu", "current": {"averageUtilization": 7}}},
        ]}});
        assert_eq!(
            row("autoscaling", "HorizontalPodAutoscaler", &object)[2],
            "1500m/3 (avg), cpu: 7%/<auto>"
        );
        let none = json!({"spec": {"metrics": []}});
        let r = row("autoscaling", "HorizontalPodAutoscaler", &none);
        assert_eq!(
            (&r[1], &r[2], &r[3]),
            (&json!("/"), &json!("<none>"), &json!("<unset>"))
        );

        // autoscaling/v1 wire form.
        let v1 = json!({"apiVersion": "autoscaling/v1", "metadata": {"name": "old"},
            "spec": {"scaleTargetRef": {"kind": "ReplicaSet", "name": "rs"}, "minReplicas": 1, "maxReplicas": 4,
                     "targetCPUUtilizationPercentage": 70},
            "status": {"currentReplicas": 2, "currentCPUUtilizationPercentage": 35}});
        assert_eq!(
            row("autoscaling", "HorizontalPodAutoscaler", &v1),
            vec![
                json!("old"),
                json!("ReplicaSet/rs"),
                json!("cpu: 35%/70%"),
                json!("1"),
                json!(4),
                json!(2),
                json!("<unknown>"),
            ]
        );
        let v1_default = json!({"apiVersion": "autoscaling/v1", "spec": {"maxReplicas": 3}});
        assert_eq!(
            row("autoscaling", "HorizontalPodAutoscaler", &v1_default)[2],
            "cpu: <unknown>/80%"
        );
    }

    #[test]
    fn ingresses() {
        let ing = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(HOUR * 5)},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
                     "rules": [{"host": "a.example.com"}, {}, {"host": "b.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example.com"}, {"ip": "10.0.0.1"}]}},
        });
        assert_eq!(
            row("networking.k8s.io", "Ingress", &ing),
            vec![
                json!("web"),
                json!("nginx"),
                json!("a.example.com,b.example.com"),
                json!("10.0.0.1,10.0.0.2,lb.example.com"),
                json!("80, 443"),
                json!("5h"),
            ]
        );
        let many = json!({"spec": {"rules": [
            {"host": "a"}, {"host": "b"}, {}, {"host": "c"}, {"host": "d"}, {"host": "e"}]}});
        let r = row("networking.k8s.io", "Ingress", &many);
        assert_eq!(
            (&r[1], &r[2], &r[3], &r[4]),
            (
                &json!("<none>"),
                &json!("a,b,c + 3 more..."),
                &json!(""),
                &json!("80")
            )
        );
        assert_eq!(row("networking.k8s.io", "Ingress", &json!({}))[2], "*");

        let class = json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
        let r = row("networking.k8s.io", "IngressClass", &class);
        assert_eq!(
            (&r[1], &r[2]),
            (
                &json!("k8s.io/ingress-nginx"),
                &json!("IngressParameters.k8s.example.com/external-lb")
            )
        );
        assert_eq!(
            row("networking.k8s.io", "IngressClass", &json!({}))[2],
            "<none>"
        );
    }

    #[test]
    fn pod_disruption_budgets() {
        let pdb = json!({"metadata": {"name": "zk", "creationTimestamp": ago(3 * DAY)},
            "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            row("policy", "PodDisruptionBudget", &pdb),
            vec![json!("zk"), json!("2"), json!("N/A"), json!(1), json!("3d")]
        );
        let pct = json!({"spec": {"maxUnavailable": "25%"}});
        let r = row("policy", "PodDisruptionBudget", &pct);
        assert_eq!(
            (&r[1], &r[2], &r[3]),
            (&json!("N/A"), &json!("25%"), &json!(0))
        );
    }

    #[test]
    fn role_bindings() {
        let rb = json!({
            "metadata": {"name": "read", "creationTimestamp": ago(HOUR * 5)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [
                {"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "namespace": "ci", "name": "runner"}, {"kind": "User", "name": "bob"},
                {"kind": "Robot", "name": "r2"},
            ],
        });
        let expected = vec![
            json!("read"),
            json!("ClusterRole/view"),
            json!("5h"),
            json!("alice, bob"),
            json!("devs"),
            json!("ci/runner"),
        ];
        assert_eq!(
            row("rbac.authorization.k8s.io", "RoleBinding", &rb),
            expected
        );
        assert_eq!(
            row("rbac.authorization.k8s.io", "ClusterRoleBinding", &rb),
            expected
        );
        assert_eq!(
            column_names("rbac.authorization.k8s.io", "RoleBinding")[3],
            ("Users", "string", 1)
        );
    }

    #[test]
    fn endpoints_and_slices() {
        let slice = json!({
            "metadata": {"name": "web-abc", "creationTimestamp": ago(2 * DAY)},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80}, {"name": "metrics"}, {}, {"port": 9090}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}],
        });
        assert_eq!(
            row("discovery.k8s.io", "EndpointSlice", &slice),
            vec![
                json!("web-abc"),
                json!("IPv4"),
                json!("80,metrics,* + 1 more..."),
                json!("10.0.0.1,10.0.0.2,10.0.0.3"),
                json!("2d"),
            ]
        );
        let empty = row("discovery.k8s.io", "EndpointSlice", &json!({}));
        assert_eq!(
            (&empty[2], &empty[3]),
            (&json!("<unset>"), &json!("<unset>"))
        );

        let ep = json!({"metadata": {"name": "web"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::2"}], "ports": [{"port": 80}, {"port": 443}]},
            {"addresses": [{"ip": "10.0.0.9"}]},
        ]});
        assert_eq!(
            row("", "Endpoints", &ep)[1],
            "10.0.0.1:80,[fd00::2]:80,10.0.0.1:443 + 2 more..."
        );
        assert_eq!(row("", "Endpoints", &json!({}))[1], "<none>");
        assert_eq!(
            row(
                "",
                "Endpoints",
                &json!({"subsets": [{"ports": [{"port": 1}]}]})
            )[1],
            ""
        );
    }

    #[test]
    fn events_of_both_apis() {
        let core = json!({
            "metadata": {"name": "web.17a", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "type": "Warning", "message": " Back-off restarting \n",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": ago(3 * DAY), "lastTimestamp": ago(5 * HOUR), "count": 12,
        });
        assert_eq!(
            row("", "Event", &core),
            vec![
                json!("5h"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web"),
                json!("spec.containers{app}"),
                json!("kubelet, n1"),
                json!("Back-off restarting"),
                json!("3d"),
                json!(12),
                json!("web.17a"),
            ]
        );
        let new_api = json!({
            "metadata": {"name": "e2"},
            "regarding": {"kind": "Node", "name": "n1"},
            "reason": "Rebooted", "type": "Normal", "note": "rebooted",
            "reportingController": "kubelet", "reportingInstance": "n1",
            "eventTime": ago(2 * DAY).replace('Z', ".123456Z"),
            "series": {"count": 4, "lastObservedTime": ago(5 * HOUR)},
        });
        assert_eq!(
            row("events.k8s.io", "Event", &new_api),
            vec![
                json!("5h"),
                json!("Normal"),
                json!("Rebooted"),
                json!("node/n1"),
                json!(""),
                json!("kubelet, n1"),
                json!("rebooted"),
                json!("2d"),
                json!(4),
                json!("e2"),
            ]
        );
        let bare = row("", "Event", &json!({"source": {"component": "sched"}}));
        assert_eq!(
            (&bare[0], &bare[3], &bare[5], &bare[8]),
            (&json!("<unknown>"), &json!(""), &json!("sched"), &json!(1))
        );
        let cols = column_names("", "Event");
        assert_eq!(cols[0], ("Last Seen", "string", 0));
        assert_eq!(cols[8], ("Count", "string", 1));
        assert_eq!(cols[9], ("Name", "string", 1));
        assert_eq!(EVENT[9].format, "name");
    }

    #[test]
    fn core_odds_and_ends() {
        let quota = json!({"metadata": {"name": "q"}, "status": {
            "hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "2Gi", "limits.cpu": "4", "limits": "1"},
            "used": {"pods": "3", "requests.cpu": "500m", "limits.memory": "1073741824"}}});
        assert_eq!(
            row("", "ResourceQuota", &quota),
            vec![
                json!("q"),
                json!("limits: 0/1, pods: 3/10, requests.cpu: 500m/2"),
                json!("limits.cpu: 0/4, limits.memory: 1073741824/2Gi"),
                json!("<unknown>"),
            ]
        );
        let cs = json!({"metadata": {"name": "etcd-0"}, "conditions": [
            {"type": "Healthy", "status": "False", "message": "", "error": "dial tcp: refused"}]});
        assert_eq!(
            row("", "ComponentStatus", &cs),
            vec![
                json!("etcd-0"),
                json!("Unhealthy"),
                json!(""),
                json!("dial tcp: refused")
            ]
        );
        assert_eq!(row("", "ComponentStatus", &json!({}))[1], "Unknown");

        let tpl = json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"b": "2", "a": "1"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}});
        assert_eq!(
            row("", "PodTemplate", &tpl),
            vec![json!("t"), json!("c"), json!("i"), json!("a=1,b=2")]
        );
        let cm = json!({"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(row("", "ConfigMap", &cm)[1], 3);
        let secret = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
        assert_eq!(
            row("", "Secret", &secret)[1..3],
            [json!("kubernetes.io/tls"), json!(2)]
        );
        let sa = json!({"metadata": {"name": "default"}, "secrets": [{"name": "x"}]});
        assert_eq!(row("", "ServiceAccount", &sa)[1], 1);
        let ns = json!({"metadata": {"name": "kube-system", "creationTimestamp": ago(DAY * 3)}, "status": {"phase": "Active"}});
        assert_eq!(
            row("", "Namespace", &ns),
            vec![json!("kube-system"), json!("Active"), json!("3d")]
        );
    }

    #[test]
    fn storage_and_scheduling() {
        let sc = json!({"metadata": {"name": "standard", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "rancher.io/local-path"});
        assert_eq!(
            row("storage.k8s.io", "StorageClass", &sc),
            vec![
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("Immediate"),
                json!(false),
                json!("<unknown>"),
            ]
        );
        let driver = json!({"metadata": {"name": "csi.example.com"}, "spec": {
            "attachRequired": false, "tokenRequests": [{"audience": "vault"}, {"audience": "gcp"}],
            "volumeLifecycleModes": ["Persistent", "Ephemeral"]}});
        assert_eq!(
            row("storage.k8s.io", "CSIDriver", &driver),
            vec![
                json!("csi.example.com"),
                json!(false),
                json!(false),
                json!(false),
                json!("vault,gcp"),
                json!(false),
                json!("Persistent,Ephemeral"),
                json!("<unknown>"),
            ]
        );
        let bare = row("storage.k8s.io", "CSIDriver", &json!({}));
        assert_eq!(
            (&bare[1], &bare[4], &bare[6]),
            (&json!(true), &json!("<unset>"), &json!("<none>"))
        );
        let node = json!({"metadata": {"name": "n1"}, "spec": {"drivers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(row("storage.k8s.io", "CSINode", &node)[1], 2);
        let cap = json!({"metadata": {"name": "c"}, "storageClassName": "fast", "capacity": "1073741824"});
        assert_eq!(
            row("storage.k8s.io", "CSIStorageCapacity", &cap),
            vec![json!("c"), json!("fast"), json!("1073741824")]
        );
        assert_eq!(
            row("storage.k8s.io", "CSIStorageCapacity", &json!({}))[2],
            "<unset>"
        );
        let va = json!({"metadata": {"name": "csi-1"}, "spec": {"attacher": "csi.example.com", "nodeName": "n1",
            "source": {"persistentVolumeName": "pv1"}}, "status": {"attached": true}});
        assert_eq!(
            row("storage.k8s.io", "VolumeAttachment", &va)[1..5],
            [
                json!("csi.example.com"),
                json!("pv1"),
                json!("n1"),
                json!(true)
            ]
        );
        assert_eq!(VOLUME_ATTACHMENT[1].format, "name");

        let pc = json!({"metadata": {"name": "system-node-critical"}, "value": 2000001000, "globalDefault": false,
            "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            row("scheduling.k8s.io", "PriorityClass", &pc),
            vec![
                json!("system-node-critical"),
                json!(2000001000),
                json!(false),
                json!("<unknown>"),
                json!("PreemptLowerPriority"),
            ]
        );
        assert_eq!(column_names("scheduling.k8s.io", "PriorityClass")[4].2, 0);
        let rc = json!({"metadata": {"name": "gvisor"}, "handler": "runsc"});
        assert_eq!(row("node.k8s.io", "RuntimeClass", &rc)[1], "runsc");
        let lease =
            json!({"metadata": {"name": "kube-scheduler"}, "spec": {"holderIdentity": "cp-1_abc"}});
        assert_eq!(row("coordination.k8s.io", "Lease", &lease)[1], "cp-1_abc");
    }

    #[test]
    fn networking_odds_and_ends() {
        let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
        assert_eq!(row("networking.k8s.io", "NetworkPolicy", &np)[1], "<none>");
        let np = json!({"spec": {"podSelector": {"matchExpressions": [
            {"key": "role", "operator": "NotIn", "values": ["db"]}, {"key": "app", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"}]}}});
        assert_eq!(
            row("networking.k8s.io", "NetworkPolicy", &np)[1],
            "app,!legacy,role notin (db)"
        );
        let ip = json!({"metadata": {"name": "10.96.0.10"}, "spec": {"parentRef": {
            "group": "", "resource": "services", "namespace": "kube-system", "name": "kube-dns"}}});
        let r = row("networking.k8s.io", "IPAddress", &ip);
        assert_eq!(
            r,
            vec![
                json!("10.96.0.10"),
                json!("services/kube-system/kube-dns"),
                json!("<unknown>")
            ]
        );
        let ip = json!({"spec": {"parentRef": {"group": "Gateway.Networking.k8s.io", "resource": "Gateways", "name": "gw"}}});
        assert_eq!(
            row("networking.k8s.io", "IPAddress", &ip)[1],
            "gateways.gateway.networking.k8s.io/gw"
        );
        let cidr = json!({"metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["10.96.0.0/28", "fd00::/112"]}});
        assert_eq!(
            row("networking.k8s.io", "ServiceCIDR", &cidr)[1],
            "10.96.0.0/28,fd00::/112"
        );
    }

    #[test]
    fn admission_certificates_flowcontrol_apiservices() {
        let g = "admissionregistration.k8s.io";
        let hooks = json!({"metadata": {"name": "w"}, "webhooks": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(row(g, "MutatingWebhookConfiguration", &hooks)[1], 2);
        assert_eq!(row(g, "ValidatingWebhookConfiguration", &hooks)[1], 2);
        let vap = json!({"metadata": {"name": "p"}, "spec": {"validations": [{"expression": "true"}],
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}}});
        assert_eq!(
            row(g, "ValidatingAdmissionPolicy", &vap)[1..3],
            [json!(1), json!("v1/ConfigMap")]
        );
        assert_eq!(
            row(g, "ValidatingAdmissionPolicy", &json!({}))[2],
            "<unset>"
        );
        let binding = |param: Value| json!({"metadata": {"name": "b"}, "spec": {"policyName": "p", "paramRef": param}});
        assert_eq!(
            row(
                g,
                "ValidatingAdmissionPolicyBinding",
                &binding(json!({"name": "cfg", "namespace": "ns"}))
            )[1..3],
            [json!("p"), json!("ns/cfg")]
        );
        assert_eq!(
            row(
                g,
                "ValidatingAdmissionPolicyBinding",
                &binding(json!({"name": "cfg"}))
            )[2],
            "*/cfg"
        );
        assert_eq!(
            row(
                g,
                "ValidatingAdmissionPolicyBinding",
                &binding(json!({"selector": {
                "matchLabels": {"env": "prod", "app": "x"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}}))
            )[2],
            "&LabelSelector{MatchLabels:map[string]string{app: x,env: prod,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:tier,Operator:In,Values:[a b],},},}"
        );
        assert_eq!(
            row(g, "ValidatingAdmissionPolicyBinding", &json!({}))[2],
            "<unset>"
        );

        let csr = json!({"metadata": {"name": "csr-1", "creationTimestamp": ago(5 * HOUR)},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "alice", "expirationSeconds": 86400},
            "status": {"conditions": [{"type": "Approved", "status": "True"}, {"type": "Failed", "status": "True"}],
                       "certificate": "LS0t"}});
        assert_eq!(
            row("certificates.k8s.io", "CertificateSigningRequest", &csr),
            vec![
                json!("csr-1"),
                json!("5h"),
                json!("kubernetes.io/kube-apiserver-client"),
                json!("alice"),
                json!("24h"),
                json!("Approved,Failed,Issued"),
            ]
        );
        let r = row(
            "certificates.k8s.io",
            "CertificateSigningRequest",
            &json!({}),
        );
        assert_eq!(
            (&r[2], &r[4], &r[5]),
            (&json!("<none>"), &json!("<none>"), &json!("Pending"))
        );
        let denied = json!({"status": {"conditions": [{"type": "Approved"}, {"type": "Denied"}]}});
        assert_eq!(
            row("certificates.k8s.io", "CertificateSigningRequest", &denied)[5],
            "Denied"
        );

        let fc = "flowcontrol.apiserver.k8s.io";
        let fs = json!({"metadata": {"name": "system-leader-election"}, "spec": {
            "priorityLevelConfiguration": {"name": "leader-election"}, "matchingPrecedence": 100,
            "distinguisherMethod": {"type": "ByUser"}}, "status": {"conditions": [{"type": "Dangling", "status": "False"}]}});
        assert_eq!(
            row(fc, "FlowSchema", &fs),
            vec![
                json!("system-leader-election"),
                json!("leader-election"),
                json!(100),
                json!("ByUser"),
                json!("<unknown>"),
                json!("False"),
            ]
        );
        let r = row(fc, "FlowSchema", &json!({}));
        assert_eq!((&r[3], &r[5]), (&json!("<none>"), &json!("?")));
        let limited = json!({"metadata": {"name": "workload-low"}, "spec": {"type": "Limited", "limited": {
            "nominalConcurrencyShares": 100, "limitResponse": {"type": "Queue", "queuing": {
                "queues": 128, "handSize": 6, "queueLengthLimit": 50}}}}});
        assert_eq!(
            row(fc, "PriorityLevelConfiguration", &limited)[1..6],
            [
                json!("Limited"),
                json!(100),
                json!(128),
                json!(6),
                json!(50)
            ]
        );
        let exempt = json!({"spec": {"type": "Exempt", "exempt": {}}});
        assert_eq!(
            row(fc, "PriorityLevelConfiguration", &exempt)[1..6],
            [
                json!("Exempt"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        let reject = json!({"spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 5,
            "limitResponse": {"type": "Reject"}}}});
        assert_eq!(
            row(fc, "PriorityLevelConfiguration", &reject)[2..4],
            [json!(5), json!("<none>")]
        );

        let ag = "apiregistration.k8s.io";
        let local = json!({"metadata": {"name": "v1.apps"}, "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}});
        assert_eq!(
            row(ag, "APIService", &local),
            vec![
                json!("v1.apps"),
                json!("Local"),
                json!("True"),
                json!("<unknown>")
            ]
        );
        let remote = json!({"spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "FailedDiscoveryCheck"}]}});
        let r = row(ag, "APIService", &remote);
        assert_eq!(
            (&r[1], &r[2]),
            (
                &json!("kube-system/metrics-server"),
                &json!("False (FailedDiscoveryCheck)")
            )
        );
        assert_eq!(row(ag, "APIService", &json!({}))[2], "Unknown");
    }

    #[test]
    fn quantities_print_canonically() {
        let cases = [
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("1000Mi", "1000Mi"),
            ("100Ki", "100Ki"),
            ("512", "512"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("1.5", "1500m"),
            ("0.1", "100m"),
            ("2000m", "2"),
            ("100m", "100m"),
            ("1e3", "1e3"),
            // A canonical input is kept as written, as upstream caches it.
            ("1E6", "1E6"),
            ("12e2", "1200"),
            ("1.5e3", "1500"),
            ("10G", "10G"),
            ("1000M", "1G"),
            ("0", "0"),
            ("0Gi", "0"),
            ("0.000000001", "1n"),
            ("0.0000000001", "1n"),
            ("-1Gi", "-1Gi"),
            ("+5", "+5"),
            (" 3Mi ", "3Mi"),
            ("0.5Ki", "512"),
            ("1E", "1E"),
        ];
        for (input, canonical) in cases {
            assert_eq!(
                canonical_quantity(input).as_deref(),
                Some(canonical),
                "{input}"
            );
        }
        for bad in ["", "1.2.3", "1Qi", "1e", "1.5x", "--1"] {
            assert_eq!(canonical_quantity(bad), None, "{bad}");
        }
        assert_eq!(quantity(Some(&json!(1.5))).as_deref(), Some("1500m"));
        assert_eq!(quantity(Some(&json!(2048))).as_deref(), Some("2048"));
        assert_eq!(quantity(Some(&json!("junk"))).as_deref(), Some("junk"));
        assert_eq!(quantity_ptr(None), "<nil>");
        assert_eq!(quantity_or_zero(None), "0");
    }

    #[test]
    fn selectors_print_as_label_queries() {
        assert_eq!(selector_string(None).as_deref(), Some(""));
        assert_eq!(selector_string(Some(&json!({}))).as_deref(), Some(""));
        let sel = json!({"matchLabels": {"z": "1", "a": "2"}, "matchExpressions": [
            {"key": "m", "operator": "In", "values": ["y", "x"]}]});
        assert_eq!(
            selector_string(Some(&sel)).as_deref(),
            Some("a=2,m in (x,y),z=1")
        );
        for bad in [
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            json!({"matchLabels": {"a": 1}}),
        ] {
            assert_eq!(selector_string(Some(&bad)), None, "{bad}");
        }
        assert_eq!(format_labels(None), "<none>");
    }

    #[test]
    fn default_table_kinds_have_no_printer() {
        for (g, k) in [
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
            ("", "LimitRange"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
            ("", "Binding"),
            ("apps", "Pod"),
        ] {
            assert!(printer(g, k).is_none(), "{g}/{k}");
        }
    }

    #[test]
    fn every_printer_is_well_formed() {
        for (g, k) in KINDS {
            let p = printer(g, k).unwrap_or_else(|| panic!("{g}/{k} has no printer"));
            let cells = (p.row)(&json!({}));
            let expected = p.columns.len() + usize::from(EXTRA_CELLS.contains(&(g, k)));
            assert_eq!(cells.len(), expected, "{g}/{k}");
            let name_col = p
                .columns
                .iter()
                .position(|c| c.name == "Name")
                .unwrap_or_else(|| panic!("{g}/{k} has no Name column"));
            assert_eq!(p.columns[name_col].format, "name", "{g}/{k}");
            let named = (p.row)(&json!({"metadata": {"name": "x"}}));
            assert_eq!(named[name_col], "x", "{g}/{k}");
            if *k != "Event" {
                assert_eq!(name_col, 0, "{g}/{k}");
            }
            for c in p.columns {
                assert!(
                    matches!(c.kind, "string" | "integer" | "boolean"),
                    "{g}/{k} {}",
                    c.name
                );
                assert!(!c.description.is_empty(), "{g}/{k} {}", c.name);
                assert!(c.priority <= 1);
            }
            // The Age column shows "<unknown>" when there is no timestamp.
            if let Some(i) = p.columns.iter().position(|c| c.name == "Age") {
                assert_eq!(cells[i], "<unknown>", "{g}/{k}");
            }
        }
    }

    /// Every value replaced, one at a time, by each of these.
    fn wrong_values() -> Vec<Value> {
        vec![
            Value::Null,
            json!(5),
            json!(-3),
            json!("x"),
            json!(true),
            json!([]),
            json!([1, "a", null]),
            json!({}),
        ]
    }

    /// Copies of `v` with one subtree replaced by a wrong value.
    fn mutations(v: &Value) -> Vec<Value> {
        let mut out: Vec<Value> = wrong_values();
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    for replaced in mutations(child) {
                        let mut copy = m.clone();
                        copy.insert(k.clone(), replaced);
                        out.push(Value::Object(copy));
                    }
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    for replaced in mutations(child) {
                        let mut copy = a.clone();
                        if let Some(slot) = copy.get_mut(i) {
                            *slot = replaced;
                        }
                        out.push(Value::Array(copy));
                    }
                }
            }
            _ => {}
        }
        out
    }

    #[test]
    fn wrong_types_never_panic() {
        let odd = [
            json!({"spec": 5, "status": "x"}),
            json!({"metadata": 1, "spec": {"containers": 3, "template": []}, "status": {"conditions": "no"}}),
            json!({"metadata": {"name": 7, "labels": [], "annotations": "a", "creationTimestamp": "yesterday",
                   "deletionTimestamp": 3, "ownerReferences": {}}}),
            json!({"status": {"containerStatuses": [1, "a", null, {"state": 4, "lastState": {"terminated": 2}}],
                   "initContainerStatuses": [{"state": {"terminated": {"exitCode": "1"}}}]}}),
            json!([]),
            json!("pod"),
            Value::Null,
        ];
        let samples = [
            json!({"metadata": {"name": "a", "creationTimestamp": "2024-01-01T00:00:00Z", "labels": {"a": "b"}},
                   "spec": {"containers": [{"name": "c", "image": "i"}], "initContainers": [{"name": "i", "restartPolicy": "Always"}],
                            "selector": {"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]},
                            "ports": [{"port": 80, "nodePort": 3, "protocol": "TCP"}], "type": "LoadBalancer",
                            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"averageValue": "1"}}}],
                            "rules": [{"host": "h"}], "capacity": {"storage": "1Gi"}, "claimRef": {"name": "x"},
                            "paramRef": {"selector": {"matchLabels": {"a": "b"}}}, "limited": {"limitResponse": {"queuing": {"queues": 1}}}},
                   "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                              "containerStatuses": [{"name": "c", "ready": true, "state": {"running": {}},
                                                     "lastState": {"terminated": {"finishedAt": "2024-01-01T00:00:00Z"}}}],
                              "initContainerStatuses": [{"name": "i", "started": true, "state": {"waiting": {"reason": "X"}}}],
                              "loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}, "currentMetrics": [{"resource": {"current": {}}}],
                              "hard": {"pods": "1"}, "used": {"pods": "1"}}}),
        ];
        for (g, k) in KINDS {
            let p = printer(g, k).expect("has a printer");
            for obj in odd.iter() {
                let cells = (p.row)(obj);
                assert!(cells.len() >= p.columns.len(), "{g}/{k}: {obj}");
            }
            for sample in &samples {
                for obj in mutations(sample) {
                    let cells = (p.row)(&obj);
                    assert!(cells.len() >= p.columns.len(), "{g}/{k}");
                }
            }
        }
    }
}
