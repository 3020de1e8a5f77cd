"""The official Python client (the `kubernetes` package) against kaiser.

Run by the e2e tests in `python_client.rs` as `python3 python_client.py
<kubeconfig> [expired]`. Each check prints `ok <name>`; the first failed
assertion or unexpected API error ends the run non-zero. `expired` runs only
the check that needs a server compacting every second.
"""

import sys
import threading
import time

from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException

NS = "py"


def expect_status(code, fn, *args, **kwargs):
    """Calls fn, which must fail with an ApiException of `code`."""
    try:
        fn(*args, **kwargs)
    except ApiException as e:
        assert e.status == code, f"wanted {code}, got {e.status}: {e.body}"
        return e
    raise AssertionError(f"wanted a {code}, the call succeeded")


def configmap(name, **data):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels={"suite": "python"}),
        data=data,
    )


def crud(core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    made = core.create_namespaced_config_map(NS, configmap("a", k="1"))
    assert made.metadata.uid and made.metadata.resource_version
    assert made.metadata.creation_timestamp.tzinfo is not None
    got = core.read_namespaced_config_map("a", NS)
    assert got.data == {"k": "1"}, got.data
    # A dict body is sent as a strategic merge patch.
    patched = core.patch_namespaced_config_map("a", NS, {"data": {"j": "2"}})
    assert patched.data == {"k": "1", "j": "2"}, patched.data
    # A write with a stale resourceVersion is a 409 Conflict.
    got.data["k"] = "stale"
    e = expect_status(409, core.replace_namespaced_config_map, "a", NS, got)
    assert '"reason":"Conflict"' in e.body.replace(" ", ""), e.body
    expect_status(409, core.create_namespaced_config_map, NS, configmap("a"))
    expect_status(404, core.read_namespaced_config_map, "missing", NS)
    bad = configmap("Not_A_Name")
    e = expect_status(422, core.create_namespaced_config_map, NS, bad)
    assert "metadata.name" in e.body, e.body
    print("ok crud")


def lists(core):
    for i in range(5):
        core.create_namespaced_config_map(NS, configmap(f"page-{i}", i=str(i)))
    names, token = [], None
    while True:
        page = core.list_namespaced_config_map(
            NS, label_selector="suite=python", limit=2, _continue=token
        )
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert names == ["a"] + [f"page-{i}" for i in range(5)], names
    some = core.list_namespaced_config_map(NS, field_selector="metadata.name=page-3")
    assert [c.metadata.name for c in some.items] == ["page-3"]
    expect_status(400, core.list_namespaced_config_map, NS, label_selector="a in (")
    print("ok lists")


def watches(core):
    rv = core.list_namespaced_config_map(NS).metadata.resource_version
    names = ["w-0", "w-1", "w-2"]

    def create_later():
        time.sleep(0.5)
        for n in names:
            core.create_namespaced_config_map(NS, configmap(n))

    creator = threading.Thread(target=create_later)
    creator.start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(
        core.list_namespaced_config_map,
        NS,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=20,
    ):
        if ev["type"] == "ADDED":
            seen.append(ev["object"].metadata.name)
        if len(seen) == len(names):
            w.stop()
    creator.join()
    assert seen == names, seen
    print("ok watch")

    # A streaming list: the existing objects, then the bookmark that ends them.
    existing = sorted(c.metadata.name for c in core.list_namespaced_config_map(NS).items)
    w = watch.Watch()
    initial, end = [], None
    for ev in w.stream(
        core.list_namespaced_config_map,
        NS,
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        allow_watch_bookmarks=True,
        timeout_seconds=20,
    ):
        if ev["type"] == "ADDED":
            initial.append(ev["raw_object"]["metadata"]["name"])
        elif ev["type"] == "BOOKMARK":
            annotations = ev["raw_object"]["metadata"].get("annotations") or {}
            if annotations.get("k8s.io/initial-events-end") == "true":
                end = ev["raw_object"]["metadata"]["resourceVersion"]
                w.stop()
    assert sorted(initial) == existing and "w-2" in initial, initial
    assert end, "no initial-events-end bookmark"
    print("ok watch-list")


def deployments(apps):
    d = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="web", image="nginx")]
                ),
            ),
        ),
    )
    made = apps.create_namespaced_deployment(NS, d)
    # Upstream's defaults come back, typed.
    assert made.spec.replicas == 1, made.spec.replicas
    assert made.spec.strategy.type == "RollingUpdate"
    assert made.spec.revision_history_limit == 10
    c = made.spec.template.spec.containers[0]
    assert c.termination_message_path == "/dev/termination-log"
    assert c.image_pull_policy == "Always"
    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert scale.spec.replicas == 1
    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 3}})
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 3
    print("ok deployments")


def custom_resources(api_client):
    ext = client.ApiextensionsV1Api(api_client)
    schema = client.V1JSONSchemaProps(
        type="object",
        properties={
            "spec": client.V1JSONSchemaProps(
                type="object",
                properties={"size": client.V1JSONSchemaProps(type="string")},
            )
        },
    )
    crd = client.V1CustomResourceDefinition(
        metadata=client.V1ObjectMeta(name="gadgets.example.com"),
        spec=client.V1CustomResourceDefinitionSpec(
            group="example.com",
            scope="Namespaced",
            names=client.V1CustomResourceDefinitionNames(
                plural="gadgets", singular="gadget", kind="Gadget"
            ),
            versions=[
                client.V1CustomResourceDefinitionVersion(
                    name="v1",
                    served=True,
                    storage=True,
                    schema=client.V1CustomResourceValidation(open_apiv3_schema=schema),
                )
            ],
        ),
    )
    ext.create_custom_resource_definition(crd)
    deadline = time.time() + 20
    while time.time() < deadline:
        got = ext.read_custom_resource_definition("gadgets.example.com")
        conds = {c.type: c.status for c in (got.status.conditions or [])}
        if conds.get("Established") == "True":
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the CRD was not established in 20 s")
    custom = client.CustomObjectsApi(api_client)
    body = {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1"},
        "spec": {"size": "L", "unknown": 1},
    }
    made = custom.create_namespaced_custom_object("example.com", "v1", NS, "gadgets", body)
    # Unknown fields are pruned by the structural schema.
    assert made["spec"] == {"size": "L"}, made["spec"]
    listed = custom.list_namespaced_custom_object("example.com", "v1", NS, "gadgets")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["g1"]
    print("ok custom resources")


def dynamic_client(api_client):
    dyn = dynamic.DynamicClient(api_client)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    got = cms.get(name="a", namespace=NS)
    assert got.data.k == "1", got
    gadgets = dyn.resources.get(api_version="example.com/v1", kind="Gadget")
    assert gadgets.get(namespace=NS).items[0].metadata.name == "g1"
    print("ok dynamic")


def deletes(core):
    core.delete_namespaced_config_map("a", NS)
    expect_status(404, core.read_namespaced_config_map, "a", NS)
    core.delete_collection_namespaced_config_map(NS, label_selector="suite=python")
    left = core.list_namespaced_config_map(NS, label_selector="suite=python")
    assert left.items == [], [c.metadata.name for c in left.items]
    print("ok deletes")


def expired(core):
    """A watch from a compacted revision ends with 410 Expired, and the
    client recovers as its documentation says: list again, watch from there."""
    rv = core.create_namespaced_config_map("default", configmap("old")).metadata.resource_version
    for i in range(3):
        core.patch_namespaced_config_map("old", "default", {"data": {"i": str(i)}})
    deadline = time.time() + 20
    while True:
        try:
            # While the history is there, this replays it and times out.
            for _ in watch.Watch().stream(
                core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1
            ):
                pass
        except ApiException as e:
            assert e.status == 410, e
            assert "too old resource version" in e.reason, e.reason
            break
        assert time.time() < deadline, "no 410 in 20 s"
        time.sleep(0.5)
    listed = core.list_namespaced_config_map("default")

    def create_later():
        time.sleep(0.5)
        core.create_namespaced_config_map("default", configmap("new"))

    # Joined before returning: a daemon thread still inside a request when
    # the interpreter shuts down can abort it (SIGABRT after "all passed").
    creator = threading.Thread(target=create_later)
    creator.start()
    w = watch.Watch()
    for ev in w.stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=listed.metadata.resource_version,
        timeout_seconds=20,
    ):
        if ev["type"] == "ADDED" and ev["object"].metadata.name == "new":
            w.stop()
            break
    else:
        raise AssertionError("the watch after the relist did not see the new object")
    creator.join()
    print("ok expired")


def main():
    config.load_kube_config(config_file=sys.argv[1])
    api_client = client.ApiClient()
    core = client.CoreV1Api(api_client)
    if sys.argv[2:] == ["expired"]:
        expired(core)
        # Closed here, not left to interpreter shutdown (its thread pool).
        api_client.close()
        print("all passed")
        return
    version = client.VersionApi(api_client).get_code()
    assert version.major == "1" and version.minor.startswith("33"), version
    crud(core)
    lists(core)
    watches(core)
    deployments(client.AppsV1Api(api_client))
    custom_resources(api_client)
    dynamic_client(api_client)
    deletes(core)
    api_client.close()
    print("all passed")


if __name__ == "__main__":
    main()
