//! How times and values read on screen.

use twin_proto::v1 as pb;

/// Simulated time as `Nd HH:MM:SS`, the way the runtime prints it.
pub fn sim_time(ms: i64) -> String {
    let s = ms.div_euclid(1000);
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    format!("{d}d {h:02}:{m:02}:{sec:02}")
}

/// A value of `measurand`: a number at the measurand's resolution (from
/// the measurand table) with its unit, or as its size deserves when the
/// measurand is not one this viewer knows.
pub fn value(measurand: &str, v: Option<&pb::Value>) -> String {
    use pb::value::Kind as V;
    let known = measurand.parse::<twin_core::Measurand>().ok();
    match (v.and_then(|v| v.kind.as_ref()), known) {
        (Some(V::Number(x)), Some(m)) => match m.unit() {
            "" => format!("{x:.d$}", d = m.decimals()),
            u => format!("{x:.d$} {u}", d = m.decimals()),
        },
        (v, _) => any(v),
    }
}

/// A value whatever its measurand.
fn any(v: Option<&pb::value::Kind>) -> String {
    use pb::value::Kind as V;
    match v {
        None => "—".into(),
        Some(V::Number(x)) => number(*x),
        Some(V::Flag(f)) => if *f { "on" } else { "off" }.into(),
        Some(V::Point(p)) => format!("{:.5}, {:.5}", p.lat, p.lon),
        Some(V::Text(t)) => t.clone(),
        Some(V::Interval(e)) => format!(
            "{} [{} – {}]",
            number(e.value),
            number(e.low),
            number(e.high)
        ),
        Some(V::Forecast(f)) => match (f.points.first(), f.points.last()) {
            (Some(a), Some(b)) => format!(
                "{} next hour, {} in {} h",
                number(a.value),
                number(b.value),
                (f.points.len() as i64).saturating_mul(f.step_ms) / 3_600_000
            ),
            _ => "—".into(),
        },
    }
}

/// A number with as many decimals as its size deserves.
pub fn number(x: f64) -> String {
    let a = x.abs();
    if a >= 1000.0 || x == x.trunc() {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_numbers_read_well() {
        assert_eq!(sim_time(7_200_000), "0d 02:00:00");
        assert_eq!(sim_time(90_061_000), "1d 01:01:01");
        assert_eq!(number(1.23456), "1.235");
        assert_eq!(number(42.0), "42");
        assert_eq!(number(123.456), "123.5");
        let v = |x: f64| pb::Value {
            kind: Some(pb::value::Kind::Number(x)),
        };
        assert_eq!(
            value("soil_moisture", Some(&v(26.900662110060548))),
            "26.9 %"
        );
        assert_eq!(value("pm10", Some(&v(58.01361994997773))), "58.0 µg/m³");
        assert_eq!(value("a_vendor_index", Some(&v(0.123456))), "0.123");
    }
}
