//! The app: the model, the map, the inspector and the panels put together
//! on one screen. Each frame drains the network's updates into the model,
//! then draws; it never waits on the network.

use twin_proto::client::Connect;

use crate::inspector::{Action, Inspector};
use crate::map::{DistrictMetric, Layer, MapView};
use crate::model::Twin;
use crate::net::{Link, Net, Request, Update};
use crate::panels::{self, Tab};
use crate::settings::Settings;

/// Seconds between two refreshes of the inspected entity's detail.
const INSPECT_EVERY_S: f64 = 2.0;

pub struct App {
    net: Option<Net>,
    pub twin: Twin,
    pub map: MapView,
    pub settings: Settings,
    pub link: Link,
    pub inspector: Inspector,
    /// The selected entity's id.
    pub selected: Option<String>,
    /// `--select`: chosen once the entity is listed.
    pending_select: Option<String>,
    inspector_open: bool,
    search: String,
    token: String,
    connect_dialog: bool,
    chosen_scenario: String,
    /// Errors to show, with the time they arrived.
    errors: Vec<(String, f64)>,
    /// When the selected entity's detail was last asked for (UI seconds);
    /// `None` right after a selection, which asked already.
    inspected_at: Option<f64>,
}

impl App {
    /// An app connected through `net` (None: a model fed by hand, as the
    /// benchmark does).
    pub fn new(settings: Settings, net: Option<Net>, token: Option<String>) -> App {
        let url = settings.url.clone();
        App {
            net,
            twin: Twin::default(),
            map: MapView::default(),
            settings,
            link: Link::Connecting { url, attempt: 1 },
            inspector: Inspector::default(),
            selected: None,
            pending_select: None,
            inspector_open: false,
            search: String::new(),
            token: token.unwrap_or_default(),
            connect_dialog: false,
            chosen_scenario: String::new(),
            errors: Vec::new(),
            inspected_at: None,
        }
    }

    /// Connects to `settings.url` with `token` on a network thread.
    pub fn connect(settings: Settings, token: Option<String>) -> App {
        let net = Net::start(Connect {
            url: settings.url.clone(),
            token: token.clone(),
            ..Connect::default()
        });
        App::new(settings, Some(net), token)
    }

    /// Selects an entity once it is known (`--select`), and opens a tab.
    pub fn preselect(&mut self, id: Option<String>, tab: Option<Tab>) {
        self.pending_select = id;
        match tab {
            Some(Tab::Inspector) => self.inspector_open = true,
            Some(t) => self.settings.tab = t,
            None => {}
        }
    }

    /// Opens the connect dialog (at start when no address was given).
    pub fn open_connect_dialog(&mut self) {
        self.connect_dialog = true;
    }

    fn send(&self, r: Request) {
        if let Some(net) = &self.net {
            net.send(r);
        }
    }

    pub fn select(&mut self, id: String) {
        if self.selected.as_deref() != Some(id.as_str()) {
            self.inspector.clear();
        }
        self.send(Request::Inspect(id.clone()));
        self.inspected_at = None;
        self.selected = Some(id);
        self.inspector_open = true;
    }

    /// Takes in what the network thread sent since the last frame.
    pub fn pump(&mut self, now: f64) {
        let Some(net) = &self.net else { return };
        let updates: Vec<Update> = net.drain().collect();
        let mut refresh_detail = false;
        for u in updates {
            match u {
                Update::Link(l) => self.link = l,
                Update::Reset => {
                    self.twin.clear();
                    refresh_detail = self.selected.is_some();
                }
                Update::Entities(e) => self.twin.upsert(&e),
                Update::Events(e) => {
                    self.twin.apply(&e, now);
                    self.inspector.live(&e);
                }
                Update::Lagged(n) => self.twin.missed += n,
                Update::Alerts(a) => self.twin.set_alerts(a),
                Update::AlertEvents(e) => {
                    self.twin.alert_events(&e);
                    self.inspector.live(&e);
                }
                Update::Sim(s) => self.twin.set_sim(s, now),
                Update::WorkOrders(w) => self.twin.work_orders = Some(w),
                Update::Plans(p) => self.twin.set_plans(p),
                Update::Scenarios(s) => self.twin.scenarios = s,
                Update::Detail(d) => self.inspector.set_detail(*d),
                Update::History(h) => self.inspector.set_history(h),
                Update::Error(e) => self.errors.push((e, now)),
            }
        }
        if refresh_detail && let Some(id) = self.selected.clone() {
            self.send(Request::Inspect(id));
        }
        if let Some(id) = self.pending_select.clone()
            && self.twin.get(&id).is_some()
        {
            self.pending_select = None;
            if let Some(item) = self.twin.get(&id) {
                self.map.centre_on(item);
            }
            self.select(id);
        }
        self.errors.retain(|(_, at)| now - *at < 8.0);
        // The inspector's readings and events are refreshed every 2 s (the
        // plots follow the watch stream in between).
        if let Some(id) = self.selected.clone() {
            match self.inspected_at {
                None => self.inspected_at = Some(now),
                Some(at) if now - at > INSPECT_EVERY_S => {
                    self.inspected_at = Some(now);
                    self.send(Request::Inspect(id));
                }
                Some(_) => {}
            }
        }
    }

    /// The whole screen.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if let Some(net) = &self.net {
            net.attach(&ctx);
        }
        ctx.set_theme(if self.settings.dark {
            egui::Theme::Dark
        } else {
            egui::Theme::Light
        });
        let now = ui.input(|i| i.time);
        self.pump(now);
        self.twin.refresh_zones(now);

        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar(ui));
        egui::Panel::bottom("status").show(ui, |ui| {
            panels::status_bar::show(ui, &self.link, &self.twin);
        });
        egui::Panel::left("panels")
            .default_size(300.0)
            .show(ui, |ui| self.left(ui));
        if self.inspector_open {
            egui::Panel::right("inspector")
                .default_size(420.0)
                .show(ui, |ui| self.right(ui));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            let selected = self
                .selected
                .as_deref()
                .and_then(|id| self.twin.index_of(id));
            let ev = self
                .map
                .show(ui, &self.twin, &self.settings.layers, selected);
            if let Some(i) = ev.clicked {
                let id = self.twin.items[i].id.clone();
                self.select(id);
            }
        });
        self.errors_window(&ctx);
        if self.connect_dialog {
            self.connect_window(&ctx);
        }
        // The status and rates move even when nothing else does.
        ctx.request_repaint_after(std::time::Duration::from_millis(500));
    }

    fn toolbar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.strong("twin");
            ui.separator();
            let search = ui.add(
                egui::TextEdit::singleline(&mut self.search)
                    .hint_text("Search id or name")
                    .desired_width(220.0),
            );
            let found: Vec<String> = self
                .twin
                .search(&self.search, 8)
                .iter()
                .map(|i| i.id.clone())
                .collect();
            if search.lost_focus()
                && ui.input(|i| i.key_pressed(egui::Key::Enter))
                && let Some(first) = found.first().cloned()
            {
                self.go_to(first);
            }
            if search.has_focus() && !found.is_empty() {
                egui::Popup::from_response(&search).open(true).show(|ui| {
                    for id in &found {
                        if ui.selectable_label(false, id).clicked() {
                            self.go_to(id.clone());
                        }
                    }
                });
            }
            ui.separator();
            ui.menu_button("Layers", |ui| {
                for l in Layer::ALL {
                    let mut on = self.settings.layers.shows(l);
                    if ui.checkbox(&mut on, l.label()).changed() {
                        self.settings.layers.toggle(l, on);
                    }
                }
                if let Some(o) = &mut self.map.raster {
                    ui.checkbox(&mut o.on, format!("NDVI raster ({})", o.name));
                }
                ui.separator();
                ui.label("Districts by:");
                ui.radio_value(
                    &mut self.settings.layers.district_metric,
                    DistrictMetric::Aqi,
                    "AQI",
                );
                ui.radio_value(
                    &mut self.settings.layers.district_metric,
                    DistrictMetric::Traffic,
                    "traffic index",
                );
            });
            if ui
                .button("Fit")
                .on_hover_text("Show the whole scenario")
                .clicked()
            {
                self.map.fit(&self.twin);
            }
            if ui.button("Connect…").clicked() {
                self.connect_dialog = true;
            }
            let theme = if self.settings.dark {
                "Light theme"
            } else {
                "Dark theme"
            };
            if ui.button(theme).clicked() {
                self.settings.dark = !self.settings.dark;
            }
        });
    }

    fn go_to(&mut self, id: String) {
        if let Some(item) = self.twin.get(&id) {
            self.map.centre_on(item);
        }
        self.search.clear();
        self.select(id);
    }

    fn left(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for t in Tab::LEFT {
                let label = match t {
                    Tab::Alerts if !self.twin.alerts.is_empty() => {
                        format!("Alerts ({})", self.twin.alerts.len())
                    }
                    t => t.label().to_string(),
                };
                ui.selectable_value(&mut self.settings.tab, t, label);
            }
        });
        ui.separator();
        let chosen = match self.settings.tab {
            Tab::Alerts => panels::alerts::show(ui, &self.twin, &mut self.settings.min_severity),
            Tab::WorkOrders => panels::work_orders::show(ui, &self.twin),
            Tab::Plans => panels::plans::show(ui, &self.twin),
            Tab::Kpi => {
                panels::kpi::show(ui, &self.twin);
                None
            }
            Tab::Simulation | Tab::Inspector => {
                if let Some(r) = panels::sim::show(ui, &self.twin, &mut self.chosen_scenario) {
                    self.send(r);
                }
                None
            }
        };
        if let Some(id) = chosen {
            self.go_to(id);
        }
    }

    fn right(&mut self, ui: &mut egui::Ui) {
        if self.selected.is_none() {
            ui.heading("Inspector");
            ui.weak("Click an entity on the map, or search for one, to inspect it.");
            return;
        }
        let now_ms = self.twin.sim.as_ref().map_or(0, |s| s.time_ms);
        let net = self.net.as_ref();
        let mut send = |r: Request| {
            if let Some(n) = net {
                n.send(r);
            }
        };
        match self.inspector.show(ui, now_ms, &mut send) {
            Some(Action::Select(id)) => self.go_to(id),
            Some(Action::Close) => {
                self.selected = None;
                self.inspector.clear();
                self.inspector_open = false;
            }
            None => {}
        }
    }

    fn errors_window(&mut self, ctx: &egui::Context) {
        if self.errors.is_empty() {
            return;
        }
        egui::Area::new(egui::Id::unique("errors"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-10.0, -36.0))
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    for (e, _) in &self.errors {
                        ui.colored_label(egui::Color32::from_rgb(220, 60, 40), e);
                    }
                });
            });
    }

    fn connect_window(&mut self, ctx: &egui::Context) {
        let mut open = true;
        let mut go = false;
        egui::Window::new("Connect to a twin")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                egui::Grid::new("connect").num_columns(2).show(ui, |ui| {
                    ui.label("Address");
                    ui.text_edit_singleline(&mut self.settings.url);
                    ui.end_row();
                    ui.label("Token");
                    ui.add(egui::TextEdit::singleline(&mut self.token).password(true));
                    ui.end_row();
                });
                go = ui.button("Connect").clicked();
            });
        if go {
            self.send(Request::Reconnect(Connect {
                url: self.settings.url.clone(),
                token: (!self.token.is_empty()).then(|| self.token.clone()),
                ..Connect::default()
            }));
            open = false;
        }
        self.connect_dialog = open;
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, crate::settings::KEY, &self.settings);
    }
}
