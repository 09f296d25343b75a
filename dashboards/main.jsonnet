// Every dashboard of one environment, in one evaluation: { uid: dashboard }.
// The plan comes in as the external variable `plan` (see obskit/generate/dashboards.py).
local dr = import 'dr.libsonnet';
local overview = import 'overview.libsonnet';
local service = import 'service.libsonnet';
local plan = std.extVar('plan');

{ [s.uid]: service.dashboard(plan, s) for s in plan.services }
+ { [plan.overview_uid]: overview.dashboard(plan) }
+ (if std.length([1 for s in plan.services if s.velero != null || std.length(s.datastores) > 0]) > 0
   then { [plan.dr_uid]: dr.dashboard(plan) } else {})
