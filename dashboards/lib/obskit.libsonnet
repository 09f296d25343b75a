// obskit's own small dashboard library: just what its templates need.
// Every panel reads the `datasource` template variable and carries a unit.
{
  datasource:: { type: 'prometheus', uid: '${datasource}' },

  dashboard(title, uid, tags=[], links=[]):: {
    title: title,
    uid: uid,
    tags: tags,
    links: links,
    editable: false,
    graphTooltip: 1,
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    timezone: 'utc',
    refresh: '1m',
    templating: {
      list: [{
        name: 'datasource',
        label: 'Data source',
        type: 'datasource',
        query: 'prometheus',
        current: {},
        hide: 0,
      }],
    },
    panels: [],
  },

  query(expr, legend='', instant=false):: {
    datasource: $.datasource,
    expr: expr,
    legendFormat: legend,
    instant: instant,
    range: !instant,
    refId: '',
  },

  panel(type, title, unit, targets, description=''):: {
    type: type,
    title: title,
    description: description,
    datasource: $.datasource,
    fieldConfig: { defaults: { unit: unit }, overrides: [] },
    options: {},
    targets: std.mapWithIndex(function(i, t) t { refId: std.char(65 + i) }, targets),
  },

  timeseries(title, unit, targets, description=''):: $.panel('timeseries', title, unit, targets, description),
  stat(title, unit, targets, description=''):: $.panel('stat', title, unit, targets, description),

  row(title):: { type: 'row', title: title, collapsed: false, panels: [] },

  // Lays panels out left to right in rows of `width` columns (Grafana's grid is 24 wide),
  // numbering panel ids in order so they are unique and stable.
  grid(panels, width=8, height=8)::
    local place(state, panel) =
      local isRow = panel.type == 'row';
      local w = if isRow then 24 else width;
      local wraps = isRow || state.x + w > 24;
      local x = if wraps && !isRow then 0 else if isRow then 0 else state.x;
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
