// PostgreSQL with WAL-G: its rows of the DR dashboard (obskit/builtin_dashboards/dr.libsonnet calls them).
// limit(kind, extra): the DR limit series of that kind; one: the matchers of the chosen datastore.
local o = import 'lib/obskit.libsonnet';

{
  local archiveAge(plan, limit) =
    // the archive age carries the exporter's job; the limit names it: give the age service and datastore
    'max by (job) (' + plan.series.archive_age + ') * on (job) group_left (service, datastore) '
    + 'label_replace(' + limit('archive_age') + ' * 0 + 1, "job", "$1", "exporter_job", "(.*)")',

  // In the "Every service" row. Every engine's jobs push the same series and every datastore has a
  // drill limit: `own` keeps the rows of this engine's datastores, those with a WAL archive limit.
  overview(plan, limit)::
    local s = plan.series;
    local env = plan.selector;
    local own(query) = query + ' and on (service, datastore) ' + limit('archive_age');
    [
    o.table('Datastores', 's',
            [o.query(archiveAge(plan, limit)), o.query(limit('archive_age')),
             o.query(own('time() - ' + s.backup_last_success + env(''))), o.query(limit('base_backup_age')),
             o.query(own('time() - ' + s.drill_last_success + env(''))), o.query(own(limit('drill_age'))),
             o.query(own(s.drill_duration + env(''))), o.query(limit('rto'))],
            ['WAL archive age', 'RPO', 'last base backup', 'base backup limit', 'last successful drill',
             'drill limit', 'drill duration', 'RTO'],
            hidden=['limit', 'namespace', 'exporter_job', 'job', 'instance'] + plan.env_labels) { gridWidth:: 24 },
  ],

  // In the "$service / $datastore" row
  detail(plan, limit, one)::
    local s = plan.series;
    local env = plan.selector;
    [
    o.timeseries('WAL archive age against the RPO', 's',
                 [o.query(archiveAge(plan, limit) + ' and on (service, datastore) ' + limit('archive_age', one), 'age'),
                  o.query(limit('archive_age', one), 'RPO')],
                 'An idle database ages without losing anything: the alert counts the age only while rows are written.',
                 min=0) { gridWidth:: 12 },
    o.timeseries('Base backup age against its limit', 's',
                 [o.query('time() - ' + s.backup_last_success + env(one), 'age'),
                  o.query(limit('base_backup_age', one), 'limit')], min=0) { gridWidth:: 12 },
    o.timeseries('Restore drills against the RTO', 's',
                 [o.query(s.drill_duration + env(one), 'last successful drill'),
                  o.query(limit('restore_estimate', one), 'plan estimate'),
                  o.query(limit('rto', 'service="$service"'), 'RTO')], min=0) { gridWidth:: 12 },
    o.timeseries('WAL archiving failures', 'short',
                 [o.query('increase(' + s.archive_failures + '[$__rate_interval]) * on (job) group_left () '
                          + 'label_replace(' + limit('archive_age', one) + ' * 0 + 1, "job", "$1", "exporter_job", "(.*)")',
                          'failures')], min=0) { gridWidth:: 12 },
  ],
}
