//! Units as devices write them, converted to the unit of the twin's
//! measurand: SenML's names (`Cel`, `%RH`, `/`), common spellings (`degC`,
//! `ug/m3`) and linear conversions (K, °F, km/h, hPa, …).

use twin_core::Measurand;

use crate::reading::{Malformed, q};

/// The twin's spelling of a unit written as `unit`.
fn canonical(unit: &str) -> &str {
    match unit.trim() {
        "Cel" | "degC" | "C" | "celsius" => "°C",
        "degF" | "F" | "°F" => "°F",
        "%RH" | "%EL" | "percent" => "%",
        "ug/m3" | "ug/m^3" | "µg/m3" | "μg/m³" | "μg/m3" => "µg/m³",
        "mg/m3" | "mg/m^3" => "mg/m³",
        "kmh" | "kph" | "km/hr" => "km/h",
        "1" | "ratio" => "/",
        "degrees" | "°" => "deg",
        u => u,
    }
}

/// (from, to, scale, offset): `to = from × scale + offset`.
const LINEAR: &[(&str, &str, f64, f64)] = &[
    ("K", "°C", 1.0, -273.15),
    ("°F", "°C", 5.0 / 9.0, -32.0 * 5.0 / 9.0),
    ("km/h", "m/s", 1.0 / 3.6, 0.0),
    ("m/s", "km/h", 3.6, 0.0),
    ("Pa", "bar", 1e-5, 0.0),
    ("hPa", "bar", 1e-3, 0.0),
    ("mbar", "bar", 1e-3, 0.0),
    ("kPa", "bar", 1e-2, 0.0),
    ("mA", "A", 1e-3, 0.0),
    ("s", "h", 1.0 / 3600.0, 0.0),
    ("min", "h", 1.0 / 60.0, 0.0),
    ("m", "mm", 1000.0, 0.0),
    ("cm", "mm", 10.0, 0.0),
    ("in", "mm", 25.4, 0.0),
    ("/", "%", 100.0, 0.0),
    ("mg/m³", "µg/m³", 1000.0, 0.0),
];

/// `(scale, offset)` taking a value in `unit` to `m`'s unit.
pub fn conversion(unit: &str, m: Measurand) -> Result<(f64, f64), Malformed> {
    let from = canonical(unit);
    let to = canonical(m.unit());
    if from == to || (from.is_empty() && to == "/") || (from == "/" && to.is_empty()) {
        return Ok((1.0, 0.0));
    }
    LINEAR
        .iter()
        .find(|(f, t, _, _)| *f == from && *t == to)
        .map(|(_, _, scale, offset)| (*scale, *offset))
        .ok_or_else(|| {
            Malformed::new(
                "wrong_unit",
                format!(
                    "{m} is in `{}`; `{}` does not convert to it",
                    m.unit(),
                    q(unit)
                ),
            )
        })
}

/// `value` in `unit`, in `m`'s unit.
pub fn convert(value: f64, unit: &str, m: Measurand) -> Result<f64, Malformed> {
    let (scale, offset) = conversion(unit, m)?;
    Ok(value * scale + offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Measurand as M;

    #[test]
    fn senml_and_common_units_convert() {
        assert_eq!(convert(21.5, "Cel", M::Temperature), Ok(21.5));
        assert!((convert(300.0, "K", M::Temperature).unwrap() - 26.85).abs() < 1e-9);
        assert!((convert(212.0, "°F", M::Temperature).unwrap() - 100.0).abs() < 1e-9);
        assert!((convert(36.0, "km/h", M::WindSpeed).unwrap() - 10.0).abs() < 1e-9);
        assert!((convert(10.0, "m/s", M::Speed).unwrap() - 36.0).abs() < 1e-9);
        assert_eq!(convert(12.0, "ug/m3", M::Pm25), Ok(12.0));
        assert_eq!(convert(55.0, "%RH", M::Humidity), Ok(55.0));
        assert!((convert(0.5, "/", M::SoilMoisture).unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(convert(0.7, "/", M::HealthIndex), Ok(0.7));
        assert_eq!(convert(3.0, "", M::Aqi), Ok(3.0));
        let e = convert(1.0, "furlong", M::Temperature).unwrap_err();
        assert_eq!(e.reason, "wrong_unit");
        assert!(e.detail.contains("°C"), "{e}");
    }
}
