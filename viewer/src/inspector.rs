//! The inspector: everything about the selected entity. Its detail comes
//! from `GetEntity`, `GetRelations` and `ListEvents`; each numeric
//! measurand is plotted from `GetHistory` at a resolution that fits the
//! plotted window (raw up to 6 h, 5-minute buckets up to 3 days, hourly
//! beyond), with the live tail from the watch stream appended and, where
//! the twin forecasts the measurand, its latest forecast drawn ahead of the
//! series as a band.

use std::collections::BTreeMap;

use egui::{Color32, RichText};
use egui_plot::{FilledArea, HoverPosition, Legend, Line, Plot, PlotPoints};
use twin_proto::v1 as pb;

use crate::format;
use crate::net::{Detail, History, Request};

const HOUR_MS: f64 = 3_600_000.0;

/// One measurand's points, in hours of simulated time.
#[derive(Default)]
struct Series {
    history: Vec<[f64; 2]>,
    /// Bucket min/max where the history is bucketed.
    spread: Vec<(f64, f64, f64)>,
    /// Points from the watch stream, after the history.
    live: Vec<[f64; 2]>,
    /// Interval estimates (RUL): (t, low, high).
    band: Vec<(f64, f64, f64)>,
    /// The latest forecast of the series: (t at the middle of each step,
    /// predicted, low, high).
    ahead: Vec<(f64, f64, f64, f64)>,
    /// The window fetched, ms, and whether a fetch is on its way.
    fetched: Option<(i64, i64)>,
    pending: bool,
}

pub struct Inspector {
    pub detail: Option<Detail>,
    series: BTreeMap<String, Series>,
    /// Live events of the entity since it was selected, newest first.
    live_events: Vec<pb::Event>,
    /// Plotted window length, hours.
    pub span_h: f64,
    /// Whether the window follows simulated time.
    pub follow: bool,
    /// The window when not following, hours.
    view: (f64, f64),
}

impl Default for Inspector {
    fn default() -> Inspector {
        Inspector {
            detail: None,
            series: BTreeMap::new(),
            live_events: Vec::new(),
            span_h: 6.0,
            follow: true,
            view: (0.0, 6.0),
        }
    }
}

/// What the user did in the inspector.
pub enum Action {
    Select(String),
    Close,
}

impl Inspector {
    pub fn id(&self) -> Option<&str> {
        self.detail.as_ref().map(|d| d.entity.id.as_str())
    }

    /// A new detail: for the same entity it refreshes, for another it starts over.
    pub fn set_detail(&mut self, d: Detail) {
        if self.id() != Some(d.entity.id.as_str()) {
            self.series.clear();
            self.live_events.clear();
            self.follow = true;
            // Hourly forecasts need a window of days to read.
            if d.entity
                .readings
                .iter()
                .any(|r| is_forecast(r.value.as_ref()))
            {
                self.span_h = self.span_h.max(24.0);
            }
        }
        for r in &d.entity.readings {
            if is_plottable(r.value.as_ref()) {
                self.series.entry(r.measurand.clone()).or_default();
            }
        }
        for r in &d.entity.readings {
            self.forecast(&r.measurand, r.time_ms, r.value.as_ref());
        }
        if let Some(rul) = rul_of(&d.entity) {
            self.series.entry("rul".into()).or_default().band.push(rul);
        }
        self.detail = Some(d);
    }

    /// Takes a reading of a forecast measurand (others are left): it
    /// replaces the forecast drawn ahead of the series it forecasts.
    fn forecast(&mut self, measurand: &str, time_ms: i64, v: Option<&pb::Value>) {
        let Some(pb::value::Kind::Forecast(f)) = v.and_then(|v| v.kind.as_ref()) else {
            return;
        };
        let Some(of) = measurand
            .parse::<twin_core::Measurand>()
            .ok()
            .and_then(|m| m.forecast_of())
        else {
            return;
        };
        let step = f.step_ms as f64 / HOUR_MS;
        let t0 = time_ms as f64 / HOUR_MS;
        self.series.entry(of.name().to_string()).or_default().ahead = f
            .points
            .iter()
            .enumerate()
            .map(|(i, e)| (t0 + (i as f64 + 0.5) * step, e.value, e.low, e.high))
            .collect();
    }

    /// How many points the forecast of `measurand` holds.
    pub fn forecast_points(&self, measurand: &str) -> usize {
        self.series.get(measurand).map_or(0, |s| s.ahead.len())
    }

    /// How many points the plot of `measurand` holds (history and live tail).
    pub fn points(&self, measurand: &str) -> usize {
        self.series
            .get(measurand)
            .map_or(0, |s| s.history.len() + s.live.len())
    }

    pub fn clear(&mut self) {
        *self = Inspector {
            span_h: self.span_h,
            ..Inspector::default()
        };
    }

    pub fn set_history(&mut self, h: History) {
        if self.id() != Some(h.id.as_str()) {
            return;
        }
        let s = self.series.entry(h.measurand).or_default();
        s.pending = false;
        s.fetched = Some((h.from_ms, h.to_ms));
        s.history = h
            .points
            .iter()
            .map(|&(t, v)| [t as f64 / HOUR_MS, v])
            .collect();
        s.spread = h
            .spread
            .iter()
            .map(|&(t, lo, hi)| (t as f64 / HOUR_MS, lo, hi))
            .collect();
        // The live tail keeps only what the history does not hold yet.
        let end = h.to_ms as f64 / HOUR_MS;
        s.live.retain(|p| p[0] >= end);
    }

    /// Events of the selected entity from the watch stream.
    pub fn live(&mut self, events: &[pb::Event]) {
        let Some(id) = self.id().map(str::to_string) else {
            return;
        };
        for e in events.iter().filter(|e| e.entity == id) {
            let t = e.time_ms as f64 / HOUR_MS;
            if e.r#type() == pb::EventType::StateChanged {
                use pb::value::Kind as V;
                let s = self.series.entry(e.measurand.clone());
                match e.value.as_ref().and_then(|v| v.kind.as_ref()) {
                    Some(V::Number(x)) => s.or_default().live.push([t, *x]),
                    Some(V::Forecast(_)) => {
                        self.forecast(&e.measurand, e.time_ms, e.value.as_ref());
                    }
                    Some(V::Interval(i)) => {
                        let s = s.or_default();
                        s.live.push([t, i.value]);
                        s.band.push((t, i.low, i.high));
                    }
                    _ => {}
                }
            }
            self.live_events.insert(0, e.clone());
        }
        self.live_events.truncate(200);
    }

    /// Asks for the history each plotted window needs.
    fn fetch(&mut self, now_ms: i64, send: &mut dyn FnMut(Request)) {
        let Some(id) = self.id().map(str::to_string) else {
            return;
        };
        let (from_h, to_h) = self.window(now_ms);
        let (from, to) = ((from_h * HOUR_MS) as i64, (to_h * HOUR_MS) as i64);
        let span = (to - from).max(1);
        for (m, s) in &mut self.series {
            if s.pending {
                continue;
            }
            // Fetch again when the window moved or changed size by a quarter.
            let stale = s.fetched.is_none_or(|(f, t)| {
                (f - from).abs() > span / 4 || ((t - f) - span).abs() > span / 4
            });
            if stale {
                s.pending = true;
                send(Request::History {
                    id: id.clone(),
                    measurand: m.clone(),
                    from_ms: from,
                    to_ms: to,
                });
            }
        }
    }

    /// The plotted window, hours; when it follows, it reaches a little
    /// past now where a forecast is drawn.
    fn window(&self, now_ms: i64) -> (f64, f64) {
        if self.follow {
            let now = now_ms as f64 / HOUR_MS;
            let ahead = if self.series.values().any(|s| !s.ahead.is_empty()) {
                (self.span_h / 2.0).min(24.0)
            } else {
                0.0
            };
            (now - self.span_h, now + ahead)
        } else {
            self.view
        }
    }

    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        now_ms: i64,
        send: &mut dyn FnMut(Request),
    ) -> Option<Action> {
        let mut action = None;
        // Taken out while drawn, so that the plots may borrow the rest.
        let Some(d) = self.detail.take() else {
            ui.weak("Loading…");
            return None;
        };
        let e = &d.entity;
        ui.horizontal(|ui| {
            ui.heading(&e.id);
            if ui
                .small_button("Close")
                .on_hover_text("Close the inspector")
                .clicked()
            {
                action = Some(Action::Close);
            }
        });
        ui.label(format!(
            "{} · {} · updated {}",
            kind_name(e.kind()),
            e.subtype,
            format::sim_time(e.updated_ms)
        ));
        if !e.tags.is_empty() {
            ui.weak(e.tags.join(", "));
        }
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::CollapsingHeader::new("State")
                .default_open(true)
                .show(ui, |ui| state(ui, e));
            if !e.controls.is_empty() {
                egui::CollapsingHeader::new("Desired vs reported")
                    .default_open(true)
                    .show(ui, |ui| controls(ui, &e.controls));
            }
            egui::CollapsingHeader::new("Relations")
                .default_open(true)
                .show(ui, |ui| {
                    if let Some(id) = relations(ui, &d.relations) {
                        action = Some(Action::Select(id));
                    }
                });
            egui::CollapsingHeader::new("Time series")
                .default_open(true)
                .show(ui, |ui| {
                    self.plots(ui, now_ms);
                });
            egui::CollapsingHeader::new("Events")
                .default_open(false)
                .show(ui, |ui| {
                    for ev in self.live_events.iter().chain(&d.events).take(100) {
                        ui.label(format!(
                            "{}  {}",
                            format::sim_time(ev.time_ms),
                            describe(ev)
                        ));
                    }
                });
        });
        self.detail = Some(d);
        self.fetch(now_ms, send);
        action
    }

    fn plots(&mut self, ui: &mut egui::Ui, now_ms: i64) {
        ui.horizontal(|ui| {
            for (label, h) in [
                ("1 h", 1.0),
                ("6 h", 6.0),
                ("24 h", 24.0),
                ("7 d", 168.0),
                ("30 d", 720.0),
            ] {
                if ui
                    .selectable_label(self.follow && self.span_h == h, label)
                    .clicked()
                {
                    self.span_h = h;
                    self.follow = true;
                }
            }
            if !self.follow && ui.button("Follow live").clicked() {
                self.follow = true;
            }
        });
        let (from, to) = self.window(now_ms);
        let link = ui.scope_id().with("inspector-plots");
        let mut moved = None;
        // Series with a forecast first (where the eye goes), then by name.
        let mut order: Vec<(&String, &Series)> = self.series.iter().collect();
        order.sort_by_key(|(_, s)| s.ahead.is_empty());
        for (m, s) in order {
            if s.history.is_empty() && s.live.is_empty() && s.band.is_empty() && s.ahead.is_empty()
            {
                continue;
            }
            ui.label(RichText::new(m).strong());
            let follow = self.follow;
            let r = Plot::new(("series", m))
                .height(110.0)
                .link_axis(link, [true, false])
                .x_axis_formatter(|mark, _| format::sim_time((mark.value * HOUR_MS) as i64))
                .label_formatter(|hover| {
                    let (HoverPosition::NearDataPoint { position: p, .. }
                    | HoverPosition::Elsewhere { position: p }) = hover;
                    Some(format!(
                        "{}\n{}",
                        format::sim_time((p.x * HOUR_MS) as i64),
                        format::number(p.y)
                    ))
                })
                .legend(Legend::default().position(egui_plot::Corner::LeftTop))
                .show(ui, |pu| {
                    if follow {
                        pu.set_plot_bounds_x(from..=to);
                        pu.set_auto_bounds([false, true]);
                    }
                    if !s.band.is_empty() {
                        area(pu, "interval", s.band.iter().copied(), (100, 150, 250, 60));
                    }
                    if !s.spread.is_empty() && s.spread.len() == s.history.len() {
                        area(pu, "min–max", s.spread.iter().copied(), (150, 150, 150, 50));
                    }
                    if !s.ahead.is_empty() {
                        let bounds = s.ahead.iter().map(|a| (a.0, a.2, a.3));
                        area(pu, "forecast interval", bounds, (240, 150, 40, 60));
                        let line: Vec<[f64; 2]> = s.ahead.iter().map(|a| [a.0, a.1]).collect();
                        pu.line(
                            Line::new("forecast", PlotPoints::from(line))
                                .color(Color32::from_rgb(230, 120, 20))
                                .style(egui_plot::LineStyle::dashed_loose()),
                        );
                    }
                    let mut pts = s.history.clone();
                    let end = pts.last().map_or(f64::NEG_INFINITY, |l| l[0]);
                    pts.extend(s.live.iter().filter(|p| p[0] > end));
                    pu.line(Line::new(m.as_str(), PlotPoints::from(pts)));
                    let dragged = pu.response().dragged()
                        || (pu.response().hovered()
                            && pu
                                .ctx()
                                .input(|i| i.smooth_scroll_delta != egui::Vec2::ZERO));
                    let b = pu.plot_bounds();
                    (dragged, (b.min()[0], b.max()[0]))
                });
            let (dragged, bounds) = r.inner;
            if dragged {
                moved = Some(bounds);
            }
        }
        if let Some(b) = moved {
            // The user took the window: it stops following.
            self.follow = false;
            self.view = b;
        }
        if self
            .series
            .values()
            .all(|s| s.history.is_empty() && s.live.is_empty())
        {
            ui.weak("No numeric history in this window.");
        }
    }
}

/// A filled area between `(x, low, high)` points, in an RGBA colour.
fn area(
    pu: &mut egui_plot::PlotUi,
    name: &str,
    points: impl Iterator<Item = (f64, f64, f64)>,
    (r, g, b, a): (u8, u8, u8, u8),
) {
    let (mut xs, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
    for (x, l, h) in points {
        xs.push(x);
        lo.push(l);
        hi.push(h);
    }
    pu.add(
        FilledArea::new(name, &xs, &lo, &hi)
            .fill_color(Color32::from_rgba_unmultiplied(r, g, b, a)),
    );
}

fn is_plottable(v: Option<&pb::Value>) -> bool {
    use pb::value::Kind as V;
    matches!(
        v.and_then(|v| v.kind.as_ref()),
        Some(V::Number(_) | V::Interval(_))
    )
}

fn is_forecast(v: Option<&pb::Value>) -> bool {
    matches!(
        v.and_then(|v| v.kind.as_ref()),
        Some(pb::value::Kind::Forecast(_))
    )
}

/// A machine's RUL estimate from its state: (t h, low, high).
fn rul_of(e: &pb::Entity) -> Option<(f64, f64, f64)> {
    let Some(pb::entity::State::Machine(m)) = &e.state else {
        return None;
    };
    let r = m.rul.as_ref()?;
    Some((r.at_ms as f64 / HOUR_MS, r.low, r.high))
}

pub fn kind_name(k: pb::Kind) -> &'static str {
    match k {
        pb::Kind::Parcel => "parcel",
        pb::Kind::Machine => "machine",
        pb::Kind::Sensor => "sensor",
        pb::Kind::Vehicle => "vehicle",
        pb::Kind::Zone => "zone",
        pb::Kind::Unspecified => "entity",
    }
}

/// Every state field: the kind's own, then each reading.
fn state(ui: &mut egui::Ui, e: &pb::Entity) {
    egui::Grid::new("state-fields")
        .striped(true)
        .num_columns(2)
        .show(ui, |ui| {
            for (k, x) in crate::state_text::fields(e) {
                ui.label(k);
                ui.label(x);
                ui.end_row();
            }
        });
    ui.add_space(4.0);
    egui::Grid::new("readings")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for h in ["reading", "value", "quality", "at"] {
                ui.strong(h);
            }
            ui.end_row();
            for r in &e.readings {
                let level = match r.level() {
                    pb::AlarmLevel::Critical => Color32::from_rgb(220, 40, 40),
                    pb::AlarmLevel::Warning => Color32::from_rgb(230, 160, 0),
                    _ => ui.visuals().text_color(),
                };
                ui.label(&r.measurand);
                ui.label(RichText::new(format::value(&r.measurand, r.value.as_ref())).color(level));
                ui.label(crate::state_text::quality(r.quality()));
                ui.label(format::sim_time(r.time_ms));
                ui.end_row();
            }
        });
}

/// Desired against reported; a property out of sync is highlighted with
/// its difference.
fn controls(ui: &mut egui::Ui, controls: &[pb::Control]) {
    egui::Grid::new("controls")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for h in ["property", "desired", "reported", ""] {
                ui.strong(h);
            }
            ui.end_row();
            for c in controls {
                ui.label(&c.measurand);
                ui.label(format::value(&c.measurand, c.desired.as_ref()));
                let reported = format::value(&c.measurand, c.reported.as_ref());
                if c.in_sync {
                    ui.label(reported);
                    ui.label(RichText::new("in sync").color(Color32::from_rgb(40, 160, 80)));
                } else {
                    ui.label(
                        RichText::new(reported)
                            .color(Color32::WHITE)
                            .background_color(Color32::from_rgb(190, 50, 40)),
                    );
                    ui.label(RichText::new(difference(c)).color(Color32::from_rgb(220, 60, 40)));
                }
                ui.end_row();
            }
        });
}

fn difference(c: &pb::Control) -> String {
    use pb::value::Kind as V;
    let num = |v: &Option<pb::Value>| match v.as_ref().and_then(|v| v.kind.as_ref()) {
        Some(V::Number(x)) => Some(*x),
        _ => None,
    };
    match (num(&c.desired), num(&c.reported)) {
        (Some(d), Some(r)) => format!("Δ {}", format::number(r - d)),
        _ => "differs".into(),
    }
}

/// Relations as links; returns the one clicked.
fn relations(ui: &mut egui::Ui, r: &pb::GetRelationsResponse) -> Option<String> {
    let mut chosen = None;
    if r.outgoing.is_empty() && r.incoming.is_empty() {
        ui.weak("No relations.");
    }
    for (rel, arrow) in r
        .outgoing
        .iter()
        .map(|x| (x, "->"))
        .chain(r.incoming.iter().map(|x| (x, "<-")))
    {
        ui.horizontal(|ui| {
            ui.label(format!(
                "{arrow} {}",
                crate::state_text::relation(rel.r#type())
            ));
            if ui.link(&rel.target).clicked() {
                chosen = Some(rel.target.clone());
            }
        });
    }
    chosen
}

/// One event in words.
pub fn describe(e: &pb::Event) -> String {
    use pb::EventType as T;
    match e.r#type() {
        T::Created => "created".into(),
        T::StateChanged => format!(
            "{} = {}",
            e.measurand,
            format::value(&e.measurand, e.value.as_ref())
        ),
        T::DesiredChanged => format!(
            "desired {} = {}",
            e.measurand,
            format::value(&e.measurand, e.value.as_ref())
        ),
        T::ThresholdCrossed => format!(
            "{} crossed {} {}",
            e.measurand,
            format::number(e.limit),
            if e.rising { "upwards" } else { "downwards" }
        ),
        T::StatusChanged => format!(
            "status {} -> {}",
            crate::state_text::status(e.from_status.as_ref()),
            crate::state_text::status(e.to_status.as_ref())
        ),
        T::AlertRaised => format!("alert: {}", e.message),
        T::AlertCleared => format!("alert on {} cleared", e.measurand),
        T::AnomalyDetected => format!(
            "{} unusual: score {} ({})",
            e.measurand,
            format::value(&e.measurand, e.value.as_ref()),
            e.model
        ),
        T::RulBelow => format!(
            "RUL {} h below {} h ({})",
            format::value(&e.measurand, e.value.as_ref()),
            format::number(e.limit),
            e.model
        ),
        T::WorkOrderChanged => match &e.work_order {
            Some(w) => format!(
                "{} {}{}",
                w.id,
                crate::state_text::work_order(w.state()),
                if w.technician.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", w.technician)
                }
            ),
            None => "work order changed".into(),
        },
        T::Unspecified => "event".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forecast(first: f64) -> Option<pb::Value> {
        Some(pb::Value {
            kind: Some(pb::value::Kind::Forecast(pb::Forecast {
                step_ms: HOUR_MS as i64,
                points: (0..24)
                    .map(|i| pb::Estimate {
                        value: first + i as f64,
                        low: first + i as f64 - 5.0,
                        high: first + i as f64 + 5.0,
                    })
                    .collect(),
            })),
        })
    }

    #[test]
    fn a_forecast_is_drawn_ahead_of_the_series_it_forecasts() {
        let mut i = Inspector::default();
        i.set_detail(Detail {
            entity: pb::Entity {
                id: "sensor/loop-1".into(),
                readings: vec![
                    pb::Reading {
                        measurand: "traffic_flow".into(),
                        value: Some(pb::Value {
                            kind: Some(pb::value::Kind::Number(500.0)),
                        }),
                        time_ms: 10 * HOUR_MS as i64,
                        ..Default::default()
                    },
                    pb::Reading {
                        measurand: "traffic_flow_forecast".into(),
                        value: forecast(600.0),
                        time_ms: 10 * HOUR_MS as i64,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            relations: Default::default(),
            events: Vec::new(),
        });
        assert_eq!(i.forecast_points("traffic_flow"), 24);
        // Not a series of its own.
        assert_eq!(i.forecast_points("traffic_flow_forecast"), 0);
        assert!(!i.series.contains_key("traffic_flow_forecast"));
        // The window reaches past now to show it.
        let (from, to) = i.window(10 * HOUR_MS as i64);
        assert!(from < 10.0 && to > 10.0, "{from}..{to}");
        // A newer forecast from the watch stream replaces it.
        i.live(&[pb::Event {
            entity: "sensor/loop-1".into(),
            r#type: pb::EventType::StateChanged as i32,
            measurand: "traffic_flow_forecast".into(),
            time_ms: 11 * HOUR_MS as i64,
            value: forecast(700.0),
            ..Default::default()
        }]);
        let s = &i.series["traffic_flow"];
        assert_eq!(s.ahead[0], (11.5, 700.0, 695.0, 705.0));
    }
}
