//! The US EPA Air Quality Index (2024 breakpoints): the figure people read
//! rather than a concentration. Computed in the twin (district aggregates)
//! and in the viewer from the same table.

/// (concentration low, high, index low, high) per band.
type Bands = [(f64, f64, f64, f64); 6];

const PM25: Bands = [
    (0.0, 9.0, 0.0, 50.0),
    (9.1, 35.4, 51.0, 100.0),
    (35.5, 55.4, 101.0, 150.0),
    (55.5, 125.4, 151.0, 200.0),
    (125.5, 225.4, 201.0, 300.0),
    (225.5, 325.4, 301.0, 500.0),
];

/// NO2, 1-hour, ppb.
const NO2_PPB: Bands = [
    (0.0, 53.0, 0.0, 50.0),
    (54.0, 100.0, 51.0, 100.0),
    (101.0, 360.0, 101.0, 150.0),
    (361.0, 649.0, 151.0, 200.0),
    (650.0, 1249.0, 201.0, 300.0),
    (1250.0, 2049.0, 301.0, 500.0),
];

/// µg/m³ of NO2 per ppb at 25 °C and 1 atm.
const NO2_UG_PER_PPB: f64 = 1.88;

/// `per_unit`: steps of the table's precision in one unit (10 for tenths).
fn index(bands: &Bands, c: f64, per_unit: f64) -> f64 {
    // Concentrations are truncated to the table's precision first.
    let c = (c.max(0.0) * per_unit).floor() / per_unit;
    for (lo, hi, ilo, ihi) in bands {
        if c <= *hi {
            return ilo + (ihi - ilo) * (c - lo).max(0.0) / (hi - lo);
        }
    }
    500.0
}

/// The AQI of a PM2.5 concentration, µg/m³.
pub fn from_pm25(c: f64) -> f64 {
    index(&PM25, c, 10.0)
}

/// The AQI of an NO2 concentration, µg/m³.
pub fn from_no2(c: f64) -> f64 {
    index(&NO2_PPB, c / NO2_UG_PER_PPB, 1.0)
}

/// The AQI of what is known: the worst of the pollutants' indexes.
pub fn aqi(pm25: Option<f64>, no2: Option<f64>) -> Option<f64> {
    match (pm25.map(from_pm25), no2.map(from_no2)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_epa_breakpoints() {
        assert_eq!(from_pm25(0.0), 0.0);
        assert_eq!(from_pm25(9.0), 50.0);
        assert!((from_pm25(35.4) - 100.0).abs() < 1e-9);
        assert!((from_pm25(55.5) - 151.0).abs() < 1e-9);
        assert_eq!(from_pm25(1000.0), 500.0);
        // 100 ppb of NO2 is 188 µg/m³: the top of "moderate".
        assert!((from_no2(188.0) - 100.0).abs() < 1e-9);
        assert_eq!(aqi(Some(9.0), Some(188.0)), Some(100.0));
        assert_eq!(aqi(None, None), None);
    }
}
