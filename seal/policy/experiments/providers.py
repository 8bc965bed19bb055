"""The providers seal runs: `http`, and `python MODULE.FUNC` for the chaosk8s functions
it knows, each with the converter that turns it into a seal step. No I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seal.policy.experiments import k8s
from seal.policy.experiments.activity import Activity
from seal.policy.experiments.http import http
from seal.policy.experiments.values import Values

Converter = Callable[[Values, Activity], dict[str, Any]]
#: provider name -> converter; "python MODULE.FUNC" for python providers
PROVIDERS: dict[str, Converter] = {
    "http": http,
    "python chaosk8s.pod.actions.terminate_pods": k8s.terminate_pods,
    "python chaosk8s.pod.probes.pods_in_phase": k8s.pods_in_phase,
    "python chaosk8s.pod.probes.all_microservices_healthy": k8s.all_microservices_healthy,
    "python chaosk8s.pod.probes.all_pods_healthy": k8s.all_microservices_healthy,
    "python chaosk8s.probes.all_microservices_healthy": k8s.all_microservices_healthy,
    "python chaosk8s.pod.probes.read_pod_logs": k8s.read_pod_logs,
    "python chaosk8s.deployment.actions.scale_deployment": k8s.scale_deployment,
    "python chaosk8s.actions.scale_microservice": k8s.scale_deployment,
}
#: only probes may sit in a hypothesis; these change something
ACTIONS = ("terminate_pods", "scale_deployment", "scale_microservice")
