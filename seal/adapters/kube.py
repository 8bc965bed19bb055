"""A thin, thread-safe Kubernetes API client (JSON, paginated, retried): the calls seal
makes, on the request plumbing of seal/adapters/kube_http.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seal.adapters.event_objects import involved, send_event
from seal.adapters.kube_http import PAGE_SIZE, ApiClient
from seal.adapters.objects import Obj, node_from_api, pod_from_api
from seal.labels import selector_from_match
from seal.model import Node, Pod, ServiceInfo

if TYPE_CHECKING:
    pass

__all__ = ["PAGE_SIZE", "KubeClient"]


class KubeClient(ApiClient):
    """The Kubernetes API as seal uses it (reads, kills, Events, workloads)."""

    # ---------------------------------------------------------------- reads
    def version(self) -> Obj:
        return self.request("GET", "/version")

    def list_pods(
        self,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Pod]:
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        return [
            pod_from_api(o)
            for o in self.list_all(
                path, label_selector=label_selector, field_selector=field_selector
            )
        ]

    def list_pod_objects(self, namespace: str, *, label_selector: str | None = None) -> list[Obj]:
        return self.list_all(f"/api/v1/namespaces/{namespace}/pods", label_selector=label_selector)

    def read_pod_log(
        self, namespace: str, name: str, *, container: str | None = None, tail_lines: int = 100
    ) -> str:
        answer = self.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods/{name}/log",
            query={"container": container, "tailLines": tail_lines},
            text=True,
        )
        return str(answer.get("text", ""))

    def get_pod(self, namespace: str, name: str) -> Pod:
        return pod_from_api(self.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}"))

    def list_namespaces(self, *, label_selector: str | None = None) -> list[str]:
        return [
            o["metadata"]["name"]
            for o in self.list_all("/api/v1/namespaces", label_selector=label_selector)
        ]

    def list_nodes(self) -> list[Node]:
        return [node_from_api(o) for o in self.list_all("/api/v1/nodes")]

    def deployment_selector(self, namespace: str, name: str) -> str:
        """The label selector of a Deployment, as selector text."""
        obj = self.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        selector = (obj.get("spec") or {}).get("selector") or {}
        return str(
            selector_from_match(selector.get("matchLabels"), selector.get("matchExpressions"))
        )

    def get_service(self, namespace: str, name: str) -> ServiceInfo:
        obj = self.request("GET", f"/api/v1/namespaces/{namespace}/services/{name}")
        spec = obj.get("spec") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
        return ServiceInfo(
            namespace,
            name,
            str(spec.get("clusterIP") or ""),
            tuple(int(p.get("port", 0)) for p in spec.get("ports") or []),
            selector,
        )

    # ---------------------------------------------------------------- writes
    def delete_pod(
        self,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
    ) -> None:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if uid:
            body["preconditions"] = {"uid": uid}
        self.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", body=body)

    def evict_pod(
        self, namespace: str, name: str, *, grace_period_seconds: int | None = None
    ) -> None:
        body: Obj = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        if grace_period_seconds is not None:
            body["deleteOptions"] = {"gracePeriodSeconds": grace_period_seconds}
        self.request("POST", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", body=body)

    def create_event(
        self, target: Pod | Node, *, reason: str, message: str, event_type: str = "Normal"
    ) -> None:
        """An Event on a pod, or on a node (recorded in `default`, as the kubelet does)."""
        about = involved(target)
        stamp = self._clock.now()
        send_event(self, about, reason=reason, message=message, kind=event_type, stamp=stamp)

    def patch_labels(self, resource_path: str, labels: dict[str, str | None]) -> None:
        self.request(
            "PATCH",
            resource_path,
            body={"metadata": {"labels": labels}},
            content_type="application/merge-patch+json",
        )

    # ---------------------------------------------------------------- workloads
    def get_deployment(self, namespace: str, name: str) -> Obj:
        return self.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")

    def create_deployment(
        self, namespace: str, body: Mapping[str, Any], *, dry_run: bool = False
    ) -> Obj:
        # The name is the caller's: a create repeated after a lost answer is a 409.
        return self.request(
            "POST",
            f"/apis/apps/v1/namespaces/{namespace}/deployments",
            query={"dryRun": "All" if dry_run else None},
            body=body,
            idempotent=True,
        )

    def replace_deployment(self, namespace: str, name: str, body: Mapping[str, Any]) -> Obj:
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
        return self.request("PUT", path, body=body)

    def delete_deployment(self, namespace: str, name: str, *, uid: str | None = None) -> None:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        self.request(
            "DELETE", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", body=body
        )

    def get_service_object(self, namespace: str, name: str) -> Obj:
        return self.request("GET", f"/api/v1/namespaces/{namespace}/services/{name}")

    def get_apps_object(self, namespace: str, resource: str, name: str) -> Obj:
        return self.request("GET", f"/apis/apps/v1/namespaces/{namespace}/{resource}/{name}")

    def list_service_objects(self, namespace: str) -> list[Obj]:
        return self.list_all(f"/api/v1/namespaces/{namespace}/services")

    def list_endpoints(self, namespace: str) -> list[Obj]:
        return self.list_all(f"/api/v1/namespaces/{namespace}/endpoints")

    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        self.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/services/{name}",
            body=patch,
            content_type="application/merge-patch+json",
            idempotent=True,
        )
