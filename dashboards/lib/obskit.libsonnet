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

  // Inclusive prefix sums, by halves: O(n log n) work and O(log n) depth, where a fold that
  // appends would be quadratic and nest one stack frame per element.
  prefixSums(xs)::
    local n = std.length(xs);
    if n <= 1 then xs
    else
      local mid = std.floor(n / 2);
      local left = $.prefixSums(xs[0:mid]);
      local right = $.prefixSums(xs[mid:]);
      left + [v + left[mid - 1] for v in right],

  // Positions {x, y} (y relative to the section) and the height of one section's panels,
  // laid left to right and wrapped at Grafana's 24 columns. Equal widths are placed by
  // arithmetic, so a section of thousands of panels costs nothing; mixed widths are folded.
  local placeSection(widths, height) =
    local n = std.length(widths);
    if n == 0 then { positions: [], height: 0 }
    else if std.all([w == widths[0] for w in widths]) then
      local perLine = std.max(1, std.floor(24 / widths[0]));
      {
        positions: [{ x: (i % perLine) * widths[0], y: std.floor(i / perLine) * height } for i in std.range(0, n - 1)],
        height: std.ceil(n / perLine) * height,
      }
    else
      local step(state, w) =
        local wraps = state.x + w > 24;
        local x = if wraps then 0 else state.x;
        local y = if wraps then state.y + height else state.y;
        { x: x + w, y: y, positions: state.positions + [{ x: x, y: y }] };
      local placed = std.foldl(step, widths, { x: 0, y: 0, positions: [] });
      { positions: placed.positions, height: placed.y + height },

  // Lays panels out in sections that start at each row, numbering panel ids in order so
  // they are unique and stable. A panel may ask for its own width with a hidden field,
  // `panel { gridWidth:: 12 }`.
  grid(panels, width=8, height=8)::
    local n = std.length(panels);
    local starts = [i for i in std.range(0, n - 1) if i == 0 || panels[i].type == 'row'];
    local bounds = [[starts[k], if k + 1 < std.length(starts) then starts[k + 1] else n]
                    for k in std.range(0, std.length(starts) - 1)];
    local sections = [
      local members = panels[b[0]:b[1]];
      local hasRow = members[0].type == 'row';
      local items = if hasRow then members[1:] else members;
      local placed = placeSection([std.get(p, 'gridWidth', width, inc_hidden=true) for p in items], height);
      { start: b[0], hasRow: hasRow, items: items, placed: placed, height: (if hasRow then 1 else 0) + placed.height }
      for b in bounds
    ];
    local ends = $.prefixSums([section.height for section in sections]);
    std.flattenArrays([
      local section = sections[k];
      local top = ends[k] - section.height;
      local offset = if section.hasRow then 1 else 0;
      (if section.hasRow then [panels[section.start] { id: section.start + 1, gridPos: { x: 0, y: top, w: 24, h: 1 } }]
       else [])
      + [
        section.items[i] {
          id: section.start + offset + i + 1,
          gridPos: {
            x: section.placed.positions[i].x,
            y: top + offset + section.placed.positions[i].y,
            w: std.get(section.items[i], 'gridWidth', width, inc_hidden=true),
            h: height,
          },
        }
        for i in std.range(0, std.length(section.items) - 1)
      ]
      for k in std.range(0, std.length(sections) - 1)
    ]),
}
