# The mlchaos image, used by both charts: the CronJob's suite runner and Locust workers (charts/mlchaos), and the
# reference stack's gateway and primary model server (charts/ml-staging). toxiproxy and redis come from their own
# images there, so neither is installed here.
#
#   docker build -t mlchaos:0.1.0 .
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Only what the package is built from (see [tool.setuptools] in pyproject.toml); .dockerignore keeps the rest out.
COPY pyproject.toml README.md ./
COPY experiments/ experiments/
COPY injectors/ injectors/
COPY reports/ reports/
COPY staging/ staging/
RUN pip install . && rm -rf /src

# The charts run as this user with a read-only root filesystem; HOME and /tmp are writable emptyDirs there.
RUN useradd --uid 10001 --user-group --home-dir /tmp --no-create-home mlchaos
USER 10001:10001
WORKDIR /tmp

ENTRYPOINT ["mlchaos"]
CMD ["--help"]
