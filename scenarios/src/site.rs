//! A live site (`twin run --site site.toml`): a twin of real things, with
//! no simulated world. The file declares the entities and how they relate,
//! parcels' polygons from GeoJSON, and the inference and planning the twin
//! runs over them; feeds (MQTT, gRPC ingest, `twin feed`) bring the
//! readings, on wall-clock time.
//!
//! ```toml
//! name = "greenhouse-3"
//! parcels = { geometry = "beds.geojson", crop = "vegetables" }
//!
//! [[measurand]]                    # one the built-in table lacks
//! name = "noise"
//! unit = "dB"
//! range = [0.0, 200.0]
//! alarm = { warning = 70.0, critical = 85.0, falling = false }
//!
//! [[entity]]
//! id = "sensor/probe-1"
//! subtype = "moisture"
//! attached_to = "parcel/bed-1"
//!
//! [[limits]]                        # per subtype, or per entity (wins)
//! entity = "sensor/probe-1"
//! measurand = "soil_moisture"
//! warning = 25.0
//! critical = 18.0
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use twin_core::state::ParcelState;
use twin_core::{EntityId, EntityRecord, KindState, Relation};

use crate::spec::ScenarioError;

/// Most entities a site file may declare (a larger site creates them from
/// its feeds' map templates).
pub const MAX_ENTITIES: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    #[serde(default)]
    description: String,
    parcels: Option<Parcels>,
    #[serde(default)]
    measurand: Vec<twin_core::measurand::Declared>,
    #[serde(default)]
    entity: Vec<EntitySpec>,
    #[serde(default)]
    limits: Vec<crate::limits::LimitSpec>,
    #[serde(default)]
    inference: Vec<twin_infer::models::Spec>,
    #[serde(default)]
    planning: Vec<twin_plan::Spec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Parcels {
    /// A FeatureCollection of Polygons, named by their `name` property.
    geometry: String,
    #[serde(default)]
    crop: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntitySpec {
    id: String,
    #[serde(default)]
    subtype: String,
    attached_to: Option<String>,
    lies_in: Option<String>,
    fed_by: Option<String>,
}

/// A checked site.
#[derive(Debug)]
pub struct Site {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    pub records: Vec<EntityRecord>,
    inference: Vec<twin_infer::models::Spec>,
    planning: Vec<twin_plan::Spec>,
}

impl Site {
    pub fn load(path: &Path) -> Result<Site, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::new(path, format!("cannot read: {e}")))?;
        Site::parse(&text, path)
    }

    /// Parses a site; `path` names it in errors and anchors relative files.
    pub fn parse(text: &str, path: &Path) -> Result<Site, ScenarioError> {
        let err = |m: String| ScenarioError::new(path, m);
        let file: File = toml::from_str(text).map_err(|e| err(e.message().to_string()))?;
        if file.entity.len() > MAX_ENTITIES {
            return Err(err(format!(
                "{} entities: a site file declares at most {MAX_ENTITIES}",
                file.entity.len()
            )));
        }
        // Declared first: the entities' limits and the feeds name them.
        crate::limits::declare(&file.measurand).map_err(err)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut records = Vec::new();
        if let Some(p) = &file.parcels {
            let geo = dir.join(&p.geometry);
            let text = std::fs::read_to_string(&geo)
                .map_err(|e| ScenarioError::new(&geo, format!("cannot read: {e}")))?;
            for shape in crate::geojson::parse_polygons(&text, &geo)? {
                let id = EntityId::parse(&format!("parcel/{}", shape.name))
                    .map_err(|e| ScenarioError::new(&geo, e.to_string()))?;
                records.push(
                    EntityRecord::new(id.kind(), &shape.name, &p.crop)
                        .with_state(KindState::Parcel(ParcelState::new(&p.crop, shape.polygon))),
                );
            }
        }
        for (i, e) in file.entity.iter().enumerate() {
            let at = |m: String| {
                err(format!(
                    "entity[{i}] ({}): {m}",
                    twin_core::id::quoted(&e.id)
                ))
            };
            let id = EntityId::parse(&e.id).map_err(|x| at(x.to_string()))?;
            let name = id.local_name().unwrap_or_default();
            let mut r = EntityRecord::new(id.kind(), &name, &e.subtype);
            let relations = [
                (
                    &e.attached_to,
                    Relation::AttachedTo as fn(EntityId) -> Relation,
                ),
                (&e.lies_in, Relation::LiesIn),
                (&e.fed_by, Relation::FedBy),
            ];
            for (target, make) in relations {
                if let Some(t) = target {
                    let t = EntityId::parse(t).map_err(|x| at(x.to_string()))?;
                    r = r.with_relation(make(t));
                }
            }
            records.push(r);
        }
        crate::limits::apply(&file.limits, &mut records, true).map_err(err)?;
        let mut ids: Vec<EntityId> = records.iter().map(EntityRecord::id).collect();
        ids.sort();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(err(format!("{} is declared twice", w[0])));
        }
        let site = Site {
            name: file.name,
            description: file.description,
            file: path.to_path_buf(),
            records,
            inference: file.inference,
            planning: file.planning,
        };
        site.planners()?;
        for spec in &site.inference {
            twin_infer::models::check_name(&spec.model)
                .map_err(|e| err(format!("[[inference]]: {e}")))?;
        }
        Ok(site)
    }

    /// The inference models, built (model files relative to the site file).
    pub fn models(&self) -> Result<twin_infer::models::Models, ScenarioError> {
        let dir = self.file.parent().unwrap_or(Path::new("."));
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"))
        };
        twin_infer::models::Models::build(&self.inference, &read)
            .map_err(|e| ScenarioError::new(&self.file, format!("[[inference]]: {e}")))
    }

    pub fn planners(&self) -> Result<twin_plan::Planners, ScenarioError> {
        twin_plan::Planners::new(&self.planning)
            .map_err(|e| ScenarioError::new(&self.file, format!("[[planning]]: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_core::{Kind, Measurand};

    fn parse(text: &str) -> Result<Site, String> {
        Site::parse(text, Path::new("site.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn entities_and_relations_are_read() {
        let site = parse(
            r#"
            name = "greenhouse"
            [[entity]]
            id = "parcel/bed-1"
            subtype = "tomato"
            [[entity]]
            id = "sensor/probe-1"
            subtype = "moisture"
            attached_to = "parcel/bed-1"
            "#,
        )
        .unwrap();
        assert_eq!(site.records.len(), 2);
        let probe = &site.records[1];
        assert_eq!(probe.id().kind(), Kind::Sensor);
        assert_eq!(
            probe.common.extras.as_ref().unwrap().relations,
            [Relation::AttachedTo(EntityId::of(Kind::Parcel, "bed-1"))]
        );
    }

    #[test]
    fn declared_measurands_and_limits_per_subtype_and_entity() {
        let site = parse(
            r#"
            name = "workshop"
            [[measurand]]
            name = "noise_test_site"
            unit = "dB"
            range = [0.0, 200.0]
            alarm = { warning = 70.0, critical = 85.0, falling = false }
            [[entity]]
            id = "sensor/mic-1"
            subtype = "microphone"
            [[entity]]
            id = "sensor/mic-2"
            subtype = "microphone"
            [[limits]]
            subtype = "microphone"
            measurand = "noise_test_site"
            warning = 60.0
            critical = 80.0
            [[limits]]
            entity = "sensor/mic-2"
            measurand = "noise_test_site"
            warning = 50.0
            critical = 55.0
            "#,
        )
        .unwrap();
        let noise: Measurand = "noise_test_site".parse().unwrap();
        assert!(noise.is_declared());
        assert_eq!((noise.unit(), noise.valid_range()), ("dB", (0.0, 200.0)));
        let w = |i: usize| site.records[i].common.limits(noise).unwrap().warning;
        assert_eq!((w(0), w(1)), (60.0, 50.0));
        let e = parse(
            "name = \"x\"\n[[entity]]\nid = \"sensor/a\"\n[[limits]]\nentity = \"sensor/a\"\nmeasurand = \"pm25\"\nwarning = 50.0\ncritical = 25.0",
        )
        .unwrap_err();
        assert!(
            e.contains("limits[0]") && e.contains("before critical"),
            "{e}"
        );
        let e =
            parse("name = \"x\"\n[[measurand]]\nname = \"pm25\"\nrange = [0.0, 1.0]").unwrap_err();
        assert!(e.contains("built in"), "{e}");
    }

    #[test]
    fn bad_sites_name_the_fault() {
        let e = parse("name = \"x\"\n[[entity]]\nid = \"robot/r\"").unwrap_err();
        assert!(e.contains("entity[0]") && e.contains("robot"), "{e}");
        let e = parse("name = \"x\"\n[[entity]]\nid = \"sensor/a\"\n[[entity]]\nid = \"sensor/a\"")
            .unwrap_err();
        assert!(e.contains("declared twice"), "{e}");
        let e = parse("name = \"x\"\ncolour = 1").unwrap_err();
        assert!(e.contains("colour"), "{e}");
        let e = parse("name = \"x\"\n[[planning]]\nplanner = \"teleport\"").unwrap_err();
        assert!(e.contains("[[planning]]"), "{e}");
    }
}
