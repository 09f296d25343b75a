"""A service's failover, planned: its probes, and a budget for each step against the tier's RTO.

Detection is obskit's alert on the probes (`probe_success`, scraped from the blackbox_exporter
through a Probe object). A region is unhealthy once its probes have failed for `interval x
unhealthy_threshold`: every probe over that span failed, threshold + 1 of them. So the alert never
fires before that long after the outage began, nor on one failed probe, nor on a lone failed probe
after a gap in the probes. It fires at the latest (threshold + 1) x interval after the outage (the
first failed probe comes up to an interval late), plus the probe's timeout before its sample is
stored, the rule group's evaluation interval, and Alertmanager's group_wait before the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from obskit.plan import conventions
from obskit.plan.dr import DRFindings, Infeasible
from obskit.plan.engine import DatastoreFailover
from obskit.spec.failover import DETECT, PROMOTE, SCALE, UPDATE_DNS, EnvironmentFailover, HealthCheck, Step
from obskit.spec.model import Service, Tier
from obskit.units import Duration, parse_duration

# Budgets of the steps a spec does not measure: promoting a standby (fencing, promotion, a write)
# takes seconds once it is reached, scaling waits for pods to be scheduled, pulled and ready.
DEFAULT_BUDGETS = {PROMOTE: parse_duration("2m"), SCALE: parse_duration("5m")}
# After the authoritative server answers the new record, resolvers hold the old one for its TTL;
# this covers the update reaching every authoritative server (secondaries, a provider's edge).
DNS_PROPAGATION = parse_duration("1m")
PROBE_TIMEOUT = parse_duration("10s")  # the longest a probe waits; never above its interval


@dataclass(frozen=True)
class ProbePlan:
    """One health check, probed through a Probe object by the environment's blackbox_exporter."""

    check: HealthCheck
    name: str  # the Probe object's name
    job: str  # the `job` label the operator gives its samples: probe/<namespace>/<name>
    region: str

    @property
    def unhealthy_after(self) -> Duration:
        """How long every probe must have failed for the region to be unhealthy."""
        return Duration(self.check.interval.ms * self.check.unhealthy_threshold)

    @property
    def timeout(self) -> Duration:
        """The probe's scrape timeout: a hanging endpoint's failure is stored this late."""
        return min(self.check.interval, PROBE_TIMEOUT)

    @property
    def window(self) -> Duration:
        """The range the alert first fires on: the unhealthy span and half an interval, so that it
        holds threshold + 1 probes as soon as the last of them is in, whether its start is open
        (Prometheus 3.x) or closed (2.x), and whatever jitter the scrapes have. It holds only
        threshold of them between two probes, so the alert also reads `steady_window`."""
        return Duration(self.unhealthy_after.ms + self.check.interval.ms // 2)

    @property
    def steady_window(self) -> Duration:
        """An interval longer: it always holds threshold + 1 probes or more, so that the alert keeps
        firing at every evaluation while the probes fail (on `window` alone it would resolve and
        fire again between two probes, and Alertmanager might never send the page)."""
        return Duration(self.window.ms + self.check.interval.ms)


@dataclass(frozen=True)
class StepPlan:
    step: Step
    budget: Duration
    basis: str  # how the budget is made up, for `obskit plan` and the runbook
    measured: bool  # the spec gives the step's duration

    @property
    def name(self) -> str:
        return self.step.name


@dataclass(frozen=True)
class FailoverPlan:
    environment: EnvironmentFailover
    probes: tuple[ProbePlan, ...]
    steps: tuple[StepPlan, ...]
    evaluation_interval: Duration  # of the detection alerts' rule group
    rto: Duration
    datastores: tuple[tuple[str, DatastoreFailover], ...] = ()  # each datastore's, by its name

    @property
    def dr_loss(self) -> Duration | None:
        """What a failover loses at worst: the DR copy furthest behind; None without datastores."""
        return max((failover.dr_loss for _, failover in self.datastores), default=None)

    @property
    def total(self) -> Duration:
        return Duration(sum(step.budget.ms for step in self.steps))

    @property
    def primary_probes(self) -> tuple[ProbePlan, ...]:
        return tuple(probe for probe in self.probes if probe.region == self.environment.primary_region)

    def step(self, name: str) -> StepPlan | None:
        return next((planned for planned in self.steps if planned.name == name), None)


def _probes(service: Service, environment: EnvironmentFailover) -> tuple[ProbePlan, ...]:
    assert service.failover is not None
    probes = []
    for index, check in enumerate(service.failover.health_checks):
        region = check.region or environment.primary_region
        name = conventions.probe_name(service.name, index)
        probes.append(ProbePlan(check, name, f"probe/{service.namespace}/{name}", region))
    return tuple(probes)


def _detect(probes: tuple[ProbePlan, ...], evaluation: Duration, group_wait: Duration) -> tuple[Duration, str]:
    """The latest the slowest of the primary region's probes pages after an outage."""

    def latest(probe: ProbePlan) -> int:
        return probe.check.interval.ms * (probe.check.unhealthy_threshold + 1) + probe.timeout.ms

    slowest = max(probes, key=latest)
    check = slowest.check
    budget = Duration(latest(slowest) + evaluation.ms + group_wait.ms)
    basis = (
        f"{check.unhealthy_threshold} x {check.interval} of failed probes, + {check.interval} to the first, "
        f"+ {slowest.timeout} probe timeout, + {evaluation} evaluation, + {group_wait} Alertmanager group_wait"
    )
    return budget, basis


def _step(step: Step, ttl: int, detect: tuple[Duration, str]) -> StepPlan:
    if step.name == DETECT:
        return StepPlan(step, detect[0], detect[1], False)
    if step.name == UPDATE_DNS:
        propagation = step.duration or DNS_PROPAGATION
        budget = Duration(ttl * 1000 + propagation.ms)
        how = "measured" if step.duration else "default"
        return StepPlan(
            step, budget, f"TTL {Duration(ttl * 1000)} + {propagation} propagation ({how})", bool(step.duration)
        )
    if step.duration is not None:
        return StepPlan(step, step.duration, "measured", True)
    default = DEFAULT_BUDGETS[step.name]  # validation requires a duration of any other step
    return StepPlan(step, default, "obskit's default, until measured", False)


def failover_plan(
    service: Service,
    tier: Tier,
    environment: EnvironmentFailover,
    timing: tuple[Duration, Duration],
    findings: DRFindings,
    datastores: tuple[tuple[str, DatastoreFailover], ...] = (),
) -> FailoverPlan:
    """`timing`: the detection alerts' evaluation interval, and the group_wait of their page."""
    assert service.failover is not None
    probes = _probes(service, environment)
    evaluation, group_wait = timing
    primary = tuple(probe for probe in probes if probe.region == environment.primary_region)
    detect = _detect(primary, evaluation, group_wait)
    steps = tuple(_step(step, service.failover.dns.ttl, detect) for step in service.failover.steps)
    plan = FailoverPlan(environment, probes, steps, evaluation, tier.rto, datastores)
    if plan.total > tier.rto:
        shares = ", ".join(f"{planned.name} {planned.budget}" for planned in steps)
        largest = max(steps, key=lambda planned: planned.budget.ms)
        findings.infeasible.append(
            Infeasible(
                service.name,
                None,
                f"the failover takes up to {plan.total} ({shares}) against an RTO of {tier.rto}: shorten "
                f"{largest.name} ({largest.basis}), measure the steps that use defaults, or choose a tier "
                "with a longer RTO",
                ("failover",),
            )
        )
    return plan
