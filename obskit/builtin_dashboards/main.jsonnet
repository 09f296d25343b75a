// An environment's dashboards, in one evaluation: { uid: dashboard }. The same three for any
// number of services (see obskit/generate/dashboards.py for the external variable `plan`); the
// DR dashboard only where a service has backups.
local dr = import 'dr.libsonnet';
local overview = import 'overview.libsonnet';
local slo = import 'slo.libsonnet';
local data = std.extVar('plan');
// env(extra): a selector of the environment's labels and `extra` matchers
local plan = data { selector:: function(extra) '{' + std.join(',', data.env_matchers + (if extra != '' then [extra] else [])) + '}' };

{ [plan.uids.overview]: overview.dashboard(plan), [plan.uids.slo]: slo.dashboard(plan) }
+ (if plan.has_backups then { [plan.uids.dr]: dr.dashboard(plan) } else {})
