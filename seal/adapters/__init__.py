"""The only modules that talk to the outside: Kubernetes API, kubectl, SSH, HTTP.

Every third-party error is re-raised as a seal error from `seal.errors`.
"""
