# An image for CI jobs that check a monitoring repo: obskit with promtool and amtool, pinned.
# Build it from the repository's root after `python3 -m pip wheel --no-deps -w dist .`:
#   docker build -f docker/ci.Dockerfile -t registry.example.com/obskit-ci:0.6 .
# The Debian versions are those obskit's own tests run against (tests/test_ci_image.py checks).
FROM python:3.11-slim-bookworm

ARG PROMETHEUS_VERSION=2.42.0+ds-5+deb12u1
ARG ALERTMANAGER_VERSION=0.25.0-1+b4

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      "prometheus=${PROMETHEUS_VERSION}" "prometheus-alertmanager=${ALERTMANAGER_VERSION}" \
 && rm -rf /var/lib/apt/lists/*

COPY dist/obskit_gen-*.whl /tmp/
RUN pip install --no-cache-dir /tmp/obskit_gen-*.whl && rm /tmp/obskit_gen-*.whl

# promtool and amtool come with the two packages; obskit finds them on PATH
RUN useradd --create-home --uid 10001 obskit
USER obskit
WORKDIR /work
ENTRYPOINT ["obskit"]
