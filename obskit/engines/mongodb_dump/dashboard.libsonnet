// MongoDB with mongodump: its rows of the DR dashboard (obskit/builtin_dashboards/dr.libsonnet calls them).
// limit(kind, extra): the DR limit series of that kind; one: the matchers of the chosen datastore.
// The jobs push with engine="mongodb": the selectors keep other engines' pushes out of these rows.
local o = import 'lib/obskit.libsonnet';

{
  local mine(plan, extra) = plan.selector('engine="mongodb"' + (if extra != '' then ',' + extra else '')),
  // the oplog's window per exporter job, given the service and datastore of the limit that names the job
  local oplogWindow(plan, limit, extra) =
    'max by (job) (' + plan.series.oplog_head + ' - ' + plan.series.oplog_tail + ') * on (job) '
    + 'group_left (service, datastore) label_replace(' + limit('oplog_window', extra)
    + ' * 0 + 1, "job", "$1", "exporter_job", "(.*)")',

  // In the "Every service" row
  // Every datastore has a drill limit and a restore estimate: `own` keeps those with a dump limit.
  overview(plan, limit)::
    local s = plan.series;
    local own(query) = query + ' and on (service, datastore) ' + limit('dump_age');
    [
    o.table('MongoDB dumps', 's',
            [o.query('time() - ' + s.backup_last_success + mine(plan, '')), o.query(limit('dump_age')),
             o.query('time() - ' + s.drill_last_success + mine(plan, '')), o.query(own(limit('drill_age'))),
             o.query(s.drill_duration + mine(plan, '')), o.query(own(limit('restore_estimate'))),
             o.query(limit('rto'))],
            ['last dump', 'dump limit', 'last successful drill', 'drill limit', 'drill duration',
             'restore estimate', 'RTO'],
            hidden=['limit', 'namespace', 'engine', 'exporter_job', 'job', 'instance'] + plan.env_labels)
      { gridWidth:: 24 },
  ],

  // In the "$service / $datastore" row
  detail(plan, limit, one)::
    local s = plan.series;
    [
    o.timeseries('Dump age against its limit', 's',
                 [o.query('time() - ' + s.backup_last_success + mine(plan, one), 'age'),
                  o.query(limit('dump_age', one), 'limit')],
                 'The limit is the interval between dumps, a dump and its upload: past it, writes are at risk '
                 + 'beyond the RPO.', min=0) { gridWidth:: 12 },
    o.timeseries('Restore drills against the RTO', 's',
                 [o.query(s.drill_duration + mine(plan, one), 'last successful drill'),
                  o.query(limit('restore_estimate', one), 'plan estimate'),
                  o.query(limit('rto', 'service="$service"'), 'RTO')], min=0) { gridWidth:: 12 },
    o.timeseries('Oplog window against a dump', 's',
                 [o.query(oplogWindow(plan, limit, one), 'window'),
                  o.query(limit('oplog_window', one), 'dump + margin')],
                 'mongodump --oplog fails when the oplog rolls over during the dump (mongodb_exporter '
                 + '--compatible-mode reports the window).', min=0) { gridWidth:: 24 },
  ],
}
