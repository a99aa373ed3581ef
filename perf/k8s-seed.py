#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Objects for causeway-fake-apiserver --seed-dir (perf/hub-load.sh,
perf/edge-coldstart.sh), made from the real ones in tests/unit/fixtures/k8s:

  k8s-seed.py [--pods P] [--nodes N] [--node-prefix lg-] [--services S]
              [--marker NAME] DIR

P pods in namespace default, pod i on node PREFIX(i mod N); N Node objects
PREFIX0..PREFIX(N-1); S services with an EndpointSlice each, S configmaps,
and the Service NAME (the object a benchmark changes). Written as List
files DIR/1-pods.json .. DIR/4-rest.json."""
import argparse
import copy
import json
import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "unit",
                        "fixtures", "k8s")


def load(name):
    o = json.load(open(os.path.join(FIXTURES, name + ".json")))
    for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        o["metadata"].pop(k, None)
    return o


def dump(out, name, items):
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f,
                  separators=(",", ":"))


def service(name):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": name}}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--node-prefix", default="lg-")
    ap.add_argument("--services", type=int, default=10)
    ap.add_argument("--marker")
    ap.add_argument("dir")
    a = ap.parse_args()
    tp, tn, tc, te = load("pod"), load("node"), load("configmap"), load("endpointslice")
    pods = []
    for i in range(a.pods):
        p = copy.deepcopy(tp)
        p["metadata"].update(name=f"pod-{i:06d}", namespace="default")
        p["spec"]["nodeName"] = f"{a.node_prefix}{i % a.nodes}"
        pods.append(p)
    dump(a.dir, "1-pods", pods)
    nodes = []
    for i in range(a.nodes):
        n = copy.deepcopy(tn)
        n["metadata"]["name"] = f"{a.node_prefix}{i}"
        n["metadata"].setdefault("labels", {})["kubernetes.io/hostname"] = n["metadata"]["name"]
        nodes.append(n)
    dump(a.dir, "2-nodes", nodes)
    svcs = [service(f"svc-{i}") for i in range(a.services)]
    dump(a.dir, "3-services", svcs + ([service(a.marker)] if a.marker else []))
    rest = []
    for i in range(a.services):
        c = copy.deepcopy(tc)
        c["metadata"].update(name=f"cm-{i}", namespace="default")
        e = copy.deepcopy(te)
        e["metadata"].update(name=f"svc-{i}-x", namespace="default")
        e["metadata"].setdefault("labels", {})["kubernetes.io/service-name"] = f"svc-{i}"
        rest += [c, e]
    dump(a.dir, "4-rest", rest)


if __name__ == "__main__":
    main()
