"""`runbooks/<service>.failover.md`: when to fail the service over to the DR region and when not,
each step with its command and its budget from the plan, how to check the result, and how to
fail back. Written from the plan, like the alerts it follows from."""

from __future__ import annotations

from obskit.generate.failover import step_name
from obskit.output import escape
from obskit.output.render import markdown_table
from obskit.plan import jobs
from obskit.plan.failover import FailoverPlan, StepPlan
from obskit.plan.types import Plan, ServicePlan
from obskit.spec.failover import DETECT, PROMOTE, SCALE, UPDATE_DNS
from obskit.units import Duration


def _start(service_plan: ServicePlan, cronjob: str, budget: Duration) -> str:
    """The commands that start a step's Job and wait for it as long as the Job itself may run."""
    namespace = service_plan.service.namespace
    wait = jobs.seconds(budget) + 60
    return (
        f"job={cronjob}-$(date +%s)\n"
        f"kubectl --context <DR cluster> -n {namespace} create job --from=cronjob/{cronjob} $job\n"
        f"kubectl --context <DR cluster> -n {namespace} wait --for=condition=complete --timeout={wait}s job/$job\n"
        f"kubectl --context <DR cluster> -n {namespace} logs job/$job"
    )


def _step(plan: Plan, service_plan: ServicePlan, failover: FailoverPlan, planned: StepPlan, number: int) -> str:
    title = f"### {number}. {planned.name} ({planned.budget})"
    record = service_plan.service.failover.dns if service_plan.service.failover else None
    assert record is not None
    name = service_plan.name
    primary, dr = (
        escape.markdown_text(region) for region in (failover.environment.primary_region, failover.environment.dr_region)
    )
    if planned.name == DETECT:
        probes = ", ".join(escape.markdown_code(probe.check.endpoint) for probe in failover.primary_probes)
        return f"""{title}

The page `FailoverPrimaryUnhealthy` is this step: the health checks of {primary}
({probes}) failed {_thresholds(failover)} in a row. Budget: {planned.basis}.
"""
    if not planned.step.automated:
        return f"""{title}

Done by hand; its budget is the measured {planned.budget}. Write down when it started and ended.
"""
    if planned.name == PROMOTE:
        jobs = "\n".join(
            _start(service_plan, step_name(name, PROMOTE, store), planned.budget) for store, _ in failover.datastores
        )
        parts = "\n".join(datastore.runbook(plan, service_plan) for _, datastore in failover.datastores)
        return f"""{title}

Promote each datastore's standby in {dr} (budget: {planned.basis}):

```sh
{jobs}
```

{parts}"""
    if planned.name == UPDATE_DNS:
        dns = failover.environment.dns
        servers = (dns.rfc2136.check_servers or (dns.rfc2136.server,)) if dns and dns.rfc2136 else ("<a server>:53",)
        return f"""{title}

Point `{record.name}` at `{record.dr_target}` (budget: {planned.basis}). Clients follow within the
TTL of {record.ttl}s.

```sh
{_start(service_plan, step_name(name, UPDATE_DNS), planned.budget)}
{_digs(servers, record.name)}   # each answers {record.dr_target} with TTL {record.ttl}
```
"""
    if planned.name == SCALE:
        workload = planned.step.workload or name
        return f"""{title}

Scale Deployment `{workload}` in {dr} to {planned.step.replicas} replicas and
wait for the rollout (budget: {planned.basis}).

```sh
{_start(service_plan, step_name(name, SCALE), planned.budget)}
kubectl --context <DR cluster> -n {service_plan.service.namespace} rollout status deployment/{workload}
```
"""
    return f"{title}\n"


def _digs(servers: tuple[str, ...], name: str) -> str:
    return "\n".join(
        f"dig +norecurse -p {port} @{host} {name}" for host, _, port in (s.rpartition(":") for s in servers)
    )


def _thresholds(failover: FailoverPlan) -> str:
    shown = {
        f"{probe.check.unhealthy_threshold} times (every {probe.check.interval})" for probe in failover.primary_probes
    }
    return " or ".join(sorted(shown))


def _loss(failover: FailoverPlan) -> str:
    if failover.dr_loss is None:
        return ""
    copies = "\n".join(
        f"- `{store}`: up to {datastore.dr_loss} behind ({datastore.dr_loss_basis})"
        for store, datastore in failover.datastores
    )
    return f"What a failover loses at worst: {failover.dr_loss}, as far as a DR copy lags behind.\n\n{copies}\n\n"


def failover_runbook(plan: Plan, service_plan: ServicePlan) -> str:
    failover = service_plan.failover
    assert failover is not None
    environment = failover.environment
    service, tier = service_plan.service, service_plan.tier
    # region names are free text: Markdown shows them as written
    primary, dr = escape.markdown_text(environment.primary_region), escape.markdown_text(environment.dr_region)
    rows: list[tuple[str, ...]] = [(planned.name, str(planned.budget), planned.basis) for planned in failover.steps]
    rows.append(("total", str(failover.total), f"of the RTO {tier.rto}"))
    steps = "\n".join(
        _step(plan, service_plan, failover, planned, number) for number, planned in enumerate(failover.steps, 1)
    )
    return f"""\
# Failover: {service.name}

Service `{service.name}` in namespace `{service.namespace}`, team {escape.markdown_text(service.team)},
tier {tier.name}: from {primary} to {dr} within the RTO of {tier.rto}. Every number here is the
plan's (`obskit plan --env {plan.environment.name}`).

{markdown_table(("step", "budget", "how"), rows)}
{_loss(failover)}## When to fail over, and when not

Fail over when `FailoverPrimaryUnhealthy` pages: every probe of {primary}'s health check failed
{_thresholds(failover)} in a row. One failed probe is no reason, and does not raise the page.

Before you start, in a minute or less:
- Is {dr} ready? `FailoverStandbyRegionUnhealthy` must not be firing, nor the DR copies' alerts
  (`FailoverBackupTooOld`, and each datastore's below).
- Is it {primary} and not the probes? `FailoverProbeMissing` firing means the blackbox_exporter
  lost its view: check the region another way before you act.
- A partial outage that the service survives within its SLO is not a reason either: follow the
  service's alert runbook instead.

## The steps

{steps}
## Check the result

- `FailoverStandbyRegionUnhealthy` stays silent and the service's SLO alerts resolve.
- `dig {service.failover.dns.name if service.failover else ""}` answers the DR region's address.
- Writes succeed against the promoted databases.

## Fail back

Once {primary} is healthy again, and only in a quiet hour:
1. Rebuild each datastore in {primary} as a standby of the new primary in {dr} (the promote
   step's section says how), and wait until it has caught up.
2. Run the steps again the other way: promote in {primary}, point the record back at {primary}'s
   address (`failover_dns.py` with that address), scale {primary} up and {dr} back down.
3. Re-create the DR copies and standbys in {dr} (`kubectl apply -k failover/` on the DR cluster).
"""
