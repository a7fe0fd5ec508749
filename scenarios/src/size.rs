//! How large a world a scenario asks for, read from its counts before
//! anything is built.
//!
//! A scale or a count from outside (a `LoadScenario` request, a file) can ask
//! for more entities than the machine holds; building would allocate until
//! memory runs out. [`Scenario::min_entities`] is a lower bound (each counted
//! thing is at least one entity), so a world it
//! refuses is certainly too large, and it costs nothing to compute.

use crate::spec::{Scenario, ScenarioError};

impl Scenario {
    /// At least this many entities are built at the scenario's scale.
    /// Computed in floating point, so that no count overflows.
    pub fn min_entities(&self) -> f64 {
        let s = &self.spec;
        let scaled = |count: f64| {
            if count > 0.0 {
                (count * s.scale).round().max(1.0)
            } else {
                0.0
            }
        };
        // Sensors named in a map may be channels of one entity rather than
        // entities of their own, so they are not counted; nor are traffic
        // loops, which the road grid caps whatever the scale.
        let mut n = scaled(s.weather.stations as f64);
        if let Some(f) = &s.factory {
            n += f.machines.iter().map(|g| scaled(g.count)).sum::<f64>();
            n += scaled(f.technicians.count);
        }
        if let Some(a) = &s.agriculture {
            n += a.parcels.as_ref().map_or(0.0, |p| scaled(p.count));
            n += scaled(a.pumps.count) + scaled(a.tractors);
        }
        if let Some(c) = &s.city {
            let districts = (c.districts[0] as f64) * (c.districts[1] as f64);
            n += districts;
            n += c
                .air
                .as_ref()
                .map_or(0.0, |a| districts * scaled(a.per_district));
            n += c
                .buses
                .as_ref()
                .map_or(0.0, |b| scaled(b.routes) * scaled(b.per_route));
            n += scaled(c.taxis);
            n += c.bikes.as_ref().map_or(0.0, |b| scaled(b.stations));
            n += c.parking.as_ref().map_or(0.0, |p| scaled(p.count));
        }
        n
    }

    /// Refuses a scenario that would build more than `max` entities.
    pub fn check_size(&self, max: usize) -> Result<(), ScenarioError> {
        let n = self.min_entities();
        if n > max as f64 {
            return Err(ScenarioError::new(
                &self.file,
                format!(
                    "at scale {} it builds at least {n:.0} entities, over the limit of {max} \
                     (--max-entities)",
                    self.spec.scale
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_holds_for_every_built_in_and_grows_with_the_scale() {
        for name in Scenario::builtin_names() {
            let s = Scenario::builtin(name).expect("built-in");
            let built = crate::world::SimWorld::new(&s)
                .expect("builds")
                .records()
                .len();
            let bound = s.min_entities();
            assert!(
                bound >= 1.0 && bound <= built as f64,
                "{name}: {bound} > {built}"
            );
            let big = s.clone().with_scale(1e12);
            assert!(big.min_entities() > 1e11, "{name}");
            let e = big.check_size(10_000_000).unwrap_err();
            assert!(e.message.contains("over the limit"), "{e}");
            s.check_size(built).expect("its own size is allowed");
        }
    }
}
