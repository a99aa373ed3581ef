#!/usr/bin/env python3
# A client that keeps a view of one list the way client-go's reflector
# does (kubelet and kube-proxy are made of these): list, then watch from
# the list's resourceVersion; a watch that ends is taken up again from the
# last version seen; 410 Expired (or a failed watch the server refuses)
# lists again. After every change it writes its view, atomically, to OUT as
# {"rv": "...", "objects": {"NS/NAME": "RV", ...}, "lists": N, "watches": N}.
#
#   kube_reflect.py BASE PATH QUERY OUT
#
# BASE http://127.0.0.1:PORT, PATH /api/v1/pods, QUERY the selector part
# ("fieldSelector=spec.nodeName%3Dedge-1" or "").
import http.client
import json
import os
import sys
import time
import urllib.parse


class Expired(Exception):
    pass


def key(obj):
    m = obj["metadata"]
    return m.get("namespace", "") + "/" + m["name"]


class Reflector:
    def __init__(self, base, path, query, out):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.path, self.query, self.out = path, query, out
        self.rv, self.objects = "", {}
        self.lists = self.watches = 0

    def url(self, extra):
        q = "&".join(x for x in (self.query, extra) if x)
        return self.path + ("?" + q if q else "")

    def save(self):
        tmp = self.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"rv": self.rv, "objects": self.objects, "lists": self.lists,
                       "watches": self.watches}, f, sort_keys=True)
        os.replace(tmp, self.out)

    def list(self):
        c = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            c.request("GET", self.url(""))
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise OSError("list: %d" % r.status)
            doc = json.loads(body)
        finally:
            c.close()
        self.objects = {key(o): o["metadata"]["resourceVersion"] for o in doc.get("items") or []}
        self.rv = doc["metadata"]["resourceVersion"]
        self.lists += 1
        self.save()

    def event(self, ev):
        t, o = ev.get("type"), ev.get("object") or {}
        if t == "ERROR":
            if o.get("code") == 410:
                raise Expired()
            raise OSError("watch error %r" % o)
        rv = o["metadata"]["resourceVersion"]
        if t in ("ADDED", "MODIFIED"):
            self.objects[key(o)] = rv
        elif t == "DELETED":
            self.objects.pop(key(o), None)
        elif t != "BOOKMARK":
            raise OSError("bad event type %r" % t)
        self.rv = rv
        self.save()

    def watch(self):
        c = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            c.request("GET", self.url("watch=true&allowWatchBookmarks=true&timeoutSeconds=20"
                                      "&resourceVersion=" + self.rv))
            r = c.getresponse()
            if r.status == 410:
                raise Expired()
            if r.status != 200:
                r.read()
                raise OSError("watch: %d" % r.status)
            self.watches += 1
            self.save()
            while True:
                line = r.readline()
                if not line:
                    return
                if line.strip():
                    self.event(json.loads(line))
        finally:
            c.close()

    def run(self):
        need_list = True
        while True:
            try:
                if need_list:
                    self.list()
                    need_list = False
                self.watch()
            except Expired:
                need_list = True
            except (OSError, ValueError, KeyError, http.client.HTTPException):
                time.sleep(0.2)


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: kube_reflect.py BASE PATH QUERY OUT")
    Reflector(*sys.argv[1:]).run()


if __name__ == "__main__":
    main()
