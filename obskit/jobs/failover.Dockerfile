# The image of obskit's failover steps (`failover.image`): python3 for the step scripts, nsupdate
# and dig for the DNS step (failover_dns.py), kubectl for the scale and external-dns steps
# (failover_kubectl.py) and for suspending a datastore's DR copy before its engine's image promotes it.
# The suspended CronJobs mount the scripts from the service's failover-scripts ConfigMap at
# /opt/obskit; the copies here make the image usable on its own.
#
# Built from the repository's root:
#
#   docker build -t registry.example.com/obskit-failover:1 -f obskit/jobs/failover.Dockerfile .
FROM debian:bookworm-slim

# kubectl from the Kubernetes project's package repository for one minor version (its packages are
# signed; apt checks them): keep it within one minor version of the DR cluster's API server.
ARG KUBECTL_MINOR=v1.31

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gpg python3 \
      bind9-dnsutils \
 && mkdir -p /etc/apt/keyrings \
 && curl -fsSL "https://pkgs.k8s.io/core:/stable:/${KUBECTL_MINOR}/deb/Release.key" \
      | gpg --dearmor -o /etc/apt/keyrings/kubernetes.gpg \
 && echo "deb [signed-by=/etc/apt/keyrings/kubernetes.gpg] https://pkgs.k8s.io/core:/stable:/${KUBECTL_MINOR}/deb/ /" \
      > /etc/apt/sources.list.d/kubernetes.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends kubectl \
 && apt-get purge -y curl gpg && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 obskit \
 && useradd --system --uid 65532 --gid obskit --no-create-home obskit

COPY obskit/jobs/failover_dns.py obskit/jobs/failover_kubectl.py /opt/obskit/
USER 65532
