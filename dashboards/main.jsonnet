// Dashboards of one environment, in one evaluation: { uid: dashboard }.
// External variables (see obskit/generate/dashboards.py): `plan`, the environment and the
// services to draw; `include`, which kinds to render ({services, overview, dr} booleans),
// so a large environment renders its service dashboards in parts.
local dr = import 'dr.libsonnet';
local overview = import 'overview.libsonnet';
local service = import 'service.libsonnet';
local plan = std.extVar('plan');
local include = std.extVar('include');

(if include.services then { [s.uid]: service.dashboard(plan, s) for s in plan.services } else {})
+ (if include.overview then { [plan.overview_uid]: overview.dashboard(plan) } else {})
+ (if include.dr && std.length([1 for s in plan.services if s.velero != null || std.length(s.datastores) > 0]) > 0
   then { [plan.dr_uid]: dr.dashboard(plan) } else {})
