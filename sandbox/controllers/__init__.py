"""The cluster's behaviour, one controller per job (scheduler, kubelet, endpoints,
namespaces, garbage collection, node lifecycle, workloads, disruption budgets, events),
driven by the store's changes and coordinated by `ControllerManager`."""
