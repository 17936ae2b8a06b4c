# The mlchaos image, used by both charts: the CronJob's suite runner and Locust workers (charts/mlchaos), and the
# reference stack's gateway and primary model server (charts/ml-staging: `python -m mlchaos.staging.gateway` and
# `mlchaos.staging.primary`, `python` being the image's virtualenv). toxiproxy and redis come from their own images
# there, so neither is installed here.
#
#   docker build -t mlchaos:0.1.0 .
#
# BASE_IMAGE is any Debian bookworm: by default the registry's debian:bookworm-slim; the real-node tests
# (scripts/k8s-images.sh) pass localhost/debian:bookworm, made with debootstrap, as no registry is reachable there.
# The image runs as uid 10001 and works on a read-only root filesystem given a writable /tmp (the charts mount
# an emptyDir there): HOME and matplotlib's cache (MPLCONFIGDIR) live in it.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/mlchaos/bin:$PATH \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib

# Debian's Python 3.11 with a virtualenv of our own, so `python` and `mlchaos` are on PATH and apt's Python stays
# untouched; ca-certificates for the HTTPS the suite may reach through the standard library (webhooks).
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/mlchaos

WORKDIR /src
# The dependencies first, in a layer of their own (pyproject.toml's list): a change to the sources alone reuses it.
# The optional build secret `pip-cert` is a CA bundle for pip, for builders that reach PyPI through their own CA
# (scripts/k8s-images.sh passes the host's); without it pip uses its own. RUN --mount needs BuildKit (Docker 23+).
COPY pyproject.toml ./
RUN --mount=type=secret,id=pip-cert \
    if [ -s /run/secrets/pip-cert ]; then export PIP_CERT=/run/secrets/pip-cert; fi \
    && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        >requirements.txt \
    && pip install -r requirements.txt
# Only what the package is built from (see [tool.setuptools] in pyproject.toml); .dockerignore keeps the rest out.
COPY README.md ./
COPY experiments/ experiments/
COPY injectors/ injectors/
COPY reports/ reports/
COPY staging/ staging/
RUN --mount=type=secret,id=pip-cert \
    if [ -s /run/secrets/pip-cert ]; then export PIP_CERT=/run/secrets/pip-cert; fi \
    && pip install --no-deps . \
    && cd / && rm -rf /src

# The charts run as this user with a read-only root filesystem; HOME and /tmp are writable emptyDirs there.
RUN useradd --uid 10001 --user-group --home-dir /tmp --no-create-home mlchaos
USER 10001:10001
WORKDIR /tmp

ENTRYPOINT ["mlchaos"]
CMD ["--help"]
