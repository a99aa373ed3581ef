#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write Kubernetes objects as the API server serves them, one per file.

The compression dictionary (conf/causeway.dict) is trained on this output and
perf/compress-ratio.sh measures it on a second, differently seeded set, so the
objects must look like a real edge cluster's traffic: compact JSON in the
field order of the Go structs, map keys sorted (encoding/json does that),
managedFields, ownerReferences, conditions, containerStatuses, projected
service-account volumes, node images. What varies from object to object is
what varies in a real cluster (names, uids, IPs, timestamps, resource
versions, container ids); what is shared by every cluster (the field names,
public image digests, the default tolerations) stays fixed, and what belongs
to one cluster (its CA certificate, its node names) follows the seed.

Deterministic: the same --seed and --count give the same bytes.
Python 3 standard library only.

    gen-k8s-objects.py [--seed N] [--count N] [--mix pod=50,node=5,...]
                       [--no-managed-fields] OUTDIR
"""

import argparse
import base64
import hashlib
import json
import os
import random
import sys
from datetime import datetime, timedelta, timezone

KINDS = ("pod", "node", "endpointslice", "configmap", "lease")
DEFAULT_MIX = "pod=50,node=5,endpointslice=15,configmap=10,lease=20"

# k8s.io/apimachinery/pkg/util/rand: the alphabet of generated name suffixes
# and of pod-template-hash (no vowels, no confusable digits).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

K8S_VERSION = "v1.28.4"

# name, image:tag, ports, cpu req/lim, mem req/lim, args
APPS = [
    ("cache-server", "registry.cdn.example.net/edge/cache-server:3.14.2",
     [("http", 8080), ("metrics", 9145)], ("500m", "2"), ("1Gi", "4Gi"),
     ["--config=/etc/cache/cache.yaml", "--disk-cache=/data/cache"]),
    ("tls-terminator", "registry.cdn.example.net/edge/tls-terminator:1.9.0",
     [("https", 8443)], ("250m", "1"), ("256Mi", "1Gi"), ["--listen=:8443"]),
    ("log-shipper", "registry.cdn.example.net/edge/log-shipper:0.22.1",
     [("metrics", 2020)], ("100m", "500m"), ("128Mi", "512Mi"), []),
    ("purge-agent", "registry.cdn.example.net/edge/purge-agent:2.3.7",
     [("grpc", 9000)], ("50m", "200m"), ("64Mi", "256Mi"), ["--upstream=purge.cdn.example.net:443"]),
    ("health-probe", "registry.cdn.example.net/edge/health-probe:1.1.4",
     [("http", 8081)], ("20m", "100m"), ("32Mi", "64Mi"), []),
    ("nginx", "docker.io/library/nginx:1.25.3",
     [("http", 80)], ("100m", "1"), ("128Mi", "512Mi"), []),
    ("coredns", "registry.k8s.io/coredns/coredns:v1.10.1",
     [("dns", 53), ("metrics", 9153)], ("100m", None), ("70Mi", "170Mi"), ["-conf", "/etc/coredns/Corefile"]),
]

DAEMONS = [
    ("kube-proxy", "kube-system", "registry.k8s.io/kube-proxy:" + K8S_VERSION),
    ("node-exporter", "monitoring", "quay.io/prometheus/node-exporter:v1.7.0"),
    ("fluent-bit", "logging", "cr.fluentbit.io/fluent/fluent-bit:2.2.0"),
]

NODE_IMAGES = [
    ("registry.k8s.io/kube-proxy:" + K8S_VERSION, 28_530_000),
    ("registry.k8s.io/pause:3.9", 321_520),
    ("registry.k8s.io/coredns/coredns:v1.10.1", 16_190_000),
    ("quay.io/prometheus/node-exporter:v1.7.0", 11_730_000),
    ("cr.fluentbit.io/fluent/fluent-bit:2.2.0", 34_590_000),
    ("docker.io/library/nginx:1.25.3", 70_540_000),
    ("registry.cdn.example.net/edge/cache-server:3.14.2", 187_220_000),
    ("registry.cdn.example.net/edge/cache-server:3.14.1", 187_190_000),
    ("registry.cdn.example.net/edge/tls-terminator:1.9.0", 41_870_000),
    ("registry.cdn.example.net/edge/log-shipper:0.22.1", 22_310_000),
    ("registry.cdn.example.net/edge/purge-agent:2.3.7", 18_040_000),
    ("registry.cdn.example.net/edge/health-probe:1.1.4", 9_880_000),
    ("registry.cdn.example.net/edge/causeway-agent:0.1.0", 14_660_000),
]

NAMESPACES = ["edge-cache", "edge-tls", "edge-ops", "kube-system", "monitoring", "logging", "default"]

PROVINCES = ["bj", "sh", "gz", "sz", "cd", "wh", "xa", "hz", "nj", "cq", "tj", "sy"]
CARRIERS = ["ct", "cu", "cm", "bgp"]

EPOCH = datetime(2026, 11, 1, tzinfo=timezone.utc)


def digest(s):
    """Public images have one digest everywhere: derive it from the name."""
    return hashlib.sha256(s.encode()).hexdigest()


def image_id(image):
    repo = image.rsplit(":", 1)[0]
    return "%s@sha256:%s" % (repo, digest(image))


def repo_digest(image):
    return image_id(image)


def fields(keys):
    """A managedFields fieldsV1 set: every leaf is {}."""
    out = {}
    for k in keys:
        # Paths are "/"-separated, but label and annotation keys contain "/"
        # too: a segment that is not a field, key, value or "." continues the
        # previous one.
        parts = []
        for seg in k.split("/"):
            if parts and not seg.startswith(("f:", "k:", "v:", ".")):
                parts[-1] += "/" + seg
            else:
                parts.append(seg)
        node = out
        for part in parts:
            node = node.setdefault(part, {})
    return out


class Cluster:
    def __init__(self, seed, managed_fields=True):
        self.r = random.Random(seed)
        self.managed_fields = managed_fields
        r = self.r
        self.now = EPOCH + timedelta(seconds=r.randrange(0, 30 * 86400))
        self.rv = r.randrange(10_000_000, 900_000_000)
        self.cluster_start = self.now - timedelta(days=r.randrange(60, 400))
        self.ca_pem = self.fake_ca()
        self.nodes = []
        nsites = r.randrange(20, 60)
        for s in range(nsites):
            prov = r.choice(PROVINCES)
            site = "%s-%s-%02d" % (prov, r.choice(CARRIERS), r.randrange(1, 40))
            for n in range(r.randrange(4, 40)):
                idx = len(self.nodes)
                self.nodes.append({
                    "name": "%s-n%03d" % (site, n + 1),
                    "site": site,
                    "region": prov,
                    "ip": "10.%d.%d.%d" % (16 + s % 200, (n // 250) + r.randrange(0, 8) * 8, 2 + n % 250),
                    "cidr_b": idx // 256,
                    "cidr_c": idx % 256,
                    "uid": self.uid(),
                    "created": self.cluster_start + timedelta(seconds=r.randrange(0, 40 * 86400)),
                    "next_ip": 2,
                })
        self.workloads = []
        for app in APPS:
            for ns in (NAMESPACES[:3] if app[0] != "coredns" else ["kube-system"]):
                if r.random() < 0.6 or app[0] == "coredns":
                    self.workloads.append(self.workload(app, ns))

    # ---- primitives ----
    def uid(self):
        b = bytearray(self.r.getrandbits(128).to_bytes(16, "big"))
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        h = b.hex()
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])

    def suffix(self, n=5):
        return "".join(self.r.choice(NAME_ALPHABET) for _ in range(n))

    def next_rv(self):
        self.rv += self.r.randrange(1, 5000)
        return str(self.rv)

    @staticmethod
    def ts(t):
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def micro(t):
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def before_now(self, max_s, min_s=0):
        return self.now - timedelta(seconds=self.r.randrange(min_s, max_s))

    def fake_ca(self):
        # One cluster, one CA: random bytes shaped like a PEM certificate.
        der = bytes(self.r.getrandbits(8) for _ in range(790))
        b64 = base64.b64encode(der).decode()
        lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
        return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"

    def workload(self, app, ns):
        name, image, ports, cpu, mem, args = app
        return {
            "app": app, "name": name, "ns": ns,
            "hash": self.suffix(self.r.choice((9, 10))),
            "rs_uid": self.uid(),
            "replicas": self.r.randrange(2, 400),
        }

    def pod_ip(self, node):
        ip = "10.%d.%d.%d" % (64 + node["cidr_b"], node["cidr_c"], node["next_ip"])
        node["next_ip"] = 2 + (node["next_ip"] - 1) % 250
        return ip

    def meta(self, name, ns, created, labels=None, annotations=None, owners=None,
             managed=None, generate_name=None, with_type=True):
        m = {"name": name}
        if generate_name:
            m["generateName"] = generate_name
        if ns:
            m["namespace"] = ns
        m["uid"] = self.uid()
        m["resourceVersion"] = self.next_rv()
        m["creationTimestamp"] = self.ts(created)
        if labels:
            m["labels"] = dict(sorted(labels.items()))
        if annotations:
            m["annotations"] = dict(sorted(annotations.items()))
        if owners:
            m["ownerReferences"] = owners
        if managed and self.managed_fields:
            m["managedFields"] = managed
        return m

    @staticmethod
    def mf(manager, t, fv1, subresource=None, api="v1", op="Update"):
        e = {"manager": manager, "operation": op, "apiVersion": api, "time": Cluster.ts(t),
             "fieldsType": "FieldsV1", "fieldsV1": fv1}
        if subresource:
            e["subresource"] = subresource
        return e

    # ---- pods ----
    def pod(self):
        r = self.r
        node = r.choice(self.nodes)
        daemon = r.random() < 0.3
        if daemon:
            dname, ns, image = r.choice(DAEMONS)
            base = dname
            gen = dname + "-"
            owner_kind, owner_api, owner_name, owner_uid = "DaemonSet", "apps/v1", dname, self.uid()
            labels = {"app.kubernetes.io/name": dname, "controller-revision-hash": self.suffix(10),
                      "pod-template-generation": str(r.randrange(1, 12))}
            ports = [("metrics", 9100 if dname == "node-exporter" else 10249 if dname == "kube-proxy" else 2020)]
            cpu, mem = ("100m", None), ("50Mi", "180Mi")
            args = ["--hostname-override=$(NODE_NAME)"] if dname == "kube-proxy" else []
            host_network = dname != "fluent-bit"
        else:
            w = r.choice(self.workloads)
            ns, image, ports, cpu, mem, args = w["ns"], w["app"][1], w["app"][2], w["app"][3], w["app"][4], w["app"][5]
            base = w["name"]
            gen = "%s-%s-" % (w["name"], w["hash"])
            owner_kind, owner_api, owner_name, owner_uid = "ReplicaSet", "apps/v1", gen[:-1], w["rs_uid"]
            labels = {"app": base, "pod-template-hash": w["hash"]}
            if r.random() < 0.5:
                labels["app.kubernetes.io/part-of"] = "edge"
            host_network = False
        name = gen + self.suffix()
        created = self.before_now(20 * 86400, 120)
        sched = created + timedelta(seconds=r.randrange(0, 2))
        started = sched + timedelta(seconds=r.randrange(1, 40))
        ready = started + timedelta(seconds=r.randrange(0, 30))
        vol = "kube-api-access-" + self.suffix()
        pending = r.random() < 0.05
        two = (not daemon) and r.random() < 0.25
        containers = [(base, image, ports, cpu, mem, args)]
        if two:
            containers.append(("log-shipper", APPS[2][1], [("metrics", 2020)], APPS[2][3], APPS[2][4], []))
        host_ip = node["ip"]
        pod_ip = host_ip if host_network else self.pod_ip(node)
        annotations = {}
        if r.random() < 0.4:
            annotations["prometheus.io/scrape"] = "true"
            annotations["prometheus.io/port"] = str(ports[0][1])
        if r.random() < 0.2:
            annotations["kubectl.kubernetes.io/restartedAt"] = self.ts(self.before_now(60 * 86400, 86400))

        def cspec(c):
            cname, cimage, cports, ccpu, cmem, cargs = c
            spec = {"name": cname, "image": cimage}
            if cargs:
                spec["args"] = cargs
            spec["ports"] = [{"name": pn, "containerPort": pp, "protocol": "UDP" if pn == "dns" else "TCP"}
                             for pn, pp in cports]
            if daemon:
                spec["env"] = [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}]
            lim = {}
            if ccpu[1]:
                lim["cpu"] = ccpu[1]
            if cmem[1]:
                lim["memory"] = cmem[1]
            res = {}
            if lim:
                res["limits"] = lim
            res["requests"] = {"cpu": ccpu[0], "memory": cmem[0]}
            spec["resources"] = res
            spec["volumeMounts"] = [{"name": vol, "readOnly": True,
                                     "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
            if cports[0][0] in ("http", "metrics") and r.random() < 0.6:
                spec["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": cports[0][1], "scheme": "HTTP"},
                                         "initialDelaySeconds": 10, "timeoutSeconds": 1, "periodSeconds": 10,
                                         "successThreshold": 1, "failureThreshold": 3}
            spec["terminationMessagePath"] = "/dev/termination-log"
            spec["terminationMessagePolicy"] = "File"
            spec["imagePullPolicy"] = "IfNotPresent"
            return spec

        cm_keys = ["f:metadata/f:generateName"]
        for k in sorted(labels):
            cm_keys.append("f:metadata/f:labels/f:" + k)
        cm_keys.append("f:metadata/f:labels/.")
        cm_keys.append("f:metadata/f:ownerReferences/.")
        cm_keys.append('f:metadata/f:ownerReferences/k:{"uid":"%s"}' % owner_uid)
        for c in containers:
            ck = 'f:spec/f:containers/k:{"name":"%s"}' % c[0]
            for leaf in (".", "f:image", "f:imagePullPolicy", "f:name", "f:resources/.", "f:resources/f:requests/.",
                         "f:resources/f:requests/f:cpu", "f:resources/f:requests/f:memory",
                         "f:terminationMessagePath", "f:terminationMessagePolicy", "f:ports/."):
                cm_keys.append(ck + "/" + leaf)
            for pn, pp in c[2]:
                cm_keys.append(ck + '/f:ports/k:{"containerPort":%d,"protocol":"%s"}/.' % (pp, "UDP" if pn == "dns" else "TCP"))
        for leaf in ("f:dnsPolicy", "f:enableServiceLinks", "f:restartPolicy", "f:schedulerName",
                     "f:securityContext", "f:terminationGracePeriodSeconds"):
            cm_keys.append("f:spec/" + leaf)
        managed = [self.mf("kube-controller-manager" if not daemon else "kube-controller-manager", created,
                           fields(sorted(cm_keys)))]
        if not pending:
            st_keys = []
            for ct in ("ContainersReady", "Initialized", "PodReadyToStartContainers", "Ready"):
                for leaf in (".", "f:lastProbeTime", "f:lastTransitionTime", "f:status", "f:type"):
                    st_keys.append('f:status/f:conditions/k:{"type":"%s"}/%s' % (ct, leaf))
            for leaf in ("f:containerStatuses", "f:hostIP", "f:hostIPs", "f:phase", "f:podIP", "f:startTime",
                         "f:podIPs/."):
                st_keys.append("f:status/" + leaf)
            st_keys.append('f:status/f:podIPs/k:{"ip":"%s"}/.' % pod_ip)
            st_keys.append('f:status/f:podIPs/k:{"ip":"%s"}/f:ip' % pod_ip)
            managed.append(self.mf("kubelet", ready, fields(sorted(st_keys)), subresource="status"))

        meta = self.meta(name, ns, created, labels=labels, annotations=annotations, generate_name=gen,
                         owners=[{"apiVersion": owner_api, "kind": owner_kind, "name": owner_name,
                                  "uid": owner_uid, "controller": True, "blockOwnerDeletion": True}],
                         managed=managed)
        spec = {
            "volumes": [{"name": vol, "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                              "fieldPath": "metadata.namespace"}}]}}],
                "defaultMode": 420}}],
            "containers": [cspec(c) for c in containers],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst" if not host_network else "ClusterFirstWithHostNet",
            "serviceAccountName": base if daemon else "default",
            "serviceAccount": base if daemon else "default",
            "nodeName": node["name"],
        }
        if host_network:
            spec["hostNetwork"] = True
        spec["securityContext"] = {}
        spec["schedulerName"] = "default-scheduler"
        if daemon:
            spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                        "values": [node["name"]]}]}]}}}
            spec["tolerations"] = [{"operator": "Exists"}]
            spec["priorityClassName"] = "system-node-critical"
            spec["priority"] = 2000001000
        else:
            spec["tolerations"] = [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300}]
            spec["priority"] = 0
        spec["enableServiceLinks"] = True
        spec["preemptionPolicy"] = "PreemptLowerPriority"

        def cond(t, s, when):
            return {"type": t, "status": s, "lastProbeTime": None, "lastTransitionTime": self.ts(when)}

        if pending:
            status = {"phase": "Pending", "conditions": [cond("PodScheduled", "True", sched)], "qosClass": "Burstable"}
        else:
            restarts = 0 if r.random() < 0.8 else r.randrange(1, 30)
            cstat = []
            for c in containers:
                cs = {"name": c[0], "state": {"running": {"startedAt": self.ts(started)}}}
                if restarts:
                    cs["lastState"] = {"terminated": {"exitCode": r.choice((1, 137, 143, 2)), "reason": r.choice(
                        ("Error", "OOMKilled", "Completed")), "startedAt": self.ts(started - timedelta(seconds=r.randrange(60, 90000))),
                        "finishedAt": self.ts(started - timedelta(seconds=r.randrange(1, 59))),
                        "containerID": "containerd://" + "%064x" % r.getrandbits(256)}}
                else:
                    cs["lastState"] = {}
                cs["ready"] = True
                cs["restartCount"] = restarts
                cs["image"] = c[1]
                cs["imageID"] = image_id(c[1])
                cs["containerID"] = "containerd://" + "%064x" % r.getrandbits(256)
                cs["started"] = True
                cstat.append(cs)
            status = {
                "phase": "Running",
                "conditions": [cond("PodReadyToStartContainers", "True", started), cond("Initialized", "True", sched),
                               cond("Ready", "True", ready), cond("ContainersReady", "True", ready),
                               cond("PodScheduled", "True", sched)],
                "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
                "startTime": self.ts(sched),
                "containerStatuses": cstat,
                "qosClass": "Burstable",
            }
        return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status}

    # ---- nodes ----
    def node(self):
        r = self.r
        n = r.choice(self.nodes)
        cpus = r.choice((16, 32, 48, 64, 96))
        mem_ki = r.choice((64, 128, 192, 256, 384)) * 1024 * 1024 - r.randrange(200_000, 900_000)
        disk_ki = r.choice((480, 960, 1920, 3840)) * 1000 * 976 + r.randrange(0, 1_000_000)
        hb = self.before_now(40, 0)
        labels = {
            "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": n["name"], "kubernetes.io/os": "linux",
            "topology.kubernetes.io/region": n["region"], "topology.kubernetes.io/zone": n["site"],
            "causeway.io/pool": n["site"], "node.kubernetes.io/instance-type": "edge-%dc" % cpus,
        }
        annotations = {
            "causeway.io/agent-version": "0.1.0",
            "node.alpha.kubernetes.io/ttl": "0",
            "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        }
        managed = [
            self.mf("kubelet", n["created"], fields(sorted(
                ["f:metadata/f:annotations/.", "f:metadata/f:annotations/f:volumes.kubernetes.io/controller-managed-attach-detach"]
                + ["f:metadata/f:labels/." ] + ["f:metadata/f:labels/f:" + k for k in sorted(labels) if not k.startswith(("causeway", "topology"))]))),
            self.mf("kube-controller-manager", n["created"] + timedelta(seconds=3), fields(
                ["f:metadata/f:annotations/f:node.alpha.kubernetes.io/ttl", "f:spec/f:podCIDR", "f:spec/f:podCIDRs/.",
                 'f:spec/f:podCIDRs/v:"10.%d.%d.0/24"' % (64 + n["cidr_b"], n["cidr_c"])])),
            self.mf("causeway-controller", n["created"] + timedelta(seconds=r.randrange(5, 600)), fields(
                ["f:metadata/f:annotations/f:causeway.io/agent-version", "f:metadata/f:labels/f:causeway.io/pool",
                 "f:metadata/f:labels/f:topology.kubernetes.io/region", "f:metadata/f:labels/f:topology.kubernetes.io/zone"])),
            self.mf("kubelet", hb, fields(
                ['f:status/f:conditions/k:{"type":"%s"}/f:%s' % (c, f)
                 for c in ("DiskPressure", "MemoryPressure", "PIDPressure", "Ready")
                 for f in ("lastHeartbeatTime", "lastTransitionTime", "message", "reason", "status")]
                + ["f:status/f:images", "f:status/f:nodeInfo/f:bootID", "f:status/f:allocatable/f:memory"]),
                subresource="status"),
        ]
        meta = self.meta(n["name"], None, n["created"], labels=labels, annotations=annotations, managed=managed)
        meta["uid"] = n["uid"]
        booted = self.before_now(90 * 86400, 3600)

        def cond(t, s, reason, msg):
            return {"type": t, "status": s, "lastHeartbeatTime": self.ts(hb),
                    "lastTransitionTime": self.ts(booted + timedelta(seconds=r.randrange(20, 90))),
                    "reason": reason, "message": msg}

        images = []
        for img, size in NODE_IMAGES:
            if r.random() < 0.8:
                images.append({"names": [repo_digest(img), img], "sizeBytes": size + r.randrange(0, 4096)})
        images.sort(key=lambda i: -i["sizeBytes"])
        alloc_mem = mem_ki - 2 * 1024 * 1024
        status = {
            "capacity": {"cpu": str(cpus), "ephemeral-storage": "%dKi" % disk_ki, "hugepages-1Gi": "0",
                         "hugepages-2Mi": r.choice(("0", "2Gi", "4Gi")), "memory": "%dKi" % mem_ki, "pods": "110"},
            "allocatable": {"cpu": str(cpus - 1), "ephemeral-storage": str(disk_ki * 1024 * 9 // 10),
                            "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "%dKi" % alloc_mem, "pods": "110"},
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status. AppArmor enabled"),
            ],
            "addresses": [{"type": "InternalIP", "address": n["ip"]}, {"type": "Hostname", "address": n["name"]}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": "%032x" % r.getrandbits(128), "systemUUID": self.uid().upper(), "bootID": self.uid(),
                "kernelVersion": r.choice(("6.1.0-27-amd64", "6.1.0-26-amd64", "5.10.0-32-amd64")),
                "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "containerd://1.6.20",
                "kubeletVersion": K8S_VERSION, "kubeProxyVersion": K8S_VERSION, "operatingSystem": "linux",
                "architecture": "amd64"},
            "images": images,
        }
        spec = {"podCIDR": "10.%d.%d.0/24" % (64 + n["cidr_b"], n["cidr_c"]),
                "podCIDRs": ["10.%d.%d.0/24" % (64 + n["cidr_b"], n["cidr_c"])]}
        return {"kind": "Node", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status}

    # ---- endpointslices ----
    def endpointslice(self):
        r = self.r
        w = r.choice(self.workloads)
        svc = w["name"]
        gen = svc + "-"
        created = self.before_now(200 * 86400, 3600)
        changed = self.before_now(86400, 0)
        endpoints = []
        for _ in range(r.choice((1, 1, 2, 3, 4, 6, 8, 12))):
            node = r.choice(self.nodes)
            ep = {"addresses": [self.pod_ip(node)],
                  "conditions": {"ready": True, "serving": True, "terminating": False},
                  "nodeName": node["name"],
                  "targetRef": {"kind": "Pod", "namespace": w["ns"],
                                "name": "%s-%s-%s" % (svc, w["hash"], self.suffix()), "uid": self.uid()},
                  "zone": node["site"]}
            endpoints.append(ep)
        ports = [{"name": pn, "protocol": "UDP" if pn == "dns" else "TCP", "port": pp} for pn, pp in w["app"][2]]
        svc_uid = self.uid()
        labels = {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                  "kubernetes.io/service-name": svc, "app": svc}
        managed = [self.mf("kube-controller-manager", changed, fields(sorted(
            ["f:addressType", "f:endpoints", "f:ports", "f:metadata/f:annotations/.",
             "f:metadata/f:annotations/f:endpoints.kubernetes.io/last-change-trigger-time",
             "f:metadata/f:generateName", "f:metadata/f:labels/."]
            + ["f:metadata/f:labels/f:" + k for k in labels]
            + ["f:metadata/f:ownerReferences/.", 'f:metadata/f:ownerReferences/k:{"uid":"%s"}' % svc_uid])),
            api="discovery.k8s.io/v1")]
        meta = self.meta(gen + self.suffix(), w["ns"], created, labels=labels, generate_name=gen,
                         annotations={"endpoints.kubernetes.io/last-change-trigger-time": self.ts(changed)},
                         owners=[{"apiVersion": "v1", "kind": "Service", "name": svc, "uid": svc_uid,
                                  "controller": True, "blockOwnerDeletion": True}], managed=managed)
        return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1", "metadata": meta,
                "addressType": "IPv4", "endpoints": endpoints, "ports": ports}

    # ---- configmaps ----
    def configmap(self):
        r = self.r
        ns = r.choice(NAMESPACES)
        created = self.before_now(300 * 86400, 3600)
        pick = r.random()
        labels = None
        manager = "kubectl-client-side-apply"
        if pick < 0.35:
            name, data = "kube-root-ca.crt", {"ca.crt": self.ca_pem}
            annotations = {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the "
                           "kube-apiserver when using internal endpoints such as the internal service IP or "
                           "kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes "
                           "clusters."}
            manager = "kube-controller-manager"
        elif pick < 0.6:
            name = "cache-server-config-" + self.suffix()
            ttl = r.choice((60, 300, 600, 3600))
            data = {"cache.yaml": (
                "listen: 0.0.0.0:8080\nmetrics: 0.0.0.0:9145\nstorage:\n  path: /data/cache\n  max_size: %dGi\n"
                "  eviction: lru\nupstream:\n  origin: origin-%s.cdn.example.net:443\n  timeout: %ds\n"
                "  retries: %d\ndefault_ttl: %ds\nnegative_ttl: %ds\nlog_level: %s\n"
                % (r.choice((200, 400, 800, 1600)), r.choice(PROVINCES), r.choice((5, 10, 30)),
                   r.randrange(1, 4), ttl, r.choice((5, 10, 30)), r.choice(("info", "warn", "debug")))),
                "purge.token.path": "/etc/cache/purge/token"}
            labels = {"app": "cache-server"}
            annotations = {"kubectl.kubernetes.io/last-applied-configuration": ""}
        elif pick < 0.8:
            name = "coredns"
            ns = "kube-system"
            data = {"Corefile": ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n"
                    "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n"
                    "       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n    prometheus :9153\n"
                    "    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    cache %d\n"
                    "    loop\n    reload\n    loadbalance\n}\n" % r.choice((30, 60))}
            annotations = None
            manager = "kubeadm"
        else:
            name = "fluent-bit-config"
            ns = "logging"
            data = {"fluent-bit.conf": "[SERVICE]\n    Flush         %d\n    Log_Level     info\n"
                    "    Parsers_File  parsers.conf\n    HTTP_Server   On\n    HTTP_Listen   0.0.0.0\n"
                    "    HTTP_Port     2020\n\n[INPUT]\n    Name              tail\n"
                    "    Path              /var/log/containers/*.log\n    multiline.parser  cri\n"
                    "    Tag               kube.*\n    Mem_Buf_Limit     %dMB\n\n[OUTPUT]\n    Name   forward\n"
                    "    Match  *\n    Host   logs-%s.cdn.example.net\n    Port   24224\n"
                    % (r.choice((1, 5)), r.choice((5, 50)), r.choice(PROVINCES)),
                    "parsers.conf": "[PARSER]\n    Name        cri\n    Format      regex\n"
                    "    Regex       ^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[^ ]*) (?<log>.*)$\n"
                    "    Time_Key    time\n    Time_Format %Y-%m-%dT%H:%M:%S.%L%z\n"}
            labels = {"app.kubernetes.io/name": "fluent-bit"}
            annotations = None
        if annotations and "kubectl.kubernetes.io/last-applied-configuration" in annotations:
            annotations["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(
                {"apiVersion": "v1", "data": data, "kind": "ConfigMap",
                 "metadata": {"annotations": {}, "labels": labels, "name": name, "namespace": ns}},
                separators=(",", ":"), sort_keys=True) + "\n"
        keys = ["f:data/.", ] + ["f:data/f:" + k for k in data]
        if labels:
            keys += ["f:metadata/f:labels/."] + ["f:metadata/f:labels/f:" + k for k in labels]
        if annotations:
            keys += ["f:metadata/f:annotations/."] + ["f:metadata/f:annotations/f:" + k for k in annotations]
        managed = [self.mf(manager, created, fields(sorted(keys)))]
        meta = self.meta(name, ns, created, labels=labels, annotations=annotations, managed=managed)
        return {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta, "data": dict(sorted(data.items()))}

    # ---- leases ----
    def lease(self):
        r = self.r
        renew = self.now - timedelta(microseconds=r.randrange(0, 40_000_000))
        if r.random() < 0.9:
            n = r.choice(self.nodes)
            managed = [self.mf("kubelet", renew.replace(microsecond=0), fields(
                ["f:metadata/f:ownerReferences/.", 'f:metadata/f:ownerReferences/k:{"uid":"%s"}' % n["uid"],
                 "f:spec/f:holderIdentity", "f:spec/f:leaseDurationSeconds", "f:spec/f:renewTime"]),
                api="coordination.k8s.io/v1")]
            meta = self.meta(n["name"], "kube-node-lease", n["created"],
                             owners=[{"apiVersion": "v1", "kind": "Node", "name": n["name"], "uid": n["uid"]}],
                             managed=managed)
            spec = {"holderIdentity": n["name"], "leaseDurationSeconds": 40, "renewTime": self.micro(renew)}
        else:
            comp = r.choice(("kube-scheduler", "kube-controller-manager", "causeway-controller"))
            holder = "%s_%s" % ("cp-%02d" % r.randrange(1, 4), self.uid())
            acquired = self.before_now(30 * 86400, 60)
            managed = [self.mf(comp, renew.replace(microsecond=0), fields(
                ["f:spec/f:acquireTime", "f:spec/f:holderIdentity", "f:spec/f:leaseDurationSeconds",
                 "f:spec/f:leaseTransitions", "f:spec/f:renewTime"]), api="coordination.k8s.io/v1")]
            meta = self.meta(comp, "kube-system", self.cluster_start, managed=managed)
            spec = {"holderIdentity": holder, "leaseDurationSeconds": 15, "acquireTime": self.micro(acquired),
                    "renewTime": self.micro(renew), "leaseTransitions": r.randrange(0, 40)}
        return {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1", "metadata": meta, "spec": spec}


def parse_mix(s):
    mix = {}
    for part in s.split(","):
        k, _, v = part.partition("=")
        if k not in KINDS or not v.isdigit():
            raise ValueError("bad --mix entry %r (kinds: %s)" % (part, ", ".join(KINDS)))
        mix[k] = int(v)
    if not sum(mix.values()):
        raise ValueError("--mix weights sum to zero")
    return mix


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--count", type=int, default=2000, help="number of objects (default 2000)")
    ap.add_argument("--mix", default=DEFAULT_MIX, help="kind=weight,... (default %s)" % DEFAULT_MIX)
    ap.add_argument("--no-managed-fields", action="store_true",
                    help="leave metadata.managedFields out, as clients that strip them see objects")
    ap.add_argument("outdir", help="directory to write <kind>-<n>.json files into (created if missing)")
    a = ap.parse_args(argv)
    try:
        mix = parse_mix(a.mix)
    except ValueError as e:
        ap.error(str(e))
    cluster = Cluster(a.seed, managed_fields=not a.no_managed_fields)
    kinds = [k for k in KINDS if mix.get(k)]
    weights = [mix[k] for k in kinds]
    os.makedirs(a.outdir, exist_ok=True)
    for i in range(a.count):
        kind = cluster.r.choices(kinds, weights)[0]
        obj = getattr(cluster, kind)()
        # The API server's JSON encoder ends every body with a newline.
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"
        with open(os.path.join(a.outdir, "%s-%05d.json" % (kind, i)), "w", encoding="utf-8") as f:
            f.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
