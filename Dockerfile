# seal's image: `seal` with kubectl, run as a non-root user on a read-only root filesystem.
#
#   docker build -t REGISTRY/seal:0.1.0 .
#   docker run --rm REGISTRY/seal:0.1.0 --version
#
# Stage 1 builds seal's wheel and fetches a pinned, checksum-verified kubectl;
# stage 2 installs the wheel (and its runtime dependencies, never the dev extras)
# into a virtual environment with no compiler, git or pip cache left behind.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

# kubectl for the kubectl step: one pinned release, its SHA-256 checked per architecture
# (the values published at https://dl.k8s.io/release/v1.30.6/bin/linux/ARCH/kubectl.sha256).
ARG KUBECTL_VERSION=v1.30.6
ARG KUBECTL_SHA256_AMD64=7a3adf80ca74b1b2afdfc7f4570f0005ca03c2812367ffb6ee2f731d66e45e61
ARG KUBECTL_SHA256_ARM64=0b448581f05f46d80219d1a73bd1966de09066c313f64e67e7b75b35e07191cd
ARG TARGETARCH=amd64

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

WORKDIR /build

RUN case "${TARGETARCH}" in \
        amd64) sha256="${KUBECTL_SHA256_AMD64}" ;; \
        arm64) sha256="${KUBECTL_SHA256_ARM64}" ;; \
        *) echo "no kubectl checksum pinned for architecture ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
    && python -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], 'kubectl')" \
        "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${TARGETARCH}/kubectl" \
    && echo "${sha256}  kubectl" | sha256sum --check --strict \
    && install -m 0755 kubectl /usr/local/bin/kubectl \
    && rm kubectl \
    && kubectl version --client

COPY setup.cfg pyproject.toml README.md ./
COPY seal ./seal
COPY sandbox ./sandbox
COPY drivers ./drivers

# The wheel and every runtime dependency, as wheels, so the final stage needs no build tools;
# with the tracing extra, so that a seal in the cluster can send its spans (--otlp-endpoint).
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[tracing]"


FROM ${PYTHON_IMAGE}

ARG SEAL_VERSION=0.1.0
LABEL org.opencontainers.image.title="seal" \
      org.opencontainers.image.description="seal: a chaos-engineering daemon for Kubernetes" \
      org.opencontainers.image.version="${SEAL_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="https://github.com/seal-chaos/seal/blob/main/docs/deploy.md" \
      org.opencontainers.image.source="https://github.com/seal-chaos/seal"

COPY --from=builder /usr/local/bin/kubectl /usr/local/bin/kubectl
COPY --from=builder /wheels /wheels

# --no-index: only the wheels built above, so nothing is compiled and nothing else pulled in.
RUN python -m venv /opt/seal \
    && /opt/seal/bin/pip install --no-cache-dir --no-index --find-links /wheels "seal-chaos[tracing]" \
    && rm -rf /wheels

# The root filesystem may be read-only: everything seal writes (its undo journal,
# kubectl's cache, temporary files) goes under /tmp, an emptyDir in deploy/.
ENV PATH="/opt/seal/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    SEAL_STATE_DIR=/tmp/seal-state

# A numeric user, so that `runAsNonRoot` can check it without a passwd lookup.
USER 65532:65532

EXPOSE 9090
ENTRYPOINT ["seal"]
CMD ["--help"]
