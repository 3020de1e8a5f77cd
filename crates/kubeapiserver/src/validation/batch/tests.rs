use super::*;
use crate::validation::testutil::{assert_errs, assert_has, lines};
use serde_json::json;

fn pod_spec(restart: &str) -> Value {
    json!({
        "containers": [{"name": "pi", "image": "perl:5.34.0",
            "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"],
            "resources": {}, "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
        "restartPolicy": restart, "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler"
    })
}

/// The `pi` Job from the docs, defaulted and with the selector the
/// strategy generates.
fn job() -> Value {
    job_named("pi")
}

fn job_named(name: &str) -> Value {
    let mut j = json!({"apiVersion": "batch/v1", "kind": "Job",
    "metadata": {"name": name, "namespace": "default",
        "uid": "0f4a5d7e-3b1c-4e4a-9d55-6f3e2b1a9c00"},
    "spec": {
        "template": {"metadata": {}, "spec": pod_spec("Never")},
        "backoffLimit": 4, "completions": 1, "parallelism": 1,
        "completionMode": "NonIndexed", "suspend": false,
        "podReplacementPolicy": "TerminatingOrFailed"
    }});
    generate_job_selector(&mut j);
    j
}

#[test]
fn generated_selector_and_labels() {
    let j = job();
    let uid = "0f4a5d7e-3b1c-4e4a-9d55-6f3e2b1a9c00";
    assert_eq!(
        j["spec"]["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
    );
    assert_eq!(
        j["spec"]["template"]["metadata"]["labels"],
        json!({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "pi",
            "controller-uid": uid, "job-name": "pi"})
    );
}

#[test]
fn valid_job() {
    let j = job();
    assert_errs(&validate_job(&j), &[]);
    assert_errs(&validate_job_update(&j, &j), &[]);
    let mut more = j.clone();
    more["spec"]["parallelism"] = json!(5);
    more["spec"]["backoffLimit"] = json!(10);
    assert_errs(&validate_job_update(&more, &j), &[]);
    // Before the strategy generated a selector there is nothing to match.
    let mut raw = j.clone();
    raw["spec"].as_object_mut().map(|s| s.remove("selector"));
    assert_errs(&validate_job(&raw), &[]);
}

#[test]
fn job_restart_policy() {
    let mut j = job();
    j["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    assert_errs(
        &validate_job(&j),
        &[
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
        ],
    );
    j["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
    j["spec"]["podFailurePolicy"] = json!({"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]});
    j["spec"]["podReplacementPolicy"] = json!("Failed");
    assert_errs(
        &validate_job(&j),
        &[
            "spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified",
        ],
    );
}

#[test]
fn job_counts_and_modes() {
    let mut j = job();
    j["spec"]["parallelism"] = json!(-1);
    j["spec"]["completions"] = json!(-2);
    j["spec"]["backoffLimit"] = json!(-3);
    j["spec"]["activeDeadlineSeconds"] = json!(-4);
    j["spec"]["completionMode"] = json!("Bogus");
    j["spec"]["backoffLimitPerIndex"] = json!(1);
    assert_errs(
        &validate_job(&j),
        &[
            "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
            "spec.completions: Invalid value: -2: must be greater than or equal to 0",
            "spec.activeDeadlineSeconds: Invalid value: -4: must be greater than or equal to 0",
            "spec.backoffLimit: Invalid value: -3: must be greater than or equal to 0",
            "spec.completionMode: Unsupported value: \"Bogus\": supported values: \"NonIndexed\", \"Indexed\"",
            "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
        ],
    );
    let mut j = job();
    j["spec"]["completionMode"] = json!("Indexed");
    j["spec"].as_object_mut().map(|s| s.remove("completions"));
    j["spec"]["podReplacementPolicy"] = json!("Sometimes");
    assert_errs(
        &validate_job(&j),
        &[
            "spec.completions: Required value: when completion mode is Indexed",
            "spec.podReplacementPolicy: Unsupported value: \"Sometimes\": supported values: \"Failed\", \"TerminatingOrFailed\"",
        ],
    );
}

#[test]
fn job_pod_failure_and_success_policies() {
    let mut j = job();
    j["spec"]["podFailurePolicy"] = json!({"rules": [
        {"action": "Explode", "onExitCodes": {"operator": "In", "values": [0, 3, 2], "containerName": "nope"}},
        {"action": "Ignore"}
    ]});
    j["spec"]["successPolicy"] = json!({"rules": [{"succeededCount": 1}]});
    assert_errs(
        &validate_job(&j),
        &[
            "spec.podFailurePolicy.rules[0].action: Unsupported value: \"Explode\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\"",
            "spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: \"nope\": must be one of the container or initContainer names in the pod template",
            "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
            "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{0, 3, 2}: must be ordered",
            "spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
            "spec.successPolicy: Invalid value: {\"rules\":[{\"succeededCount\":1}]}: requires indexed completion mode",
            "spec.podReplacementPolicy: Unsupported value: \"TerminatingOrFailed\": supported values: \"Failed\"",
        ],
    );
    let mut j = job();
    j["spec"]["completionMode"] = json!("Indexed");
    j["spec"]["completions"] = json!(3);
    j["spec"]["successPolicy"] = json!({"rules": [
        {"succeededIndexes": "0-1,1", "succeededCount": 5}, {}
    ]});
    assert_errs(
        &validate_job(&j),
        &[
            "spec.successPolicy.rules[0].succeededIndexes: Invalid value: \"0-1,1\": error parsing succeededIndexes: non-increasing order, previous: 1, current: 1",
            "spec.successPolicy.rules[0].succeededCount: Invalid value: 5: must be less than or equal to 3 (the number of specified completions)",
            "spec.successPolicy.rules[0].succeededCount: Invalid value: 5: must be less than or equal to 0 (the number of indexes in the specified succeededIndexes field)",
            "spec.successPolicy.rules[1]: Required value: at least one of succeededCount or succeededIndexes must be specified",
        ],
    );
}

#[test]
fn job_selectors() {
    // The generated labels must stay on the template.
    let mut j = job();
    j["spec"]["template"]["metadata"]["labels"]
        .as_object_mut()
        .map(|l| l.remove("batch.kubernetes.io/job-name"));
    j["spec"]["template"]["metadata"]["labels"]["job-name"] = json!("other");
    assert_errs(
        &validate_job(&j),
        &[
            "spec.template.metadata.labels[job-name]: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"0f4a5d7e-3b1c-4e4a-9d55-6f3e2b1a9c00\", \"controller-uid\":\"0f4a5d7e-3b1c-4e4a-9d55-6f3e2b1a9c00\", \"job-name\":\"other\"}: must be 'pi'",
            "spec.template.metadata.labels[batch.kubernetes.io/job-name]: Required value: must be 'pi'",
        ],
    );
    // A manual selector must match the template.
    let mut j = job();
    j["spec"]["manualSelector"] = json!(true);
    j["spec"]["selector"] = json!({"matchLabels": {"app": "pi"}});
    assert_errs(
        &validate_job(&j),
        &[
            "spec.template.metadata.labels: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"0f4a5d7e-3b1c-4e4a-9d55-6f3e2b1a9c00\", \"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"0f4a5d7e-3b1c-4e4a-9d55-6f3e2b1a9c00\", \"job-name\":\"pi\"}: `selector` does not match template `labels`",
        ],
    );
    // A hand-written selector without manualSelector is refused.
    let mut j = job();
    j["spec"]["selector"] = json!({"matchLabels": {"app": "pi"}});
    j["spec"]["template"]["metadata"]["labels"]["app"] = json!("pi");
    assert_errs(
        &validate_job(&j),
        &[
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"pi\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated",
        ],
    );
    // Any selector that selects the generated labels is accepted.
    j["spec"]["selector"] = json!({"matchLabels": {"job-name": "pi"}});
    assert_errs(&validate_job(&j), &[]);
}

#[test]
fn job_update_immutability() {
    let old = job();
    let mut j = old.clone();
    j["spec"]["completions"] = json!(2);
    assert_errs(
        &validate_job_update(&j, &old),
        &["spec.completions: Invalid value: 2: field is immutable"],
    );
    let mut j = old.clone();
    j["spec"]["completionMode"] = json!("Indexed");
    assert_has(
        &validate_job_update(&j, &old),
        "spec.completionMode: Invalid value: \"Indexed\": field is immutable",
    );
    let mut j = old.clone();
    j["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:5.36");
    let errs = validate_job_update(&j, &old);
    let l = lines(&errs);
    assert_eq!(l.len(), 1, "{l:#?}");
    assert!(
        l[0].starts_with("spec.template: Invalid value: ")
            && l[0].ends_with(": field is immutable")
    );

    // A suspended Job that never ran may change its scheduling directives...
    let mut old = job();
    old["spec"]["suspend"] = json!(true);
    let mut j = old.clone();
    j["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    j["spec"]["template"]["metadata"]["annotations"] = json!({"a": "b"});
    assert_errs(&validate_job_update(&j, &old), &[]);
    // ...but not once it has started.
    old["status"] = json!({"startTime": "2024-01-01T00:00:00Z"});
    assert_eq!(lines(&validate_job_update(&j, &old)).len(), 1);

    // Elastic indexed jobs scale completions together with parallelism.
    let mut old = job();
    old["spec"]["completionMode"] = json!("Indexed");
    old["spec"]["completions"] = json!(3);
    old["spec"]["parallelism"] = json!(3);
    let mut j = old.clone();
    j["spec"]["completions"] = json!(5);
    j["spec"]["parallelism"] = json!(5);
    assert_errs(&validate_job_update(&j, &old), &[]);
    j["spec"]["parallelism"] = json!(4);
    assert_errs(
        &validate_job_update(&j, &old),
        &[
            "spec.completions: Invalid value: 5: can only be modified in tandem with spec.parallelism",
        ],
    );
}

#[test]
fn indexed_job_pod_hostnames() {
    let long = "a".repeat(61);
    let mut j = job_named(&long);
    j["spec"]["completionMode"] = json!("Indexed");
    j["spec"]["completions"] = json!(11);
    assert_errs(
        &validate_job(&j),
        &[&format!(
            "metadata.name: Invalid value: \"{long}\": will not able to create pod with invalid DNS label: {long}-10"
        )],
    );
    // Ten pods fit: the last hostname is 63 characters long.
    j["spec"]["completions"] = json!(10);
    assert_errs(&validate_job(&j), &[]);
}

/// The `hello` CronJob from the docs, defaulted.
fn cron_job() -> Value {
    json!({"apiVersion": "batch/v1", "kind": "CronJob",
    "metadata": {"name": "hello", "namespace": "default"},
    "spec": {
        "schedule": "* * * * *",
        "concurrencyPolicy": "Allow", "suspend": false,
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
        "jobTemplate": {"metadata": {}, "spec": {"template": {"metadata": {}, "spec": {
            "containers": [{"name": "hello", "image": "busybox:1.28",
                "command": ["/bin/sh", "-c", "date; echo Hello from the Kubernetes cluster"],
                "resources": {}, "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "OnFailure", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler"
        }}}}
    }})
}

#[test]
fn valid_cron_job() {
    let c = cron_job();
    assert_errs(&validate_cron_job(&c), &[]);
    assert_errs(&validate_cron_job_update(&c, &c), &[]);
    for (schedule, tz) in [
        ("@hourly", None),
        ("*/15 9-17 * * mon-fri", Some("Europe/Berlin")),
        ("0 0 1 jan,jul sun", Some("America/New_York")),
        ("@every 1h30m", Some("Etc/UTC")),
        ("0 0 * * ?", Some("UTC")),
    ] {
        let mut c = cron_job();
        c["spec"]["schedule"] = json!(schedule);
        if let Some(tz) = tz {
            c["spec"]["timeZone"] = json!(tz);
        }
        assert_errs(&validate_cron_job(&c), &[]);
    }
}

#[test]
fn cron_job_errors() {
    let mut c = cron_job();
    c["metadata"]["name"] = json!("a".repeat(53));
    c["spec"]["schedule"] = json!("bogus");
    c["spec"]["concurrencyPolicy"] = json!("Sometimes");
    c["spec"]["startingDeadlineSeconds"] = json!(-1);
    c["spec"]["successfulJobsHistoryLimit"] = json!(-1);
    c["spec"]["timeZone"] = json!("Mars/Olympus_Mons");
    c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    c["spec"]["jobTemplate"]["spec"]["selector"] = json!({"matchLabels": {"a": "b"}});
    c["spec"]["jobTemplate"]["spec"]["manualSelector"] = json!(true);
    assert_errs(
        &validate_cron_job(&c),
        &[
            "spec.schedule: Invalid value: \"bogus\": expected exactly 5 fields, found 1: [bogus]",
            "spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
            "spec.timeZone: Invalid value: \"Mars/Olympus_Mons\": unknown time zone Mars/Olympus_Mons",
            "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
            "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
            "spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated",
            "spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: \"nil\", \"false\"",
            "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
            &format!(
                "metadata.name: Invalid value: \"{}\": must be no more than 52 characters",
                "a".repeat(53)
            ),
        ],
    );
}

#[test]
fn cron_job_time_zones() {
    let mut c = cron_job();
    c["spec"]["schedule"] = json!("CRON_TZ=UTC 0 * * * *");
    assert_errs(
        &validate_cron_job(&c),
        &[
            "spec.schedule: Invalid value: \"CRON_TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ],
    );
    // Objects created before the rule keep working...
    assert_errs(&validate_cron_job_update(&c, &c), &[]);
    // ...but may not add the field on top.
    let mut both = c.clone();
    both["spec"]["timeZone"] = json!("UTC");
    assert_errs(
        &validate_cron_job_update(&both, &c),
        &[
            "spec.schedule: Invalid value: \"CRON_TZ=UTC 0 * * * *\": cannot use both timeZone field and TZ or CRON_TZ in schedule",
        ],
    );
    for (tz, msg) in [
        ("", "timeZone must be nil or non-empty string"),
        (
            "Local",
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ),
        ("../etc/passwd", "unknown time zone ../etc/passwd"),
        (
            "America/Not_A_Real_City",
            "unknown time zone America/Not_A_Real_City",
        ),
    ] {
        let mut c = cron_job();
        c["spec"]["timeZone"] = json!(tz);
        assert_errs(
            &validate_cron_job(&c),
            &[&format!("spec.timeZone: Invalid value: {tz:?}: {msg}")],
        );
    }
    // An unchanged (even invalid) zone is not checked again on update.
    let mut old = cron_job();
    old["spec"]["timeZone"] = json!("Old/Zone");
    assert_errs(&validate_cron_job_update(&old, &old), &[]);
}

#[test]
fn cron_schedules() {
    for ok in [
        "* * * * *",
        "0 0 1 1 *",
        "*/5 * * * *",
        "0 22 * * 1-5",
        "15 14 1 * *",
        "0 0 * JAN,Jul SUN",
        "5/10 * * * *",
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@every 90s",
        "@every 1.5h",
        "TZ=Europe/Paris 0 9 * * *",
    ] {
        assert_eq!(parse_cron(ok), Ok(()), "{ok}");
    }
    for (bad, msg) in [
        ("", "empty spec string"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        (
            "* * * * * *",
            "expected exactly 5 fields, found 6: [* * * * * *]",
        ),
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("* 24 * * *", "end of range (24) above maximum (23): 24"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        (
            "5-1 * * * *",
            "beginning of range (5) beyond end of range (1): 5-1",
        ),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("1/2/3 * * * *", "too many slashes: 1/2/3"),
        (
            "*/0 * * * *",
            "step of range should be a positive number: */0",
        ),
        (
            "x * * * *",
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            "-1 * * * *",
            "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax",
        ),
        (
            "* * * foo *",
            "failed to parse int from foo: strconv.Atoi: parsing \"foo\": invalid syntax",
        ),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        (
            "@every xyz",
            "failed to parse duration @every xyz: time: invalid duration \"xyz\"",
        ),
        (
            "@every 5",
            "failed to parse duration @every 5: time: missing unit in duration \"5\"",
        ),
        (
            "@every 5y",
            "failed to parse duration @every 5y: time: unknown unit \"y\" in duration \"5y\"",
        ),
        (
            "TZ=Mars/Base 0 * * * *",
            "provided bad location Mars/Base: unknown time zone Mars/Base",
        ),
    ] {
        assert_eq!(parse_cron(bad), Err(msg.to_string()), "{bad}");
    }
}
