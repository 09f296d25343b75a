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

  panel(type, title, unit, targets, description='', thresholds=null, min=null, max=null, links=[]):: {
    type: type,
    title: title,
    description: description,
    datasource: $.datasource,
    links: links,
    fieldConfig: {
      defaults: { unit: unit }
                + (if thresholds != null then { thresholds: thresholds } else {})
                + (if min != null then { min: min } else {})
                + (if max != null then { max: max } else {}),
      overrides: [],
    },
    options: {},
    targets: std.mapWithIndex(function(i, t) t { refId: std.char(65 + i) }, targets),
  },

  timeseries(title, unit, targets, description='', thresholds=null, min=null, max=null)::
    $.panel('timeseries', title, unit, targets, description, thresholds, min, max) + {
      // thresholds are drawn as lines: the alert thresholds and objectives on the graph
      fieldConfig+: { defaults+: { custom: { thresholdsStyle: { mode: if thresholds != null then 'line' else 'off' } } } },
    },
  stat(title, unit, targets, description='', thresholds=null, min=null, max=null, links=[])::
    $.panel('stat', title, unit, targets, description, thresholds, min, max, links),

  row(title):: { type: 'row', title: title, collapsed: false, panels: [] },

  // Lays panels out left to right in rows of `width` columns (Grafana's grid is 24 wide),
  // numbering panel ids in order so they are unique and stable. A panel may ask for its
  // own width with a hidden field, `panel { gridWidth:: 12 }`.
  grid(panels, width=8, height=8)::
    local place(state, panel) =
      local isRow = panel.type == 'row';
      local w = if isRow then 24 else std.get(panel, 'gridWidth', width, inc_hidden=true);
      local wraps = isRow || state.x + w > 24;
      local x = if wraps then 0 else state.x;
      local y = if wraps && state.x > 0 then state.y + state.h else state.y;
      {
        x: if isRow then 0 else x + w,
        y: if isRow then y + 1 else y,
        h: if isRow then 0 else height,
        id: state.id + 1,
        panels: state.panels + [panel { id: state.id + 1, gridPos: { x: x, y: y, w: w, h: if isRow then 1 else height } }],
      };
    std.foldl(place, panels, { x: 0, y: 0, h: 0, id: 0, panels: [] }).panels,
}
