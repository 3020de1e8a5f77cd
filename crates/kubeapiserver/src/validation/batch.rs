//! batch/v1 Jobs and CronJobs (upstream's `pkg/apis/batch/validation`),
//! including the cron schedule parser upstream uses (robfig/cron v3's
//! standard parser, with its error texts) and IANA time zone names.

use std::collections::HashSet;

use kaiser_apimachinery::field::{ErrorList, FieldError};
use serde_json::Value;

use super::pod::{self, PodOpts};
use super::{
    IMMUTABLE_MSG, arr, as_int, at, child, gofmt, idx, int_of, invalid_omit, invalid_raw, nonneg,
    nonneg_member, opt_str, present, qualified_name, selector, sem_eq, str_of, too_many,
};

const LEGACY_UID_LABEL: &str = "controller-uid";
const LEGACY_NAME_LABEL: &str = "job-name";
const UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
const NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// Upstream's job strategy generates the selector and pod labels from the
/// job's uid before validation unless `manualSelector` is set; a store
/// that runs this in `prepare_for_create` gets upstream's behavior.
pub fn generate_job_selector(job: &mut Value) {
    if at(at(job, "spec"), "manualSelector").as_bool() == Some(true) {
        return;
    }
    let name = str_of(at(job, "metadata"), "name").to_string();
    let uid = str_of(at(job, "metadata"), "uid").to_string();
    let Some(spec) = job.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let template = spec
        .entry("template")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(t) = template.as_object_mut() {
        let meta = t
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(m) = meta.as_object_mut() {
            let labels = m
                .entry("labels")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(l) = labels.as_object_mut() {
                for (k, v) in [
                    (LEGACY_NAME_LABEL, &name),
                    (NAME_LABEL, &name),
                    (LEGACY_UID_LABEL, &uid),
                    (UID_LABEL, &uid),
                ] {
                    l.entry(k).or_insert_with(|| Value::from(v.as_str()));
                }
            }
        }
    }
    let sel = spec
        .entry("selector")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(s) = sel.as_object_mut() {
        let ml = s
            .entry("matchLabels")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(m) = ml.as_object_mut() {
            m.entry(UID_LABEL)
                .or_insert_with(|| Value::from(uid.as_str()));
        }
    }
}

/// `ValidateHasLabel`.
fn has_label(errs: &mut ErrorList, template: &Value, k: &str, want: &str) {
    let labels = at(at(template, "metadata"), "labels");
    let path = super::key("spec.template.metadata.labels", k);
    match opt_str(labels, k) {
        None => errs.push(FieldError::required(&path, format!("must be '{want}'"))),
        Some(v) if v != want => errs.push(invalid_raw(
            &path,
            gofmt::string_map(labels),
            &format!("must be '{want}'"),
        )),
        _ => {}
    }
}

/// `validateGeneratedSelector`.
fn generated_selector(errs: &mut ErrorList, job: &Value, prefixed: bool) {
    let spec = at(job, "spec");
    if at(spec, "manualSelector").as_bool() == Some(true) || !present(at(spec, "selector")) {
        return;
    }
    let meta = at(job, "metadata");
    let uid = str_of(meta, "uid");
    let name = str_of(meta, "name");
    if uid.is_empty() {
        errs.push(FieldError::required("metadata.uid", ""));
    }
    let template = at(spec, "template");
    has_label(errs, template, LEGACY_UID_LABEL, uid);
    has_label(errs, template, LEGACY_NAME_LABEL, name);
    let mut expected = serde_json::Map::new();
    if prefixed {
        has_label(errs, template, UID_LABEL, uid);
        has_label(errs, template, NAME_LABEL, name);
        expected.insert(UID_LABEL.into(), Value::from(uid));
        expected.insert(NAME_LABEL.into(), Value::from(name));
    }
    expected.insert(LEGACY_UID_LABEL.into(), Value::from(uid));
    expected.insert(LEGACY_NAME_LABEL.into(), Value::from(name));
    if let Some(sel) = selector::as_selector(at(spec, "selector"))
        && !sel.matches(&Value::Object(expected))
    {
        errs.push(invalid_raw(
            "spec.selector",
            gofmt::label_selector(at(spec, "selector")),
            "`selector` not auto-generated",
        ));
    }
}

/// Options of one Job validation (upstream's `JobValidationOptions`).
struct JobOpts {
    pod: PodOpts,
    require_prefixed_labels: bool,
    allow_mutable_scheduling: bool,
}

fn job_opts(new: &Value, old: Option<&Value>) -> JobOpts {
    let _ = new;
    let Some(old) = old else {
        return JobOpts {
            pod: PodOpts::default(),
            require_prefixed_labels: true,
            allow_mutable_scheduling: false,
        };
    };
    let spec = at(old, "spec");
    let mut pod = PodOpts::for_spec(Some(at(at(spec, "template"), "spec")));
    pod.allow_invalid_label_value_in_selector |=
        selector::has_invalid_label_value(at(spec, "selector"));
    let labels = at(at(at(spec, "template"), "metadata"), "labels");
    JobOpts {
        pod,
        require_prefixed_labels: present(at(labels, NAME_LABEL)) && present(at(labels, UID_LABEL)),
        allow_mutable_scheduling: at(spec, "suspend").as_bool() == Some(true)
            && !present(at(at(old, "status"), "startTime")),
    }
}

/// `ValidateJob`.
pub fn validate_job(job: &Value) -> ErrorList {
    job_checks(job, &job_opts(job, None))
}

fn job_checks(job: &Value, opts: &JobOpts) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = at(job, "spec");
    // A missing selector without manualSelector means the strategy did not
    // generate one; upstream never sees that state, so skip the selector
    // checks rather than refuse every Job.
    let generated_missing =
        !present(at(spec, "selector")) && at(spec, "manualSelector").as_bool() != Some(true);
    if !generated_missing {
        generated_selector(&mut errs, job, opts.require_prefixed_labels);
    }
    errs.extend(job_spec(spec, "spec", &opts.pod));
    if !generated_missing {
        let sel = at(spec, "selector");
        if !present(sel) {
            errs.push(FieldError::required("spec.selector", ""));
        } else {
            errs.extend(selector::validate(
                sel,
                opts.pod.allow_invalid_label_value_in_selector,
                "spec.selector",
            ));
        }
        let template = at(spec, "template");
        if let Some(s) = selector::as_selector(sel)
            && !s.matches(at(at(template, "metadata"), "labels"))
        {
            errs.push(pod::selector_mismatch(template, "spec.template"));
        }
    }
    if str_of(spec, "completionMode") == "Indexed"
        && let Some(c) = int_of(spec, "completions")
        && c > 0
    {
        let name = str_of(at(job, "metadata"), "name");
        let host = format!("{name}-{}", c - 1);
        if !kaiser_apimachinery::validation::is_dns1123_label(&host).is_empty() {
            errs.push(FieldError::invalid(
                "metadata.name",
                name,
                format!("will not able to create pod with invalid DNS label: {host}"),
            ));
        }
    }
    errs
}

const MAX_PARALLELISM_INDEXED: i64 = 100_000;
const MAX_FAILED_INDEXES: i64 = 100_000;
const COMPLETIONS_SOFT_LIMIT: i64 = 100_000;
const PARALLELISM_LIMIT_HIGH: i64 = 10_000;
const MAX_FAILED_INDEXES_HIGH: i64 = 10_000;

/// `validateJobSpec` (everything but the selector).
fn job_spec(spec: &Value, path: &str, opts: &PodOpts) -> ErrorList {
    let mut errs = ErrorList::new();
    for f in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ] {
        nonneg_member(&mut errs, spec, f, path);
    }
    let parallelism = int_of(spec, "parallelism");
    let completions = int_of(spec, "completions");
    let per_index = int_of(spec, "backoffLimitPerIndex");
    let max_failed = int_of(spec, "maxFailedIndexes");
    if let Some(m) = max_failed {
        nonneg(&mut errs, m, &child(path, "maxFailedIndexes"));
        if per_index.is_none() {
            errs.push(FieldError::required(
                &child(path, "backoffLimitPerIndex"),
                "when maxFailedIndexes is specified",
            ));
        }
    }
    if let Some(mb) = opt_str(spec, "managedBy") {
        domain_prefixed_path(&mut errs, &child(path, "managedBy"), mb);
        if mb.len() > 63 {
            errs.push(FieldError::too_long(&child(path, "managedBy"), 63));
        }
    }
    let mode = opt_str(spec, "completionMode");
    if let Some(m) = mode {
        if m != "NonIndexed" && m != "Indexed" {
            errs.push(FieldError::not_supported(
                &child(path, "completionMode"),
                m,
                &["NonIndexed", "Indexed"],
            ));
        }
        if m == "Indexed" {
            if completions.is_none() {
                errs.push(FieldError::required(
                    &child(path, "completions"),
                    "when completion mode is Indexed",
                ));
            }
            if let Some(p) = parallelism
                && p > MAX_PARALLELISM_INDEXED
            {
                errs.push(FieldError::invalid(
                    &child(path, "parallelism"),
                    p,
                    format!("must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"),
                ));
            }
            if let (Some(c), Some(m)) = (completions, max_failed)
                && m > c
            {
                errs.push(FieldError::invalid(
                    &child(path, "maxFailedIndexes"),
                    m,
                    "must be less than or equal to completions",
                ));
            }
            if let Some(m) = max_failed
                && m > MAX_FAILED_INDEXES
            {
                errs.push(FieldError::invalid(
                    &child(path, "maxFailedIndexes"),
                    m,
                    format!("must be less than or equal to {MAX_FAILED_INDEXES}"),
                ));
            }
            if completions.is_some_and(|c| c > COMPLETIONS_SOFT_LIMIT) && per_index.is_some() {
                if max_failed.is_none() {
                    errs.push(FieldError::required(
                        &child(path, "maxFailedIndexes"),
                        format!(
                            "must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"
                        ),
                    ));
                }
                if let Some(p) = parallelism
                    && p > PARALLELISM_LIMIT_HIGH
                {
                    errs.push(FieldError::invalid(
                        &child(path, "parallelism"),
                        p,
                        format!("must be less than or equal to {PARALLELISM_LIMIT_HIGH} when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"),
                    ));
                }
                if let Some(m) = max_failed
                    && m > MAX_FAILED_INDEXES_HIGH
                {
                    errs.push(FieldError::invalid(
                        &child(path, "maxFailedIndexes"),
                        m,
                        format!("must be less than or equal to {MAX_FAILED_INDEXES_HIGH} when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"),
                    ));
                }
            }
        }
    }
    let indexed = mode == Some("Indexed");
    if !indexed {
        if let Some(b) = per_index {
            errs.push(FieldError::invalid(
                &child(path, "backoffLimitPerIndex"),
                b,
                "requires indexed completion mode",
            ));
        }
        if let Some(m) = max_failed {
            errs.push(FieldError::invalid(
                &child(path, "maxFailedIndexes"),
                m,
                "requires indexed completion mode",
            ));
        }
    }
    let pfp = at(spec, "podFailurePolicy");
    if present(pfp) {
        pod_failure_policy(&mut errs, spec, pfp, &child(path, "podFailurePolicy"));
    }
    let sp = at(spec, "successPolicy");
    if present(sp) {
        if !indexed {
            errs.push(invalid_raw(
                &child(path, "successPolicy"),
                gofmt::json(sp),
                "requires indexed completion mode",
            ));
        } else {
            success_policy(&mut errs, spec, sp, &child(path, "successPolicy"));
        }
    }
    if let Some(rp) = opt_str(spec, "podReplacementPolicy") {
        let p = child(path, "podReplacementPolicy");
        if present(pfp) {
            if rp != "Failed" {
                errs.push(FieldError::not_supported(&p, rp, &["Failed"]));
            }
        } else if rp != "Failed" && rp != "TerminatingOrFailed" {
            errs.push(FieldError::not_supported(
                &p,
                rp,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let tpath = child(path, "template");
    errs.extend(pod::validate_pod_template_spec(
        at(spec, "template"),
        &tpath,
        opts,
    ));
    let rp = str_of(at(at(spec, "template"), "spec"), "restartPolicy");
    let rpath = child(&tpath, "spec.restartPolicy");
    if rp == "Always" || rp.is_empty() {
        errs.push(FieldError::required(
            &rpath,
            "valid values: \"OnFailure\", \"Never\"",
        ));
    } else if rp != "OnFailure" && rp != "Never" {
        errs.push(FieldError::not_supported(
            &rpath,
            rp,
            &["OnFailure", "Never"],
        ));
    } else if present(pfp) && rp != "Never" {
        errs.push(FieldError::invalid(
            &rpath,
            rp,
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
    errs
}

/// `IsDomainPrefixedPath`.
fn domain_prefixed_path(errs: &mut ErrorList, path: &str, v: &str) {
    if v.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    let Some((host, rest)) = v
        .split_once('/')
        .filter(|(h, r)| !h.is_empty() && !r.is_empty())
    else {
        errs.push(FieldError::invalid(
            path,
            v,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        ));
        return;
    };
    super::dns_subdomain(errs, host, path);
    let ok = rest
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&c));
    if !ok {
        errs.push(FieldError::invalid(
            path,
            rest,
            "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')",
        ));
    }
}

fn pod_failure_policy(errs: &mut ErrorList, spec: &Value, pfp: &Value, path: &str) {
    let rules_path = child(path, "rules");
    let rules = arr(pfp, "rules");
    if rules.len() > 20 {
        errs.push(too_many(&rules_path, rules.len(), 20));
    }
    let template_spec = at(at(spec, "template"), "spec");
    let names: HashSet<&str> = ["containers", "initContainers"]
        .iter()
        .flat_map(|l| arr(template_spec, l).iter().map(|c| str_of(c, "name")))
        .collect();
    let actions = ["Count", "FailIndex", "FailJob", "Ignore"];
    for (i, rule) in rules.iter().enumerate() {
        let rp = idx(&rules_path, i);
        let ap = child(&rp, "action");
        match str_of(rule, "action") {
            "" => errs.push(FieldError::required(
                &ap,
                "valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
            )),
            "FailIndex" if !present(at(spec, "backoffLimitPerIndex")) => {
                errs.push(FieldError::invalid(
                    &ap,
                    "FailIndex",
                    "requires the backoffLimitPerIndex to be set",
                ));
            }
            a if !actions.contains(&a) => errs.push(FieldError::not_supported(&ap, a, &actions)),
            _ => {}
        }
        let oec = at(rule, "onExitCodes");
        let opc = arr(rule, "onPodConditions");
        if present(oec) {
            on_exit_codes(errs, oec, &child(&rp, "onExitCodes"), &names);
        }
        if !opc.is_empty() {
            let pp = child(&rp, "onPodConditions");
            if opc.len() > 20 {
                errs.push(too_many(&pp, opc.len(), 20));
            }
            for (j, pat) in opc.iter().enumerate() {
                let p = idx(&pp, j);
                qualified_name(errs, str_of(pat, "type"), &child(&p, "type"));
                let statuses = ["False", "True", "Unknown"];
                match str_of(pat, "status") {
                    "" => errs.push(FieldError::required(
                        &child(&p, "status"),
                        "valid values: [\"False\" \"True\" \"Unknown\"]",
                    )),
                    s if !statuses.contains(&s) => errs.push(FieldError::not_supported(
                        &child(&p, "status"),
                        s,
                        &statuses,
                    )),
                    _ => {}
                }
            }
        }
        if present(oec) && !opc.is_empty() {
            errs.push(invalid_omit(
                &rp,
                "specifying both OnExitCodes and OnPodConditions is not supported",
            ));
        }
        if !present(oec) && opc.is_empty() {
            errs.push(invalid_omit(
                &rp,
                "specifying one of OnExitCodes and OnPodConditions is required",
            ));
        }
    }
}

fn on_exit_codes(errs: &mut ErrorList, oec: &Value, path: &str, names: &HashSet<&str>) {
    let op = str_of(oec, "operator");
    let op_path = child(path, "operator");
    match op {
        "" => errs.push(FieldError::required(
            &op_path,
            "valid values: [\"In\" \"NotIn\"]",
        )),
        "In" | "NotIn" => {}
        other => errs.push(FieldError::not_supported(&op_path, other, &["In", "NotIn"])),
    }
    if let Some(c) = opt_str(oec, "containerName")
        && !names.contains(c)
    {
        errs.push(FieldError::invalid(
            &child(path, "containerName"),
            c,
            "must be one of the container or initContainer names in the pod template",
        ));
    }
    let vp = child(path, "values");
    let values: Vec<i64> = arr(oec, "values")
        .iter()
        .map(|v| as_int(v).unwrap_or(0))
        .collect();
    if values.is_empty() {
        errs.push(invalid_raw(
            &vp,
            gofmt::int_slice("int32", at(oec, "values")),
            "at least one value is required",
        ));
    } else if values.len() > 255 {
        errs.push(too_many(&vp, values.len(), 255));
    }
    let mut seen = HashSet::new();
    let mut ordered = true;
    for (j, v) in values.iter().enumerate() {
        if op == "In" && *v == 0 {
            errs.push(FieldError::invalid(
                &idx(&vp, j),
                *v,
                "must not be 0 for the In operator",
            ));
        }
        if !seen.insert(*v) {
            errs.push(FieldError::duplicate(&idx(&vp, j), *v));
        }
        if j > 0 && values[j - 1] > *v {
            ordered = false;
        }
    }
    if !ordered {
        errs.push(invalid_raw(
            &vp,
            gofmt::int_slice("int32", at(oec, "values")),
            "must be ordered",
        ));
    }
}

fn success_policy(errs: &mut ErrorList, spec: &Value, sp: &Value, path: &str) {
    let rules_path = child(path, "rules");
    let rules = arr(sp, "rules");
    if rules.is_empty() {
        errs.push(FieldError::required(
            &rules_path,
            "at least one rules must be specified when the successPolicy is specified",
        ));
    }
    if rules.len() > 20 {
        errs.push(too_many(&rules_path, rules.len(), 20));
    }
    let completions = int_of(spec, "completions").unwrap_or(0);
    for (i, rule) in rules.iter().enumerate() {
        let rp = idx(&rules_path, i);
        let count = int_of(rule, "succeededCount");
        let indexes = opt_str(rule, "succeededIndexes");
        if count.is_none() && indexes.is_none() {
            errs.push(FieldError::required(
                &rp,
                "at least one of succeededCount or succeededIndexes must be specified",
            ));
        }
        let mut total = 0;
        if let Some(s) = indexes {
            let ip = child(&rp, "succeededIndexes");
            if s.len() > 64 * 1024 {
                errs.push(FieldError::too_long(&ip, 64 * 1024));
            }
            match indexes_format(s, completions) {
                Ok(t) => total = t,
                Err(e) => errs.push(FieldError::invalid(
                    &ip,
                    s,
                    format!("error parsing succeededIndexes: {e}"),
                )),
            }
        }
        if let Some(c) = count {
            let cp = child(&rp, "succeededCount");
            nonneg(errs, c, &cp);
            if c > completions {
                errs.push(FieldError::invalid(
                    &cp,
                    c,
                    format!("must be less than or equal to {completions} (the number of specified completions)"),
                ));
            }
            if indexes.is_some() && c > total {
                errs.push(FieldError::invalid(
                    &cp,
                    c,
                    format!("must be less than or equal to {total} (the number of indexes in the specified succeededIndexes field)"),
                ));
            }
        }
    }
}

/// `validateIndexesFormat`: the count of indexes in "1,3-5,7".
fn indexes_format(s: &str, completions: i64) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let mut last: Option<i64> = None;
    let mut total = 0;
    for interval in s.split(',') {
        let (x, y) = index_interval(interval, completions)?;
        if let Some(l) = last
            && l >= x
        {
            return Err(format!("non-increasing order, previous: {l}, current: {x}"));
        }
        total += y - x + 1;
        last = Some(y);
    }
    Ok(total)
}

fn index_interval(s: &str, completions: i64) -> Result<(i64, i64), String> {
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() > 2 {
        return Err(format!(
            "the fragment {} violates the requirement that an index interval can have at most two parts separated by '-'",
            gofmt::quote(s)
        ));
    }
    let num = |p: &str| -> Result<i64, String> {
        let x: i64 = go_atoi(p).ok_or_else(|| {
            format!(
                "cannot convert string to integer for index: {}",
                gofmt::quote(p)
            )
        })?;
        if x >= completions {
            return Err(format!("too large index: {}", gofmt::quote(p)));
        }
        Ok(x)
    };
    let x = num(parts[0])?;
    if let Some(p) = parts.get(1) {
        let y = num(p)?;
        if x >= y {
            return Err(format!("non-increasing order, previous: {x}, current: {y}"));
        }
        return Ok((x, y));
    }
    Ok((x, x))
}

/// `strconv.Atoi`.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `ValidateJobUpdate` (with `ValidateJob` on the new object, as the
/// strategy runs both).
pub fn validate_job_update(new: &Value, old: &Value) -> ErrorList {
    let opts = job_opts(new, Some(old));
    let mut errs = job_checks(new, &opts);
    let (spec, old_spec) = (at(new, "spec"), at(old, "spec"));
    // Indexed jobs may scale completions with parallelism (ElasticIndexedJob).
    let (nc, oc) = (at(spec, "completions"), at(old_spec, "completions"));
    if str_of(spec, "completionMode") == "Indexed" {
        if !sem_eq(nc, oc)
            && let Some(c) = as_int(nc)
            && Some(c) != int_of(spec, "parallelism")
        {
            errs.push(FieldError::invalid(
                "spec.completions",
                c,
                "can only be modified in tandem with spec.parallelism",
            ));
        }
    } else if nc != oc {
        errs.push(FieldError::invalid(
            "spec.completions",
            nc.clone(),
            IMMUTABLE_MSG,
        ));
    }
    let (ns, os) = (at(spec, "selector"), at(old_spec, "selector"));
    if !sem_eq(ns, os) || ns.is_null() != os.is_null() {
        errs.push(invalid_raw(
            "spec.selector",
            gofmt::label_selector(ns),
            IMMUTABLE_MSG,
        ));
    }
    let mut template = at(spec, "template").clone();
    let mut old_template = at(old_spec, "template").clone();
    if opts.allow_mutable_scheduling {
        mask_scheduling(&mut old_template, &template);
    }
    if !sem_eq(&template, &old_template) {
        template = at(spec, "template").clone();
        errs.push(invalid_raw(
            "spec.template",
            gofmt::json(&template),
            IMMUTABLE_MSG,
        ));
    }
    for f in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        let (n, o) = (at(spec, f), at(old_spec, f));
        if !sem_eq(n, o) || n.is_null() != o.is_null() {
            let p = child("spec", f);
            match n {
                Value::Object(_) => errs.push(invalid_raw(&p, gofmt::json(n), IMMUTABLE_MSG)),
                other => errs.push(FieldError::invalid(&p, other.clone(), IMMUTABLE_MSG)),
            }
        }
    }
    errs
}

/// A suspended Job that never started may change its scheduling
/// directives: copy them from the new template into the old one.
fn mask_scheduling(old: &mut Value, new: &Value) {
    let new_spec = at(new, "spec");
    if let Some(o) = old.as_object_mut() {
        for f in ["metadata"] {
            let mut meta = o.get(f).cloned().unwrap_or(Value::Null);
            if let Some(m) = meta.as_object_mut() {
                for k in ["labels", "annotations"] {
                    match at(at(new, "metadata"), k) {
                        Value::Null => m.remove(k),
                        v => m.insert(k.into(), v.clone()),
                    };
                }
            }
            o.insert(f.into(), meta);
        }
        if let Some(s) = o.get_mut("spec").and_then(Value::as_object_mut) {
            for k in ["nodeSelector", "tolerations", "schedulingGates"] {
                match at(new_spec, k) {
                    Value::Null => s.remove(k),
                    v => s.insert(k.into(), v.clone()),
                };
            }
            let new_aff = at(new_spec, "affinity");
            let mut aff = s.get("affinity").cloned().unwrap_or(Value::Null);
            match (new_aff.is_null(), aff.as_object_mut()) {
                (true, Some(a)) => {
                    a.remove("nodeAffinity");
                    if a.is_empty() {
                        aff = Value::Null;
                    }
                }
                (false, Some(a)) => {
                    match at(new_aff, "nodeAffinity") {
                        Value::Null => a.remove("nodeAffinity"),
                        v => a.insert("nodeAffinity".into(), v.clone()),
                    };
                }
                (false, None) => {
                    let mut a = serde_json::Map::new();
                    if present(at(new_aff, "nodeAffinity")) {
                        a.insert("nodeAffinity".into(), at(new_aff, "nodeAffinity").clone());
                    }
                    aff = Value::Object(a);
                }
                (true, None) => {}
            }
            if aff.is_null() {
                s.remove("affinity");
            } else {
                s.insert("affinity".into(), aff);
            }
        }
    }
}

// ---- CronJob ----

/// `ValidateCronJobCreate`.
pub fn validate_cron_job(cj: &Value) -> ErrorList {
    let mut errs = cron_job_spec(at(cj, "spec"), None, &PodOpts::default());
    let name = str_of(at(cj, "metadata"), "name");
    if name.len() > 52 {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
    errs
}

/// `ValidateCronJobUpdate`.
pub fn validate_cron_job_update(new: &Value, old: &Value) -> ErrorList {
    let old_spec = at(old, "spec");
    let opts = PodOpts::for_spec(Some(at(
        at(at(at(old_spec, "jobTemplate"), "spec"), "template"),
        "spec",
    )));
    cron_job_spec(at(new, "spec"), Some(old_spec), &opts)
}

fn cron_job_spec(spec: &Value, old: Option<&Value>, opts: &PodOpts) -> ErrorList {
    let mut errs = ErrorList::new();
    let schedule = str_of(spec, "schedule");
    let tz = opt_str(spec, "timeZone");
    if schedule.is_empty() {
        errs.push(FieldError::required("spec.schedule", ""));
    } else {
        let allow_tz = old.is_some_and(|o| str_of(o, "schedule").contains("TZ"));
        if let Err(e) = parse_cron(schedule) {
            errs.push(FieldError::invalid("spec.schedule", schedule, e));
        }
        if allow_tz && schedule.contains("TZ") && tz.is_some() {
            errs.push(FieldError::invalid(
                "spec.schedule",
                schedule,
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            ));
        } else if !allow_tz && schedule.contains("TZ") {
            errs.push(FieldError::invalid(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    nonneg_member(&mut errs, spec, "startingDeadlineSeconds", "spec");
    if old.is_none_or(|o| opt_str(o, "timeZone") != tz) {
        time_zone(&mut errs, tz, "spec.timeZone");
    }
    super::enum_required(
        &mut errs,
        str_of(spec, "concurrencyPolicy"),
        "spec.concurrencyPolicy",
        &["Allow", "Forbid", "Replace"],
    );
    let jt = at(spec, "jobTemplate");
    let jspec = at(jt, "spec");
    errs.extend(job_spec(jspec, "spec.jobTemplate.spec", opts));
    if present(at(jspec, "selector")) {
        errs.push(invalid_raw(
            "spec.jobTemplate.spec.selector",
            gofmt::label_selector(at(jspec, "selector")),
            "`selector` will be auto-generated",
        ));
    }
    if at(jspec, "manualSelector").as_bool() == Some(true) {
        errs.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
    nonneg_member(&mut errs, spec, "successfulJobsHistoryLimit", "spec");
    nonneg_member(&mut errs, spec, "failedJobsHistoryLimit", "spec");
    errs
}

fn time_zone(errs: &mut ErrorList, tz: Option<&str>, path: &str) {
    let Some(tz) = tz else {
        return;
    };
    if tz.is_empty() {
        errs.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be nil or non-empty string",
        ));
        return;
    }
    let part_ok = |p: &str| {
        p != "."
            && p != ".."
            && !p.starts_with('-')
            && !p.is_empty()
            && p.len() <= 14
            && p.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-_+".contains(&c))
    };
    if !tz.split('/').all(part_ok) {
        errs.push(FieldError::invalid(
            path,
            tz,
            format!("unknown time zone {tz}"),
        ));
        return;
    }
    if tz.eq_ignore_ascii_case("Local") {
        errs.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
    if tz != "Local" && tz != "UTC" && super::tz::ZONES.binary_search(&tz).is_err() {
        errs.push(FieldError::invalid(
            path,
            tz,
            format!("unknown time zone {tz}"),
        ));
    }
}

// ---- cron schedules ----

struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// `cron.ParseStandard`: five fields or a descriptor; the error text is
/// upstream's.
pub fn parse_cron(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".into());
    }
    let mut spec = spec;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let Some(space) = spec.find(' ') else {
            return Err(format!("provided bad location {spec}: unknown time zone"));
        };
        let eq = spec.find('=').unwrap_or(0);
        let loc = &spec[eq + 1..space];
        if loc != "UTC"
            && loc != "Local"
            && !loc.is_empty()
            && super::tz::ZONES.binary_search(&loc).is_err()
        {
            return Err(format!(
                "provided bad location {loc}: unknown time zone {loc}"
            ));
        }
        spec = spec[space..].trim();
    }
    if spec.starts_with('@') {
        return descriptor(spec);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    for (f, b) in fields.iter().zip([&MINUTES, &HOURS, &DOM, &MONTHS, &DOW]) {
        for expr in f.split(',').filter(|e| !e.is_empty()) {
            cron_range(expr, b)?;
        }
    }
    Ok(())
}

fn descriptor(spec: &str) -> Result<(), String> {
    match spec {
        "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => {
            Ok(())
        }
        _ => match spec.strip_prefix("@every ") {
            Some(d) => go_duration(d)
                .map(|_| ())
                .map_err(|e| format!("failed to parse duration {spec}: {e}")),
            None => Err(format!("unrecognized descriptor: {spec}")),
        },
    }
}

fn cron_range(expr: &str, b: &Bounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_high.len() == 1;
    let (start, mut end);
    if low_high[0] == "*" || low_high[0] == "?" {
        start = b.min;
        end = b.max;
    } else {
        start = int_or_name(low_high[0], b)?;
        end = match low_high.len() {
            1 => start,
            2 => int_or_name(low_high[1], b)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let s = must_parse_int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            s
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        ));
    }
    if end > b.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

fn int_or_name(expr: &str, b: &Bounds) -> Result<u64, String> {
    let lower = expr.to_lowercase();
    if let Some((_, n)) = b.names.iter().find(|(name, _)| *name == lower) {
        return Ok(*n);
    }
    must_parse_int(expr)
}

fn must_parse_int(expr: &str) -> Result<u64, String> {
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {}: invalid syntax",
            gofmt::quote(expr)
        ));
    }
    let n: i64 = expr.parse().map_err(|_| {
        format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {}: value out of range",
            gofmt::quote(expr)
        )
    })?;
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {expr}"));
    }
    Ok(n.unsigned_abs())
}

/// `time.ParseDuration`'s syntax, with its errors.
fn go_duration(s: &str) -> Result<(), String> {
    let orig = s;
    let invalid = || format!("time: invalid duration {}", gofmt::quote(orig));
    let mut s = s.strip_prefix(['-', '+']).unwrap_or(s);
    if s == "0" {
        return Ok(());
    }
    if s.is_empty() {
        return Err(invalid());
    }
    while !s.is_empty() {
        // digits, then optionally '.' and more digits; at least one digit
        let int_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let mut num_end = int_end;
        let mut frac = 0;
        if s[int_end..].starts_with('.') {
            let rest = &s[int_end + 1..];
            frac = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            num_end = int_end + 1 + frac;
        }
        if int_end == 0 && frac == 0 {
            return Err(invalid());
        }
        s = &s[num_end..];
        let unit_end = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        let unit = &s[..unit_end];
        if unit.is_empty() {
            return Err(format!(
                "time: missing unit in duration {}",
                gofmt::quote(orig)
            ));
        }
        if !["ns", "us", "µs", "μs", "ms", "s", "m", "h"].contains(&unit) {
            return Err(format!(
                "time: unknown unit {} in duration {}",
                gofmt::quote(unit),
                gofmt::quote(orig)
            ));
        }
        s = &s[unit_end..];
    }
    Ok(())
}

#[cfg(test)]
mod tests;
