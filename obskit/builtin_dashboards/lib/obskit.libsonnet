// obskit's own small dashboard library: just what its templates need.
// Every panel reads the `datasource` template variable and carries a unit.
{
  datasource:: { type: 'prometheus', uid: '${datasource}' },

  dashboard(title, uid, tags=[], links=[], description=''):: {
    title: title,
    uid: uid,
    description: description,
    tags: tags,
    links: links,
    editable: false,
    graphTooltip: 1,
    schemaVersion: 41,
    time: { from: 'now-6h', to: 'now' },
    timezone: 'utc',
    refresh: '1m',
    annotations: { list: [] },
    templating: {
      list: [{
        name: 'datasource',
        label: 'Data source',
        type: 'datasource',
        query: 'prometheus',
        hide: 0,
      }],
    },
    panels: [],
  },

  // A link to another dashboard by uid, keeping the time range and the data source.
  link(title, uid):: {
    title: title,
    type: 'link',
    url: '/d/' + uid + '?${__url_time_range}&${datasource:queryparam}',
    icon: 'dashboard',
    tooltip: '',
    tags: [],
    asDropdown: false,
    targetBlank: false,
    includeVars: false,
    keepTime: false,
  },

  // The link to the page's DR dashboard, or none when the page has no services with backups.
  drLinks(plan):: if plan.dr_uid != null then [$.link('Disaster recovery', plan.dr_uid)] else [],

  // A drop-down of the dashboards carrying all of `tags`: the other pages of a paged dashboard.
  pagesLink(title, tags):: $.link(title, '') {
    type: 'dashboards',
    url: '',
    tags: tags,
    asDropdown: true,
    keepTime: true,
    includeVars: true,
  },

  query(expr, legend='', instant=false):: {
    datasource: $.datasource,
    expr: expr,
    legendFormat: legend,
    instant: instant,
    range: !instant,
    refId: '',
  },

  // steps: [[value or null, color], ...], lowest first; the first value must be null.
  thresholds(steps):: {
    mode: 'absolute',
    steps: [{ value: step[0], color: step[1] } for step in steps],
  },

  // The panel of `panel`, `stat` and `timeseries`, built as one object literal: an unset option
  // is a field whose name is null, which go-jsonnet evaluates much faster than merging objects
  // with `+` (or `+:`). `custom` is the field config's drawing style (timeseries only).
  local makePanel(type, title, unit, targets, description, thresholds, min, max, links, custom) = {
    type: type,
    title: title,
    description: description,
    datasource: $.datasource,
    links: links,
    fieldConfig: {
      defaults: {
        unit: unit,
        [if thresholds != null then 'thresholds']: thresholds,
        [if min != null then 'min']: min,
        [if max != null then 'max']: max,
        [if custom != null then 'custom']: custom,
      },
      overrides: [],
    },
    options: {},
    // queries lettered A, B, ... in order
    targets: std.makeArray(std.length(targets), function(i) targets[i] { refId: std.char(65 + i) }),
  },

  panel(type, title, unit, targets, description='', thresholds=null, min=null, max=null, links=[])::
    makePanel(type, title, unit, targets, description, thresholds, min, max, links, null),

  timeseries(title, unit, targets, description='', thresholds=null, min=null, max=null)::
    // thresholds are drawn as lines: the alert thresholds and objectives on the graph
    makePanel('timeseries', title, unit, targets, description, thresholds, min, max, [],
              { thresholdsStyle: { mode: if thresholds != null then 'line' else 'off' } }),
  stat(title, unit, targets, description='', thresholds=null, min=null, max=null, links=[])::
    makePanel('stat', title, unit, targets, description, thresholds, min, max, links, null),

  row(title):: { type: 'row', title: title, collapsed: false, panels: [] },

  // A table of instant queries merged on their labels, one row per label set: `columns` names
  // each query's value (Value #A, #B, ...; null: not shown), all in `unit`; `hidden` lists labels not shown.
  table(title, unit, targets, columns, hidden=[], description='', links=[]):: {
    type: 'table',
    title: title,
    description: description,
    datasource: $.datasource,
    fieldConfig: { defaults: { unit: unit, links: links }, overrides: [] },
    options: { showHeader: true },
    transformations: [
      { id: 'merge', options: {} },
      {
        id: 'organize',
        options: {
          excludeByName: { [name]: true for name in ['Time', '__name__'] + hidden }
                         + { ['Value #' + std.char(65 + i)]: true for i in std.range(0, std.length(columns) - 1) if columns[i] == null },
          renameByName: { ['Value #' + std.char(65 + i)]: columns[i] for i in std.range(0, std.length(columns) - 1) if columns[i] != null },
        },
      },
    ],
    targets: std.makeArray(std.length(targets), function(i) targets[i] {
      refId: std.char(65 + i), format: 'table', instant: true, range: false,
    }),
  },

  // A template variable from the label values of a recorded series.
  variable(name, label, query, hide=0):: {
    name: name,
    label: label,
    type: 'query',
    datasource: $.datasource,
    query: query,
    definition: query,
    refresh: 2,
    sort: 1,
    hide: hide,
    includeAll: false,
    multi: false,
  },

  // Firing alerts as annotations on every graph.
  alertAnnotations(expr):: {
    name: 'Firing alerts',
    datasource: $.datasource,
    enable: true,
    iconColor: 'red',
    expr: expr,
    step: '1m',
    titleFormat: '{{alertname}}',
    textFormat: '{{severity}}',
  },

  // The grid position of `panel`, placed after the panel at `prev`: a row spans the width on
  // a line of its own below everything above it; other panels go left to right, `width`
  // columns wide unless they ask for their own with a hidden field, `panel { gridWidth:: 12 }`,
  // and wrap at Grafana's 24 columns. Every panel of a line has the same height, so the lowest
  // line so far ends at `prev.y + prev.h`.
  local nextPosition(prev, panel, width, height) =
    if panel.type == 'row' then { x: 0, y: prev.y + prev.h, w: 24, h: 1 }
    else
      local w = if std.objectHasEx(panel, 'gridWidth', true) then panel.gridWidth else width;
      if prev.x + prev.w + w > 24 then { x: 0, y: prev.y + prev.h, w: w, h: height }
      else { x: prev.x + prev.w, y: prev.y, w: w, h: height },

  // Lays panels out in sections that start at each row, numbering panel ids in order so
  // they are unique and stable. Each position follows from the one before by arithmetic, one
  // small object per panel: go-jsonnet spends microseconds on every call, slice and lazy
  // value (std.get, std.all and slicing are calls of the Jsonnet standard library), so the
  // layout costs far less than the panels it places.
  grid(panels, width=8, height=8)::
    local n = std.length(panels);
    local positions = std.makeArray(n, function(i)
      nextPosition(if i == 0 then { x: 0, y: 0, w: 0, h: 0 } else positions[i - 1], panels[i], width, height));
    // Positions are lazy, each waiting on the one before: evaluate them first and in order, or
    // reading a late one first would nest a stack frame per panel above it.
    assert std.foldl(function(_, position) position.y, positions, 0) >= 0;
    [panels[i] { id: i + 1, gridPos: positions[i] } for i in std.range(0, n - 1)],
}
