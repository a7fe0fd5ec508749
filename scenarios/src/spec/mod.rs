//! The scenario file: what a world holds and how it behaves, in TOML.
//!
//! Every table rejects unknown keys, so a misspelt field is an error that
//! names the line and the field instead of a silently ignored setting.
//! Durations are written as `90s`, `15m`, `2h` or `7d`; random quantities as a
//! number or a table `{ uniform = [lo, hi] }`, `{ normal = [mean, sd] }` or
//! `{ lognormal = [mu, sigma] }`. Counts are multiplied by `scale`, so one
//! scenario runs with a hundred entities or a million.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use twin_core::{ClockMode, Measurand, SimTime};

use crate::calendar::Calendar;

/// A scenario file that could not be used, with where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct ScenarioError {
    pub file: PathBuf,
    pub message: String,
}

impl ScenarioError {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: file.into(),
            message: message.into(),
        }
    }
}

mod domains;
mod types;

pub use domains::*;
pub use types::*;

/// The whole file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub seed: u64,
    /// Local civil time of simulated time zero, e.g. `2026-03-02T00:00:00`.
    #[serde(default)]
    pub epoch: Option<String>,
    pub duration: Dur,
    #[serde(default = "clock")]
    pub clock: ClockSpec,
    /// The world's time step.
    pub tick: Dur,
    #[serde(default = "full_scale")]
    pub scale: f64,
    pub region: RegionSpec,
    #[serde(default)]
    pub weather: WeatherSpec,
    #[serde(default)]
    pub sensors: BTreeMap<String, SensorModelSpec>,
    #[serde(default)]
    pub events: EventsSpec,
    pub agriculture: Option<AgricultureSpec>,
    pub city: Option<CitySpec>,
    pub factory: Option<FactorySpec>,
    /// Models the twin runs over its entities (`[[inference]]`).
    #[serde(default)]
    pub inference: Vec<twin_infer::models::Spec>,
    /// Planners the twin runs (`[[planning]]`).
    #[serde(default)]
    pub planning: Vec<twin_plan::Spec>,
    /// Measurands the built-in table lacks (`[[measurand]]`).
    #[serde(default)]
    pub measurand: Vec<twin_core::measurand::Declared>,
    /// Alarm limits per subtype or per entity (`[[limits]]`).
    #[serde(default)]
    pub limits: Vec<crate::limits::LimitSpec>,
}

fn clock() -> ClockSpec {
    ClockSpec(ClockMode::Accelerated(60.0))
}

/// A parsed and checked scenario, with the directory its relative paths
/// (GeoJSON) are read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub spec: ScenarioSpec,
    pub file: PathBuf,
    pub calendar: Calendar,
    /// Files compiled in with a built-in scenario, by relative path.
    pub assets: &'static [(&'static str, &'static str)],
}

/// The scenarios shipped in `data/scenarios/`, compiled in so that `twin run`
/// works from any directory: (name, text, assets).
type Builtin = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);
const BUILTIN: &[Builtin] = &[
    (
        "farm-cocoa",
        include_str!("../../../data/scenarios/farm-cocoa.toml"),
        &[],
    ),
    (
        "garden",
        include_str!("../../../data/scenarios/garden.toml"),
        &[(
            "garden-beds.geojson",
            include_str!("../../../data/scenarios/garden-beds.geojson"),
        )],
    ),
    (
        "city",
        include_str!("../../../data/scenarios/city.toml"),
        &[],
    ),
    (
        "factory",
        include_str!("../../../data/scenarios/factory.toml"),
        &[
            (
                "models/rul-factory-pump.json",
                include_str!("../../../data/scenarios/models/rul-factory-pump.json"),
            ),
            (
                "models/rul-factory-motor.json",
                include_str!("../../../data/scenarios/models/rul-factory-motor.json"),
            ),
            (
                "models/rul-factory-cnc-mill.json",
                include_str!("../../../data/scenarios/models/rul-factory-cnc-mill.json"),
            ),
        ],
    ),
];

impl Scenario {
    /// The names of the built-in scenarios.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|b| b.0).collect()
    }

    /// The text of every shipped file, scenarios and their assets: (file
    /// name, text).
    pub fn builtin_files() -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        for (name, text, assets) in BUILTIN {
            out.push((format!("{name}.toml"), *text));
            out.extend(assets.iter().map(|(n, t)| (n.to_string(), *t)));
        }
        out
    }

    /// A built-in scenario's text.
    #[cfg(test)]
    pub fn builtin_text_of(name: &str) -> &'static str {
        BUILTIN.iter().find(|b| b.0 == name).map_or("", |b| b.1)
    }

    /// A built-in scenario by name (`city`, `factory`, `farm-cocoa`, `garden`).
    pub fn builtin(name: &str) -> Option<Scenario> {
        let (name, text, assets) = BUILTIN.iter().find(|b| b.0 == name)?;
        Some(
            Scenario::parse_with(text, format!("data/scenarios/{name}.toml"), assets)
                .expect("built-in scenarios are valid"),
        )
    }

    /// A scenario file at `name_or_path`, or else the built-in of that name.
    pub fn find(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        let path = Path::new(name_or_path);
        if path.exists() {
            return Scenario::load(path);
        }
        Scenario::builtin(name_or_path).ok_or_else(|| {
            ScenarioError::new(
                path,
                format!(
                    "no such file, nor a built-in scenario (built-in: {})",
                    Scenario::builtin_names().join(", ")
                ),
            )
        })
    }

    /// Reads a file named in the scenario, relative to it (or compiled in).
    pub fn read_relative(&self, relative: &str) -> Result<(PathBuf, String), ScenarioError> {
        let path = self.resolve(relative);
        if let Some((_, text)) = self.assets.iter().find(|a| a.0 == relative) {
            return Ok((path, text.to_string()));
        }
        std::fs::read_to_string(&path)
            .map(|text| (path.clone(), text))
            .map_err(|e| ScenarioError::new(&path, format!("cannot read: {e}")))
    }

    /// Reads and checks a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::new(path, format!("cannot read: {e}")))?;
        Scenario::parse(&text, path)
    }

    /// Parses scenario text; `file` names it in errors and anchors relative paths.
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with(text, file, &[])
    }

    /// [`Scenario::parse`] with the files compiled in beside it.
    fn parse_with(
        text: &str,
        file: impl AsRef<Path>,
        assets: &'static [(&'static str, &'static str)],
    ) -> Result<Scenario, ScenarioError> {
        let file = file.as_ref();
        let spec: ScenarioSpec =
            toml::from_str(text).map_err(|e| ScenarioError::new(file, e.to_string()))?;
        let calendar = match &spec.epoch {
            Some(e) => {
                Calendar::parse(e).map_err(|m| ScenarioError::new(file, format!("epoch: {m}")))?
            }
            None => Calendar::default(),
        };
        let scenario = Scenario {
            spec,
            file: file.to_path_buf(),
            calendar,
            assets,
        };
        crate::limits::declare(&scenario.spec.measurand)
            .map_err(|m| ScenarioError::new(file, m))?;
        crate::limits::check(&scenario.spec.limits).map_err(|m| ScenarioError::new(file, m))?;
        scenario.check(text)?;
        scenario.check_models()?;
        Ok(scenario)
    }

    /// The scenario's inference models, built; files they name are read
    /// relative to the scenario (or compiled in with a built-in one).
    pub fn models(&self) -> Result<twin_infer::models::Models, ScenarioError> {
        let read = |name: &str| {
            self.read_relative(name)
                .map(|(_, text)| text)
                .map_err(|e| e.to_string())
        };
        twin_infer::models::Models::build(&self.spec.inference, &read)
            .map_err(|e| ScenarioError::new(&self.file, format!("[[inference]]: {e}")))
    }

    /// The scenario's planners, checked.
    pub fn planners(&self) -> Result<twin_plan::Planners, ScenarioError> {
        twin_plan::Planners::new(&self.spec.planning)
            .map_err(|e| ScenarioError::new(&self.file, format!("[[planning]]: {e}")))
    }

    /// What can be known of the models without building them (a model file
    /// can take seconds to load): the names and the files. Their parameters
    /// are checked when they are built ([`Scenario::models`]).
    fn check_models(&self) -> Result<(), ScenarioError> {
        for (i, spec) in self.spec.inference.iter().enumerate() {
            twin_infer::models::check_name(&spec.model)
                .map_err(|e| ScenarioError::new(&self.file, format!("inference[{i}]: {e}")))?;
        }
        self.planners()?;
        self.model_files().map(|_| ())
    }

    /// The files the inference models read, by the name the scenario gives
    /// them, for a recording to carry.
    pub fn model_files(&self) -> Result<Vec<(String, String)>, ScenarioError> {
        self.spec
            .inference
            .iter()
            .filter_map(|s| s.file.as_deref())
            .map(|name| Ok((name.to_string(), self.read_relative(name)?.1)))
            .collect()
    }

    /// The same factory drawing its machines' wear paths from C-MAPSS
    /// engines `first` to `last` only (see `factory.engines`).
    pub fn with_engines(mut self, [first, last]: [usize; 2]) -> Result<Scenario, ScenarioError> {
        let n = crate::profiles::paths().len();
        let Some(f) = self.spec.factory.as_mut() else {
            return Err(ScenarioError::new(
                &self.file,
                "engines: the scenario has no [factory]",
            ));
        };
        if !(1 <= first && first <= last && last <= n) {
            return Err(ScenarioError::new(
                &self.file,
                format!("engines {first}-{last}: not a range of units within 1-{n}"),
            ));
        }
        f.engines = Some([first, last]);
        Ok(self)
    }

    /// The same scenario with every sensor sampling no more often than
    /// every `min` (a coarser world for long policy comparisons).
    pub fn with_sensor_period(mut self, min: SimTime) -> Scenario {
        for s in self.spec.sensors.values_mut() {
            let p = s.period.map_or(min, |d| d.0.max(min));
            s.period = Some(types::Dur(p));
        }
        self
    }

    /// The same scenario under other planners (`[[planning]]`).
    pub fn with_planning(
        mut self,
        planning: Vec<twin_plan::Spec>,
    ) -> Result<Scenario, ScenarioError> {
        self.spec.planning = planning;
        self.planners()?;
        Ok(self)
    }

    /// The same scenario with the models of an inference file instead of
    /// its own: `[[inference]]` entries as a scenario writes them, the
    /// model files they name read relative to that file. This is how a
    /// site configures its models without writing a scenario.
    pub fn with_inference(mut self, path: &Path) -> Result<Scenario, ScenarioError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            inference: Vec<twin_infer::models::Spec>,
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::new(path, format!("cannot read: {e}")))?;
        let file: File =
            toml::from_str(&text).map_err(|e| ScenarioError::new(path, e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        self.spec.inference = file
            .inference
            .into_iter()
            .map(|mut spec| {
                spec.file = spec
                    .file
                    .map(|f| dir.join(f).to_string_lossy().into_owned());
                spec
            })
            .collect();
        // A bad entry is the inference file's fault; a model file that
        // cannot be read is named as itself.
        self.check_models().map_err(|e| {
            if e.file == self.file {
                ScenarioError::new(path, e.message)
            } else {
                e
            }
        })?;
        Ok(self)
    }

    /// The same scenario with another seed.
    pub fn with_seed(mut self, seed: u64) -> Scenario {
        self.spec.seed = seed;
        self
    }

    /// The same scenario at another scale.
    pub fn with_scale(mut self, scale: f64) -> Scenario {
        self.spec.scale = scale;
        self
    }

    /// A count from the file multiplied by the scale (at least one when the
    /// file asks for any).
    pub fn scaled(&self, count: f64) -> usize {
        if count <= 0.0 {
            0
        } else {
            ((count * self.spec.scale).round() as usize).max(1)
        }
    }

    /// Resolves a path written in the scenario relative to its file.
    pub fn resolve(&self, relative: &str) -> PathBuf {
        self.file.parent().unwrap_or(Path::new(".")).join(relative)
    }

    fn error_at(&self, text: &str, span: std::ops::Range<usize>, message: String) -> ScenarioError {
        let line = text[..span.start.min(text.len())].lines().count().max(1);
        ScenarioError::new(&self.file, format!("line {line}: {message}"))
    }

    /// Checks what serde cannot: references to sensor models and measurands,
    /// ranges that make sense.
    fn check(&self, text: &str) -> Result<(), ScenarioError> {
        let s = &self.spec;
        let err = |m: String| ScenarioError::new(&self.file, m);
        if s.tick.0 <= SimTime::ZERO {
            return Err(err("tick: must be longer than zero".into()));
        }
        if !(s.scale > 0.0 && s.scale.is_finite()) {
            return Err(err(format!("scale: {} is not a positive number", s.scale)));
        }
        let [w, so, e, n] = s.region.bbox;
        let lon = |x: f64| (-180.0..=180.0).contains(&x);
        let lat = |y: f64| (-90.0..=90.0).contains(&y);
        if !(w < e && so < n && lon(w) && lon(e) && lat(so) && lat(n)) {
            return Err(err(format!(
                "region.bbox: [{w}, {so}, {e}, {n}] is not [west, south, east, north] in degrees"
            )));
        }
        if s.agriculture.is_none() && s.city.is_none() && s.factory.is_none() {
            return Err(err(
                "the scenario has none of [agriculture], [city] or [factory]".into(),
            ));
        }
        for (name, m) in &s.sensors {
            for (field, p) in [
                ("dropout", m.dropout),
                ("duplicates", m.duplicates),
                (
                    "spikes.probability",
                    m.spikes.map_or(0.0, |x| x.probability),
                ),
            ] {
                if !(0.0..=1.0).contains(&p) {
                    return Err(err(format!(
                        "sensors.{name}.{field}: {p} is not a probability between 0 and 1"
                    )));
                }
            }
            if m.period.is_some_and(|p| p.0 < s.tick.0) {
                return Err(err(format!(
                    "sensors.{name}.period: shorter than the tick ({})",
                    s.tick.0
                )));
            }
        }
        let model = |where_: &str, name: &toml::Spanned<String>| -> Result<(), ScenarioError> {
            if s.sensors.contains_key(name.get_ref()) {
                Ok(())
            } else {
                let known: Vec<&str> = s.sensors.keys().map(String::as_str).collect();
                Err(self.error_at(
                    text,
                    name.span(),
                    format!(
                        "{where_}: no sensor model named `{}` under [sensors] (known: {})",
                        name.get_ref(),
                        known.join(", ")
                    ),
                ))
            }
        };
        let map = |where_: &str, m: &SensorMap| -> Result<(), ScenarioError> {
            for (measurand, name) in m {
                if measurand.parse::<Measurand>().is_err() {
                    return Err(self.error_at(
                        text,
                        name.span(),
                        format!("{where_}: `{measurand}` is not a measurand"),
                    ));
                }
                model(&format!("{where_}.{measurand}"), name)?;
            }
            Ok(())
        };
        map("weather.sensors", &s.weather.sensors)?;
        if let Some(f) = &s.weather.forecast {
            if !(1..=twin_core::value::Path::MAX_POINTS).contains(&f.hours) {
                return Err(err(format!(
                    "weather.forecast.hours: {} is not within 1 to {}",
                    f.hours,
                    twin_core::value::Path::MAX_POINTS
                )));
            }
            for (field, p) in [("hit_rate", f.hit_rate), ("false_alarm", f.false_alarm)] {
                if !(0.0..=1.0).contains(&p) {
                    return Err(err(format!(
                        "weather.forecast.{field}: {p} is not a probability between 0 and 1"
                    )));
                }
            }
            if f.every.0 < s.tick.0 {
                return Err(err(format!(
                    "weather.forecast.every: shorter than the tick ({})",
                    s.tick.0
                )));
            }
        }
        for (name, m) in &s.sensors {
            if let Some(v) = &m.velocity {
                model(&format!("sensors.{name}.velocity"), v)?;
            }
        }
        if let Some(f) = &s.factory {
            if let Some([a, b]) = f.engines
                && !(1 <= a && a <= b && b <= crate::profiles::paths().len())
            {
                return Err(err(format!(
                    "factory.engines: [{a}, {b}] is not a range of units within [1, {}]",
                    crate::profiles::paths().len()
                )));
            }
            for (i, g) in f.machines.iter().enumerate() {
                map(&format!("factory.machines[{i}].sensors"), &g.sensors)?;
            }
            if let Some(g) = &f.gps {
                model("factory.gps", g)?;
            }
        }
        if let Some(a) = &s.agriculture {
            if a.parcels.is_none() == a.geometry.is_none() {
                return Err(err(
                    "agriculture: give either `parcels` (generated) or `geometry` (a GeoJSON file)"
                        .into(),
                ));
            }
            if let Some(sat) = &a.satellite {
                model("agriculture.satellite.model", &sat.model)?;
            }
            for (field, m) in [("soil_probe", &a.soil_probe), ("gps", &a.gps)] {
                if let Some(m) = m {
                    model(&format!("agriculture.{field}"), m)?;
                }
            }
            if a.soil.wilting_point >= a.soil.field_capacity {
                return Err(err(
                    "agriculture.soil: wilting_point must be below field_capacity".into(),
                ));
            }
        }
        if let Some(c) = &s.city {
            if c.grid.columns < 2 || c.grid.rows < 2 {
                return Err(err("city.grid: needs at least 2 columns and 2 rows".into()));
            }
            if c.districts[0] == 0
                || c.districts[1] == 0
                || c.districts[0] > c.grid.columns
                || c.districts[1] > c.grid.rows
            {
                return Err(err(format!(
                    "city.districts: {:?} does not divide a {}×{} grid",
                    c.districts, c.grid.columns, c.grid.rows
                )));
            }
            if let Some(l) = &c.loops {
                map("city.loops.sensors", &l.sensors)?;
            }
            if let Some(a) = &c.air {
                map("city.air.sensors", &a.sensors)?;
            }
            if let Some(b) = &c.bikes {
                model("city.bikes.model", &b.model)?;
            }
            if let Some(g) = &c.gps {
                model("city.gps", g)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.spec.name, self.file.display())
    }
}
