"""The steps' harness (a sandbox and the real services a step runs with), for the
scaleDeployment step's tests."""

from tests.steps.conftest import harness, harness_factory

__all__ = ["harness", "harness_factory"]
