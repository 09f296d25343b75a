// One page of an environment's dashboards, in one evaluation: { uid: dashboard }.
// The external variable `plan` (see obskit/generate/dashboards.py) holds the environment
// and the services of the page; a large environment is drawn in several pages, each with
// its own overview and DR dashboard, so no dashboard outgrows Grafana or a ConfigMap. A page
// whose services have no backups has no DR dashboard: `plan.dr_uid` is null.
local dr = import 'dr.libsonnet';
local overview = import 'overview.libsonnet';
local service = import 'service.libsonnet';
local plan = std.extVar('plan');

{ [s.uid]: service.dashboard(plan, s) for s in plan.services }
+ { [plan.overview_uid]: overview.dashboard(plan) }
+ (if plan.dr_uid != null then { [plan.dr_uid]: dr.dashboard(plan) } else {})
