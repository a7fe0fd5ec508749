//! The map: the twin's entities on their own Web-Mercator projection (no
//! tiles, so it works offline), panned by dragging, zoomed around the
//! cursor, fitted to the scenario. Areas (parcels, districts, parking,
//! disease zones) are filled by their layer's value; vehicles are arrows
//! along their heading; machines and sensors are markers by status; PM2.5
//! is interpolated between its stations as a heat map; an NDVI raster
//! file, when one is opened, lies under everything. Past a
//! few thousand visible markers they are drawn aggregated into cells.

pub mod aggregate;
mod heat;
pub mod layers;
mod legend;
pub mod raster;

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Shape as EShape, Stroke, Vec2, pos2, vec2};
use twin_proto::v1::Kind;

use crate::colors;
use crate::model::{Item, P, Shape, Twin};
use crate::projection::Viewport;
use aggregate::{AGGREGATE_ABOVE, CELL, Grid, rank};
pub use layers::{DistrictMetric, Layer, Layers};

/// The map's own state: where it looks, and its scratch space.
pub struct MapView {
    pub viewport: Viewport,
    /// The model generation it was last fitted to (it fits on the first listing).
    fitted: Option<u64>,
    grid: Grid,
    /// Screen positions of the visible markers, reused between frames.
    visible: Vec<(u32, Pos2)>,
    /// Whether the last frame drew aggregated cells.
    pub aggregated: bool,
    /// The layers that have entities, for the model generation given.
    present: (u64, Vec<Layer>),
    /// An NDVI raster opened from a file (`--raster`).
    pub raster: Option<raster::Overlay>,
}

impl Default for MapView {
    fn default() -> MapView {
        MapView {
            viewport: Viewport {
                centre: (0.5, 0.5),
                scale: 256.0,
                size: (800.0, 600.0),
            },
            fitted: None,
            grid: Grid::default(),
            visible: Vec::new(),
            aggregated: false,
            present: (u64::MAX, Vec::new()),
            raster: None,
        }
    }
}

/// What the user did on the map this frame.
#[derive(Default)]
pub struct MapEvents {
    /// An entity clicked (by index).
    pub clicked: Option<usize>,
    /// The map was clicked on nothing.
    pub cleared: bool,
}

impl MapView {
    /// Fits the view to everything the twin has a place for.
    pub fn fit(&mut self, twin: &Twin) {
        if let Some((lo, hi)) = twin.bounds() {
            let (w, h) = self.viewport.size;
            let dx = (hi.0 - lo.0).max(1e-7) * 1.1;
            let dy = (hi.1 - lo.1).max(1e-7) * 1.1;
            self.viewport.centre = ((lo.0 + hi.0) / 2.0, (lo.1 + hi.1) / 2.0);
            self.viewport.scale = (w / dx).min(h / dy);
        }
    }

    /// Centres on an entity without changing the zoom.
    pub fn centre_on(&mut self, item: &Item) {
        if let Some(p) = item.shape.anchor() {
            self.viewport.centre = p;
        }
    }

    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        twin: &Twin,
        layers: &Layers,
        selected: Option<usize>,
    ) -> MapEvents {
        let (response, painter) = ui.allocate_painter(ui.available_size(), Sense::click_and_drag());
        let rect = response.rect;
        self.viewport.size = (rect.width() as f64, rect.height() as f64);
        if self.fitted.is_none() && !twin.items.is_empty() {
            self.fit(twin);
            self.fitted = Some(twin.generation);
        }
        // Pan and zoom.
        if response.dragged() {
            let d = response.drag_delta();
            self.viewport.pan((d.x as f64, d.y as f64));
        }
        if let Some(cursor) = response.hover_pos() {
            let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
            let factor = (scroll as f64 * 0.003).exp() * pinch as f64;
            if (factor - 1.0).abs() > 1e-6 {
                let c = cursor - rect.min;
                self.viewport.zoom_at((c.x as f64, c.y as f64), factor);
            }
        }
        painter.rect_filled(rect, 0.0, ui.visuals().extreme_bg_color);

        let now = ui.input(|i| i.time);
        let vp = self.viewport;
        let to_screen = |p: P| -> Pos2 {
            let s = vp.to_screen(p);
            pos2(rect.min.x + s.0 as f32, rect.min.y + s.1 as f32)
        };
        let view = rect.expand(20.0);
        let hover = response.hover_pos();
        let mut hovered: Option<(usize, f32)> = None;
        let mut moving = false;

        if let Some(o) = self.raster.as_mut().filter(|o| o.on) {
            o.paint(&painter, &to_screen);
        }
        if layers.shows(Layer::Pollution) {
            heat::paint(&painter, rect, twin, now, &to_screen);
        }

        // Areas first, under the markers; past the threshold they are
        // counted in cells with the markers instead (their outlines are
        // not even built).
        let is_area =
            |item: &Item| matches!(item.shape, Shape::Polygon { .. } | Shape::Circle { .. });
        let visible_areas = twin
            .items
            .iter()
            .filter(|item| is_area(item) && layers.shows(Layer::of(item)))
            .filter(|item| {
                item.shape
                    .anchor()
                    .is_some_and(|p| view.contains(to_screen(p)))
            })
            .count();
        let aggregate_areas = visible_areas > AGGREGATE_ABOVE;
        if !aggregate_areas {
            for (i, item) in twin.items.iter().enumerate() {
                if !is_area(item) || !layers.shows(Layer::of(item)) {
                    continue;
                }
                let Some(s) = area_shape(twin, layers, i, &to_screen, &vp, view) else {
                    continue;
                };
                if let Some(h) = hover
                    && s.visual_bounding_rect().contains(h)
                    && contains(&s, h)
                {
                    // The smallest area under the cursor wins.
                    let size = s.visual_bounding_rect().area();
                    if hovered.is_none_or(|(_, best)| size < best) {
                        hovered = Some((i, size));
                    }
                }
                painter.add(s);
            }
        }

        // Markers: find the visible ones, then draw them singly or in cells.
        self.visible.clear();
        for (i, item) in twin.items.iter().enumerate() {
            if !layers.shows(Layer::of(item)) || (is_area(item) && !aggregate_areas) {
                continue;
            }
            let Some(p) = item.position(now) else {
                continue;
            };
            let s = to_screen(p);
            if view.contains(s) {
                moving |= item.moving(now);
                self.visible.push((i as u32, s));
            }
        }
        self.aggregated = self.visible.len() > AGGREGATE_ABOVE;
        let mut hovered_cell = None;
        if self.aggregated {
            self.grid.reset(rect.width(), rect.height());
            for &(i, s) in &self.visible {
                let item = &twin.items[i as usize];
                self.grid.add(
                    s.x - rect.min.x,
                    s.y - rect.min.y,
                    rank(&item.status, item.alert),
                    i,
                );
            }
            let cols = self.grid.cols;
            for (k, cell) in self.grid.cells.iter().enumerate() {
                if cell.count == 0 {
                    continue;
                }
                let (c, r) = ((k % cols) as f32, (k / cols) as f32);
                let min = rect.min + vec2(c * CELL, r * CELL);
                let example = &twin.items[cell.example as usize];
                // Denser cells are more opaque: log scale, 1 → 0.35, 1000+ → 0.95.
                let alpha = (0.35 + 0.2 * (cell.count as f32).log10()).min(0.95);
                let fill = colors::status(&example.status).gamma_multiply(alpha);
                painter.rect_filled(Rect::from_min_size(min, Vec2::splat(CELL - 1.0)), 2.0, fill);
            }
            if let Some(h) = hover {
                hovered_cell = self.grid.at(h.x - rect.min.x, h.y - rect.min.y).copied();
            }
        } else {
            for &(i, s) in &self.visible {
                let item = &twin.items[i as usize];
                draw_marker(&painter, item, s, selected == Some(i as usize));
                if let Some(h) = hover {
                    let d = h.distance(s);
                    if d < 10.0 && hovered.is_none_or(|(_, best)| d < best.min(10.0)) {
                        hovered = Some((i as usize, d));
                    }
                }
            }
        }
        if let Some(i) = selected
            && let Some(p) = twin.items.get(i).and_then(|it| it.position(now))
        {
            painter.circle_stroke(
                to_screen(p),
                12.0,
                Stroke::new(2.5, ui.visuals().selection.bg_fill),
            );
        }
        scale_bar(&painter, rect, &vp, ui.visuals().text_color());
        if self.present.0 != twin.generation {
            self.present = (
                twin.generation,
                Layer::ALL
                    .into_iter()
                    .filter(|l| {
                        twin.items.iter().any(|i| match l {
                            Layer::Pollution => i.number("pm25").is_some(),
                            _ => Layer::of(i) == *l,
                        })
                    })
                    .collect(),
            );
        }
        let raster = self.raster.as_ref().is_some_and(|o| o.on);
        let shown = legend::Shown {
            present: &self.present.1,
            aggregated: self.aggregated,
            raster,
            plans: !twin.active_plans.is_empty(),
        };
        legend::show(ui, rect, layers, &shown);
        if moving {
            ui.ctx().request_repaint();
        }

        let mut events = MapEvents::default();
        if let Some((i, _)) = hovered {
            let item = &twin.items[i];
            response
                .clone()
                .on_hover_ui_at_pointer(|ui| tooltip(ui, twin, layers, i, item));
            if response.clicked() {
                events.clicked = Some(i);
            }
        } else if let Some(cell) = hovered_cell {
            let item = &twin.items[cell.example as usize];
            response.clone().on_hover_ui_at_pointer(|ui| {
                ui.label(format!("{} entities", cell.count));
                ui.label(format!("worst: {} ({})", item.id, item.status));
                ui.weak("zoom in to see them one by one");
            });
            if response.clicked() {
                events.clicked = Some(cell.example as usize);
            }
        } else if response.clicked() {
            events.cleared = true;
        }
        events
    }
}

/// The filled shape of an area entity, if it shows on screen.
fn area_shape(
    twin: &Twin,
    layers: &Layers,
    i: usize,
    to_screen: &impl Fn(P) -> Pos2,
    vp: &Viewport,
    view: Rect,
) -> Option<EShape> {
    let item = &twin.items[i];
    let (fill, outline) = match layers.fill(twin, i) {
        Some((ramp, Some(v))) => (ramp.at(v).gamma_multiply(0.55), Color32::from_gray(60)),
        Some((_, None)) => (
            Color32::from_gray(128).gamma_multiply(0.25),
            Color32::from_gray(90),
        ),
        None => (Color32::TRANSPARENT, colors::status(&item.status)),
    };
    // An alert's colour first; else a parcel being watered (blue) or
    // held back for rain (light blue).
    let stroke = match (item.alert, twin.active_plans.get(&item.id)) {
        (Some(s), _) => Stroke::new(2.5, colors::severity(s)),
        (None, Some(state)) => Stroke::new(2.5, colors::plan(*state)),
        (None, None) => Stroke::new(1.0, outline),
    };
    match &item.shape {
        Shape::Polygon { ring, .. } => {
            let pts: Vec<Pos2> = ring.iter().map(|p| to_screen(*p)).collect();
            let bounds = Rect::from_points(&pts);
            view.intersects(bounds)
                .then(|| EShape::convex_polygon(pts, fill, stroke))
        }
        Shape::Circle {
            centre,
            radius_m,
            lat,
        } => {
            let c = to_screen(*centre);
            let r = (*radius_m / vp.metres_per_pixel(*lat)).max(3.0) as f32;
            view.expand(r)
                .contains(c)
                .then(|| EShape::circle_filled(c, r, fill))
                .map(|f| EShape::Vec(vec![f, EShape::circle_stroke(c, r, stroke)]))
        }
        _ => None,
    }
}

/// Whether a screen point is inside an area's shape.
fn contains(shape: &EShape, p: Pos2) -> bool {
    match shape {
        EShape::Path(path) => {
            let pts = &path.points;
            let mut inside = false;
            let mut j = pts.len().wrapping_sub(1);
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[j]);
                if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x
                {
                    inside = !inside;
                }
                j = i;
            }
            inside
        }
        EShape::Vec(v) => v.first().is_some_and(|s| match s {
            EShape::Circle(c) => c.center.distance(p) <= c.radius,
            _ => false,
        }),
        _ => false,
    }
}

/// One entity's marker.
fn draw_marker(painter: &egui::Painter, item: &Item, s: Pos2, selected: bool) {
    let colour = colors::status(&item.status);
    let outline = Stroke::new(
        if selected { 2.0 } else { 1.0 },
        item.alert
            .map_or(Color32::from_black_alpha(160), colors::severity),
    );
    match item.kind {
        Kind::Vehicle => {
            // An arrow along the heading (0° north, clockwise).
            let a = (item.heading_deg as f32).to_radians();
            let dir = vec2(a.sin(), -a.cos());
            let side = vec2(-dir.y, dir.x);
            let pts = vec![
                s + dir * 9.0,
                s - dir * 6.0 + side * 5.5,
                s - dir * 3.0,
                s - dir * 6.0 - side * 5.5,
            ];
            painter.add(EShape::convex_polygon(pts, colour, outline));
        }
        Kind::Machine => {
            painter.rect(
                Rect::from_center_size(s, Vec2::splat(10.0)),
                2.0,
                colour,
                outline,
                egui::StrokeKind::Middle,
            );
        }
        _ => {
            painter.circle(s, 4.5, colour, outline);
        }
    }
    if item.alert.is_some() {
        painter.circle_stroke(s, 8.0, Stroke::new(1.5, outline.color));
    }
}

/// What the tooltip says of an entity.
fn tooltip(ui: &mut egui::Ui, twin: &Twin, layers: &Layers, i: usize, item: &Item) {
    ui.strong(&item.id);
    ui.label(format!(
        "{} · {}",
        item.subtype,
        if item.status.is_empty() {
            "—"
        } else {
            &item.status
        }
    ));
    if let Some((_, Some(v))) = layers.fill(twin, i) {
        let what = match Layer::of(item) {
            Layer::Parcels => "NDVI",
            Layer::Districts => match layers.district_metric {
                DistrictMetric::Aqi => "AQI",
                DistrictMetric::Traffic => "traffic index",
            },
            Layer::Parking => "occupancy",
            _ => "severity",
        };
        ui.label(format!("{what}: {v:.2}"));
    }
    for (m, v) in item.numbers.iter().take(6) {
        ui.label(format!("{m}: {v:.2}"));
    }
    ui.weak("click to inspect");
}

/// A scale bar of a round length at the bottom left.
fn scale_bar(painter: &egui::Painter, rect: Rect, vp: &Viewport, colour: Color32) {
    let (_, lat) = crate::projection::unproject(vp.centre.0, vp.centre.1);
    let mpp = vp.metres_per_pixel(lat);
    let target = mpp * 120.0;
    let step = 10f64.powf(target.log10().floor());
    let metres = [5.0, 2.0, 1.0]
        .into_iter()
        .map(|k| k * step)
        .find(|m| *m <= target)
        .unwrap_or(step);
    let px = (metres / mpp) as f32;
    let a = pos2(rect.min.x + 12.0, rect.max.y - 14.0);
    let b = a + vec2(px, 0.0);
    painter.line_segment([a, b], Stroke::new(2.0, colour));
    for p in [a, b] {
        painter.line_segment(
            [p - vec2(0.0, 4.0), p + vec2(0.0, 4.0)],
            Stroke::new(2.0, colour),
        );
    }
    let text = if metres >= 1000.0 {
        format!("{} km", metres / 1000.0)
    } else {
        format!("{metres} m")
    };
    painter.text(
        a + vec2(px / 2.0, -6.0),
        Align2::CENTER_BOTTOM,
        text,
        FontId::proportional(11.0),
        colour,
    );
}
