//! What a site or scenario file says of measurands and alarm limits:
//! `[[measurand]]` declares one the built-in table lacks, `[[limits]]`
//! sets a subtype's or an entity's own limits (an entity's win).

use serde::Deserialize;
use twin_core::measurand::{AlarmLimits, Declared};
use twin_core::{EntityId, EntityRecord, Measurand};

/// Alarm limits for a subtype's entities or for one entity.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitSpec {
    pub subtype: Option<String>,
    pub entity: Option<String>,
    pub measurand: String,
    pub warning: f64,
    pub critical: f64,
    /// Default: as the measurand's own limits, else rising.
    pub falling: Option<bool>,
}

/// Declares the file's measurands in this process.
pub fn declare(measurands: &[Declared]) -> Result<(), String> {
    for d in measurands {
        twin_core::measurand::define(d).map_err(|e| format!("[[measurand]] {e}"))?;
    }
    Ok(())
}

/// Checks every entry: a known measurand (declared ones included), limits
/// in its range and order, a subtype or an entity.
pub fn check(
    specs: &[LimitSpec],
) -> Result<Vec<(Option<EntityId>, Measurand, AlarmLimits)>, String> {
    specs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let at = |m: String| format!("limits[{i}]: {m}");
            let m: Measurand = l.measurand.parse().map_err(|e| at(format!("{e}")))?;
            let limits = AlarmLimits {
                warning: l.warning,
                critical: l.critical,
                falling: l.falling.unwrap_or(m.alarm().is_some_and(|a| a.falling)),
            };
            twin_core::measurand::check_limits(&limits, m.valid_range()).map_err(at)?;
            let entity = match (&l.subtype, &l.entity) {
                (Some(_), None) => None,
                (None, Some(e)) => Some(EntityId::parse(e).map_err(|x| at(x.to_string()))?),
                _ => return Err(at("give subtype or entity".into())),
            };
            Ok((entity, m, limits))
        })
        .collect()
}

/// Sets each record's own limits, a subtype's first, then an entity's;
/// with `strict`, an entity the records lack is an error.
pub fn apply(
    specs: &[LimitSpec],
    records: &mut [EntityRecord],
    strict: bool,
) -> Result<(), String> {
    let mut checked: Vec<_> = check(specs)?.into_iter().zip(specs).collect();
    for (i, ((entity, ..), _)) in checked.iter().enumerate() {
        if let Some(e) = entity
            && strict
            && !records.iter().any(|r| r.id() == *e)
        {
            return Err(format!("limits[{i}]: {e} is not declared"));
        }
    }
    // Subtypes first, so that an entity's own limits win.
    checked.sort_by_key(|((entity, ..), _)| entity.is_some());
    for ((entity, m, limits), spec) in checked {
        for r in records.iter_mut() {
            let hit = match entity {
                Some(e) => r.id() == e,
                None => spec
                    .subtype
                    .as_deref()
                    .is_some_and(|s| &*r.common.subtype.name() == s),
            };
            if hit {
                r.common.set_limits(m, Some(limits));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Scenario, SimWorld};

    #[test]
    fn a_scenario_declares_measurands_and_sets_limits_on_its_world() {
        let file: crate::ScenarioSpec = toml::from_str(&format!(
            "{}\n{}",
            Scenario::builtin_text_of("garden"),
            r#"
            [[measurand]]
            name = "leaf_wetness_test"
            unit = "%"
            range = [0.0, 100.0]

            [[limits]]
            subtype = "moisture"
            measurand = "soil_moisture"
            warning = 28.0
            critical = 22.0
            "#
        ))
        .unwrap();
        declare(&file.measurand).unwrap();
        assert!("leaf_wetness_test".parse::<Measurand>().is_ok());
        let mut s = Scenario::builtin("garden").unwrap();
        s.spec.limits = file.limits;
        let world = SimWorld::new(&s).unwrap();
        let probes: Vec<_> = world
            .records()
            .iter()
            .filter(|r| &*r.common.subtype.name() == "moisture")
            .collect();
        assert!(!probes.is_empty());
        for p in probes {
            let l = p.common.limits(Measurand::SoilMoisture).unwrap();
            assert_eq!((l.warning, l.critical, l.falling), (28.0, 22.0, true));
        }
        let wrong = LimitSpec {
            subtype: Some("moisture".into()),
            entity: None,
            measurand: "soil_moisture".into(),
            warning: 20.0,
            critical: 30.0,
            falling: None,
        };
        let e = check(&[wrong]).unwrap_err();
        assert!(
            e.contains("limits[0]") && e.contains("before critical"),
            "{e}"
        );
    }
}
