"""Pods served from a watch cache when the daemon runs many loops, as informers do: per
namespace and label selector, one paginated LIST, then a WATCH from its resourceVersion
that keeps the copy current; a 410 Gone or a broken watch lists again.

Correctness first: until a cache has listed (and whenever its watch is broken) it
serves nothing and the caller lists as it would without it. A single run (`runs: 1`)
never uses it: one LIST per matcher is all it needs.

Talks to the API server from one thread per cache.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from seal.adapters.kube import PAGE_SIZE, KubeClient
from seal.adapters.objects import Obj, pod_from_api
from seal.errors import KubeError, NotFoundError
from seal.model import Pod

if TYPE_CHECKING:  # urllib3 only once a watch starts (a run of many loops)
    import urllib3

log = logging.getLogger(__name__)

#: how long a watch request stays open before it is made again from its resourceVersion
WATCH_SECONDS = 240
#: caches kept at most (namespace and selector pairs); beyond, pods are listed
MAX_CACHES = 64
#: how long the first look at a cache may wait for its LIST
SYNC_SECONDS = 30.0
#: pods this process deleted that the watch has not yet shown gone, remembered at most
MAX_TOMBSTONES = 100_000
#: bounds of the pause before listing again after a failure
MIN_RETRY_SECONDS, MAX_RETRY_SECONDS = 0.2, 10.0


class PodInformer:
    """The pods of one namespace (None: all) and selector, kept current by a watch."""

    def __init__(self, kube: KubeClient, namespace: str | None, selector: str | None) -> None:
        self._kube = kube
        self.namespace = namespace
        self.selector = selector or None
        self._path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        self._lock = threading.Lock()
        self._objects: dict[str, Obj] = {}
        #: pods deleted through this process: key -> (uid, gone at once)
        self._tombstones: dict[str, tuple[str, bool]] = {}
        self._version = ""
        self._synced = threading.Event()
        self._tried = threading.Event()
        self._stopping = threading.Event()
        self._answer: urllib3.BaseHTTPResponse | None = None
        #: held while the open watch request is set, cleared or shut down, so that
        #: `stop` never shuts down a connection the thread has already released
        self._answer_lock = threading.Lock()
        self.lists = 0
        self._thread = threading.Thread(target=self._run, name="seal-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._answer_lock:
            answer = self._answer
            if answer is not None:
                try:
                    answer.shutdown()
                except (OSError, ValueError) as exc:  # ended already: nothing left to end
                    log.debug("the pod watch of %s was already closed: %s", self._where(), exc)
        self._thread.join(timeout=5.0)

    def pods(self, wait: float = 0.0) -> list[Pod] | None:
        """The pods as the watch last saw them; None when the cache cannot tell: its first
        LIST not done within `wait` seconds, or its watch broken (listing again)."""
        self._tried.wait(wait)
        if not self._synced.is_set():
            return None
        with self._lock:
            return [pod_from_api(obj) for obj in self._objects.values()]

    def deleted(self, key: str, *, gone: bool) -> None:
        """This process deleted a pod: the copy shows it gone (`gone`: a deletion with no
        grace period) or terminating at once, whatever the watch has delivered yet, so
        that a read after the DELETE never sees the pod as it was."""
        with self._lock:
            obj = self._objects.get(key)
            if obj is None:
                return
            uid = str(obj["metadata"].get("uid") or "")
            if len(self._tombstones) >= MAX_TOMBSTONES:
                self._tombstones.clear()
            self._tombstones[key] = (uid, gone)
            if gone:
                del self._objects[key]
            elif not obj["metadata"].get("deletionTimestamp"):
                now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                meta = dict(obj["metadata"], deletionTimestamp=now)
                self._objects[key] = dict(obj, metadata=meta)

    # ---------------------------------------------------------------- the thread
    def _run(self) -> None:
        import urllib3

        retry = MIN_RETRY_SECONDS
        while not self._stopping.is_set():
            try:
                self._list()
                retry = MIN_RETRY_SECONDS
                while not self._stopping.is_set() and self._watch():
                    pass  # the watch ended quietly: again, from where it was
            except (KubeError, urllib3.exceptions.HTTPError, ValueError) as exc:
                if self._stopping.is_set():
                    return
                if isinstance(exc, KubeError) and exc.status in (401, 403):
                    log.warning(
                        "no watch of the pods of %s (%s): they are listed every loop instead; "
                        "give seal's role `watch` on pods to serve them from a watch",
                        self._where(),
                        exc,
                    )
                    self._synced.clear()
                    self._tried.set()
                    return
                log.info("the pod watch of %s broke (%s); listing again", self._where(), exc)
            self._synced.clear()
            self._tried.set()  # the first LIST failed: callers list for themselves
            self._stopping.wait(retry)
            retry = min(MAX_RETRY_SECONDS, retry * 2)

    def _where(self) -> str:
        where = f"namespace {self.namespace}" if self.namespace else "every namespace"
        return where + (f" ({self.selector})" if self.selector else "")

    def _list(self) -> None:
        """One paginated LIST; the watch starts from its resourceVersion."""
        objects: dict[str, Obj] = {}
        token: str | None = None
        version = ""
        for _ in range(100_000):
            query = {"labelSelector": self.selector, "limit": PAGE_SIZE, "continue": token}
            page = self._kube.request("GET", self._path, verb="LIST", query=query)
            for obj in page.get("items") or []:
                objects[_key(obj)] = _trimmed(obj)
            meta = page.get("metadata") or {}
            version = version or str(meta.get("resourceVersion") or "")
            token = meta.get("continue") or None
            if not token:
                break
        with self._lock:
            self._objects, self._version = objects, version
            self._tombstones.clear()
            self.lists += 1
        self._synced.set()
        self._tried.set()

    def _watch(self) -> bool:
        """Follow one watch request; True when it ended quietly (its time was up), False
        when the cache must list again (410 Gone, an ERROR)."""
        import urllib3

        query: dict[str, Any] = {
            "watch": "1",
            "resourceVersion": self._version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": WATCH_SECONDS,
        }
        if self.selector:
            query["labelSelector"] = self.selector
        answer = self._kube.stream(self._path, query)
        with self._answer_lock:
            self._answer = answer
        if self._stopping.is_set():  # stopped while the request was being made
            answer.release_conn()
            with self._answer_lock:
                self._answer = None
            return False
        try:
            buffer = b""
            for chunk in answer.stream(64 * 1024, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip() and not self._apply(json.loads(line)):
                        return False
            return True
        except urllib3.exceptions.ReadTimeoutError:
            return True  # no event for a while: watch again from the same version
        finally:
            with self._answer_lock:
                self._answer = None
                answer.release_conn()

    def _apply(self, event: Obj) -> bool:
        """Apply one watch event to the copy; False on an ERROR (a 410 Gone above all)."""
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            log.info(
                "the pod watch of %s: %s %s; listing again",
                self._where(),
                obj.get("code"),
                obj.get("message"),
            )
            return False
        if kind not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
            raise ValueError(f"a watch event of no known type: {str(event)[:200]}")
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        with self._lock:
            self._version = version or self._version
            key = _key(obj)
            if kind == "DELETED":
                self._objects.pop(key, None)
                self._tombstones.pop(key, None)
            elif kind != "BOOKMARK" and not self._stale(key, obj):
                self._objects[key] = _trimmed(obj)
        return True

    def _stale(self, key: str, obj: Obj) -> bool:
        """Whether a watch event shows a pod this process deleted as it was before."""
        uid, gone = self._tombstones.get(key, ("", False))
        meta = obj.get("metadata") or {}
        if not uid or meta.get("uid") != uid:
            return False
        return gone or not meta.get("deletionTimestamp")


_META = ("namespace", "name", "uid", "labels", "annotations", "ownerReferences")


def _trimmed(obj: Obj) -> Obj:
    """What seal reads of a pod (`pod_from_api`): a cache of every pod of a large cluster
    keeps no managed fields, containers or conditions."""
    meta = obj.get("metadata") or {}
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    kept = {k: meta[k] for k in (*_META, "deletionTimestamp") if k in meta}
    return {
        "metadata": kept,
        "spec": {k: spec[k] for k in ("nodeName", "terminationGracePeriodSeconds") if k in spec},
        "status": {k: status[k] for k in ("phase", "hostIP") if k in status},
    }


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


class WatchCache:
    """The pod informers of a run, made on first use and stopped at its end. Off until
    `enabled` (the policy runs more than one loop)."""

    def __init__(self, kube: KubeClient, *, sync_seconds: float = SYNC_SECONDS) -> None:
        self._kube = kube
        self.sync_seconds = sync_seconds
        self.enabled = False
        self._lock = threading.Lock()
        self._informers: dict[tuple[str | None, str | None], PodInformer] = {}

    def pods(self, namespace: str | None, selector: str | None) -> list[Pod] | None:
        """The pods from the cache of this namespace and selector, started if need be;
        None when it cannot answer (the caller lists)."""
        if not self.enabled:
            return None
        key = (namespace or None, selector or None)
        with self._lock:
            informer = self._informers.get(key)
            if informer is None:
                if len(self._informers) >= MAX_CACHES:
                    return None
                informer = self._informers[key] = PodInformer(self._kube, *key)
                informer.start()
        return informer.pods(wait=self.sync_seconds)

    def __len__(self) -> int:
        return len(self._informers)

    def deleted(self, namespace: str, name: str, *, gone: bool) -> None:
        with self._lock:
            informers = list(self._informers.values())
        for informer in informers:
            informer.deleted(f"{namespace}/{name}", gone=gone)

    def close(self) -> None:
        with self._lock:
            informers, self._informers = list(self._informers.values()), {}
        for informer in informers:
            informer.stop()


class CachedPods:
    """The kube client, but LISTs of pods come from the watch cache when it can answer."""

    def __init__(self, kube: KubeClient, cache: WatchCache) -> None:
        self._kube = kube
        self._cache = cache

    def list_pods(
        self,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Pod]:
        if field_selector is None:
            pods = self._cache.pods(namespace, label_selector)
            if pods is not None:
                return pods
        return self._kube.list_pods(
            namespace, label_selector=label_selector, field_selector=field_selector
        )

    def delete_pod(
        self,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
    ) -> None:
        try:
            self._kube.delete_pod(
                namespace, name, grace_period_seconds=grace_period_seconds, uid=uid
            )
        except NotFoundError:
            self._cache.deleted(namespace, name, gone=True)
            raise
        self._cache.deleted(namespace, name, gone=grace_period_seconds == 0)

    def evict_pod(
        self, namespace: str, name: str, *, grace_period_seconds: int | None = None
    ) -> None:
        try:
            self._kube.evict_pod(namespace, name, grace_period_seconds=grace_period_seconds)
        except NotFoundError:
            self._cache.deleted(namespace, name, gone=True)
            raise
        self._cache.deleted(namespace, name, gone=grace_period_seconds == 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kube, name)
