//! batch/v1: jobs and cron jobs, and the job strategy's selector generation.

use serde_json::{Map, Value};

use super::core::template_pod_spec;
use super::{child, child_or_new, items, len_zero, root, set_ptr, set_str, unset};

pub(super) fn job(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    // A job without completions and parallelism runs one pod once.
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".into(), Value::from(1));
    }
    set_ptr(spec, "parallelism", 1);
    let backoff = if unset(spec, "backoffLimitPerIndex") {
        6
    } else {
        i64::from(i32::MAX)
    };
    set_ptr(spec, "backoffLimit", backoff);
    set_ptr(spec, "completionMode", "NonIndexed");
    set_ptr(spec, "suspend", false);
    let replacement = if unset(spec, "podFailurePolicy") {
        "TerminatingOrFailed"
    } else {
        "Failed"
    };
    set_ptr(spec, "podReplacementPolicy", replacement);
    set_ptr(spec, "manualSelector", false);
    job_spec_nested(spec);
    // The job takes its pod template's labels when it has none.
    let labels = template_labels(spec);
    if let Some(labels) = labels.filter(|l| !l.is_empty())
        && let Some(meta) = child_or_new(o, "metadata")
        && len_zero(meta, "labels")
    {
        meta.insert("labels".into(), Value::Object(labels));
    }
}

/// What any job spec gets, also inside a cron job's template.
fn job_spec_nested(spec: &mut Map<String, Value>) {
    if let Some(pfp) = child(spec, "podFailurePolicy") {
        for rule in items(pfp, "rules") {
            for pattern in items(rule, "onPodConditions") {
                set_str(pattern, "status", "True");
            }
        }
    }
    template_pod_spec(spec);
}

fn template_labels(spec: &Map<String, Value>) -> Option<Map<String, Value>> {
    spec.get("template")?
        .get("metadata")?
        .get("labels")?
        .as_object()
        .cloned()
}

pub(super) fn cron_job(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    set_str(spec, "concurrencyPolicy", "Allow");
    set_ptr(spec, "suspend", false);
    set_ptr(spec, "successfulJobsHistoryLimit", 3);
    set_ptr(spec, "failedJobsHistoryLimit", 1);
    // The job template's spec gets only the nested defaults, not the Job's.
    if let Some(jt) = child_or_new(spec, "jobTemplate")
        && let Some(js) = child_or_new(jt, "spec")
    {
        job_spec_nested(js);
    }
}

/// Upstream's job strategy on create, unless `spec.manualSelector` is true:
/// labels the pod template with the job's name and `uid` (legacy and
/// `batch.kubernetes.io/` keys; values already there are kept) and selects
/// on `batch.kubernetes.io/controller-uid`.
///
/// Upstream's defaulting hands the job the *same* label map as its template
/// when the job has none, so the generated labels show on the job too; here
/// that is the case when the job's labels are empty or equal the template's.
/// Call it after the defaulter, before validation.
pub fn job_generate_selector(obj: &mut Value, uid: &str) {
    let Some(o) = root(obj) else { return };
    let name = o
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let job_labels = o
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .filter(|l| !l.is_null())
        .cloned();
    let Some(spec) = child_or_new(o, "spec") else {
        return;
    };
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let before = template_labels(spec);
    let shared = match (&job_labels, &before) {
        (None, _) => true,
        (Some(Value::Object(j)), _) if j.is_empty() => true,
        (Some(Value::Object(j)), Some(t)) => j == t,
        _ => false,
    };
    let Some(labels) = child_or_new(spec, "template")
        .and_then(|t| child_or_new(t, "metadata"))
        .and_then(|m| child_or_new(m, "labels"))
    else {
        return;
    };
    for key in ["job-name", "batch.kubernetes.io/job-name"] {
        labels
            .entry(key)
            .or_insert_with(|| Value::from(name.as_str()));
    }
    for key in ["controller-uid", "batch.kubernetes.io/controller-uid"] {
        labels.entry(key).or_insert_with(|| Value::from(uid));
    }
    let after = labels.clone();
    if let Some(ml) = child_or_new(spec, "selector").and_then(|s| child_or_new(s, "matchLabels")) {
        ml.entry("batch.kubernetes.io/controller-uid")
            .or_insert_with(|| Value::from(uid));
    }
    if shared && let Some(meta) = child_or_new(o, "metadata") {
        meta.insert("labels".into(), Value::Object(after));
    }
}

#[cfg(test)]
mod tests {
    use super::job_generate_selector;
    use serde_json::{Value, json};

    fn run(kind: &str, obj: Value) -> Value {
        super::super::run_twice("batch", "v1", kind, obj)
    }

    fn defaulted_pod_spec() -> Value {
        json!({
            "containers": [{"name": "pi", "image": "perl:5.34.0", "imagePullPolicy": "IfNotPresent",
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "securityContext": {},
            "schedulerName": "default-scheduler"
        })
    }

    #[test]
    fn job() {
        let got = run(
            "Job",
            json!({"metadata": {"name": "pi"}, "spec": {"template": {"spec": {
                "containers": [{"name": "pi", "image": "perl:5.34.0"}], "restartPolicy": "Never"}}}}),
        );
        assert_eq!(
            got,
            json!({"metadata": {"name": "pi"}, "spec": {
                "completions": 1,
                "parallelism": 1,
                "backoffLimit": 6,
                "completionMode": "NonIndexed",
                "suspend": false,
                "podReplacementPolicy": "TerminatingOrFailed",
                "manualSelector": false,
                "template": {"spec": defaulted_pod_spec()}
            }})
        );
    }

    #[test]
    fn job_variants() {
        // Parallelism alone leaves completions unset.
        let got = run("Job", json!({"spec": {"parallelism": 0}}));
        assert_eq!(got["spec"].get("completions"), None);
        assert_eq!(got["spec"]["parallelism"], json!(0));
        // Completions alone: parallelism 1.
        let got = run("Job", json!({"spec": {"completions": 5}}));
        assert_eq!(got["spec"]["parallelism"], json!(1));
        // Per-index backoff lifts the global limit; a failure policy
        // replaces only failed pods and its patterns default to True.
        let got = run(
            "Job",
            json!({"spec": {"completionMode": "Indexed", "completions": 3, "backoffLimitPerIndex": 1,
                "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}}),
        );
        assert_eq!(got["spec"]["backoffLimit"], json!(2147483647));
        assert_eq!(got["spec"]["podReplacementPolicy"], json!("Failed"));
        assert_eq!(got["spec"]["completionMode"], json!("Indexed"));
        assert_eq!(
            got["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0],
            json!({"type": "DisruptionTarget", "status": "True"})
        );
        // Template labels become the job's when it has none.
        let got = run(
            "Job",
            json!({"spec": {"template": {"metadata": {"labels": {"app": "x"}}}}}),
        );
        assert_eq!(got["metadata"]["labels"], json!({"app": "x"}));
        let got = run(
            "Job",
            json!({"metadata": {"labels": {"own": "y"}}, "spec": {"suspend": true, "manualSelector": true,
                "template": {"metadata": {"labels": {"app": "x"}}}}}),
        );
        assert_eq!(got["metadata"]["labels"], json!({"own": "y"}));
        assert_eq!(got["spec"]["suspend"], json!(true));
        assert_eq!(got["spec"]["manualSelector"], json!(true));
    }

    #[test]
    fn selector_generation() {
        let mut job = run(
            "Job",
            json!({"metadata": {"name": "pi"}, "spec": {"template": {"metadata": {"labels": {"app": "x"}}}}}),
        );
        job_generate_selector(&mut job, "u-1");
        let labels = json!({"app": "x", "job-name": "pi", "batch.kubernetes.io/job-name": "pi",
            "controller-uid": "u-1", "batch.kubernetes.io/controller-uid": "u-1"});
        assert_eq!(job["metadata"]["labels"], labels);
        assert_eq!(job["spec"]["template"]["metadata"]["labels"], labels);
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        // No template labels at all: the job gets the generated ones.
        let mut job = json!({"metadata": {"name": "a"}, "spec": {}});
        job_generate_selector(&mut job, "u-2");
        assert_eq!(
            job["metadata"]["labels"],
            json!({"job-name": "a", "batch.kubernetes.io/job-name": "a",
                "controller-uid": "u-2", "batch.kubernetes.io/controller-uid": "u-2"})
        );
        // Own job labels stay; given template labels and selector stay.
        let mut job = json!({"metadata": {"name": "a", "labels": {"team": "t"}}, "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "given"}},
            "template": {"metadata": {"labels": {"job-name": "other"}}}}});
        job_generate_selector(&mut job, "u-3");
        assert_eq!(job["metadata"]["labels"], json!({"team": "t"}));
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"]["job-name"],
            json!("other")
        );
        assert_eq!(
            job["spec"]["selector"]["matchLabels"],
            json!({"batch.kubernetes.io/controller-uid": "given"})
        );
        // A manual selector is left alone.
        let manual = json!({"metadata": {"name": "m"}, "spec": {"manualSelector": true,
            "selector": {"matchLabels": {"a": "b"}}}});
        let mut job = manual.clone();
        job_generate_selector(&mut job, "u-4");
        assert_eq!(job, manual);
        // Odd shapes do not panic.
        for mut odd in [
            json!(1),
            json!({"spec": 2}),
            json!({"spec": {"template": "t"}}),
            json!({"metadata": 3}),
        ] {
            let before = odd.clone();
            job_generate_selector(&mut odd, "u");
            if !before.is_object() {
                assert_eq!(odd, before);
            }
        }
    }

    #[test]
    fn cron_job() {
        let got = run(
            "CronJob",
            json!({"spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "pi", "image": "perl:5.34.0"}], "restartPolicy": "Never"}}}}}}),
        );
        assert_eq!(
            got,
            json!({"spec": {
                "schedule": "*/1 * * * *",
                "concurrencyPolicy": "Allow",
                "suspend": false,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
                "jobTemplate": {"spec": {"template": {"spec": defaulted_pod_spec()}}}
            }})
        );
        let got = run(
            "CronJob",
            json!({"spec": {"concurrencyPolicy": "Forbid", "suspend": true, "successfulJobsHistoryLimit": 0,
                "failedJobsHistoryLimit": 0}}),
        );
        assert_eq!(got["spec"]["concurrencyPolicy"], json!("Forbid"));
        assert_eq!(got["spec"]["suspend"], json!(true));
        assert_eq!(got["spec"]["successfulJobsHistoryLimit"], json!(0));
        assert_eq!(got["spec"]["failedJobsHistoryLimit"], json!(0));
    }
}
