use super::*;

/// A small run-to-failure fleet: two operating regimes that shift every
/// sensor, wear that grows exponentially towards failure, and noise. The
/// noise comes from a fixed linear congruential sequence so the test needs
/// no random crate and is the same on every run.
pub(crate) fn fleet(units: u32, seed: u64) -> Vec<Trajectory> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut uniform = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (1..=units)
        .map(|unit| {
            let life = 120 + (uniform() * 130.0) as usize;
            let rate = 0.8 + 0.4 * uniform();
            let cycles = (0..life)
                .map(|t| {
                    let regime = (uniform() < 0.5) as usize as f64;
                    let wear = ((t as f64 / life as f64) * 4.0 * rate).exp() / 54.6;
                    let noise = |u: f64| (u - 0.5) * 0.4;
                    Cycle {
                        settings: vec![regime * 20.0 + noise(uniform()) * 0.01, 100.0],
                        sensors: vec![
                            500.0 + 30.0 * regime + 3.0 * wear + noise(uniform()),
                            20.0 - 5.0 * regime - 1.5 * wear + noise(uniform()),
                            7.0 + noise(uniform()),
                            1.0,
                        ],
                    }
                })
                .collect();
            Trajectory { unit, cycles }
        })
        .collect()
}

pub(crate) fn small() -> Config {
    Config {
        iterations: 120,
        ensemble: 2,
        ..Config::default()
    }
}

#[test]
fn predicts_held_out_machines_within_bounds_and_covers_the_truth() {
    let train = fleet(40, 1);
    let model = Model::train(&train, small(), "test").unwrap();
    assert_eq!(model.regimes.count(), 2);
    assert_eq!(model.regimes.kept(), &[0, 1, 2], "the flat sensor goes");
    let test = fleet(30, 2);
    let (mut sq, mut covered, mut n) = (0.0, 0, 0);
    for h in &test {
        let life = h.cycles.len();
        let mut state = model.follow();
        for (i, c) in h.cycles.iter().enumerate() {
            model.observe(&mut state, &c.settings, &c.sensors).unwrap();
            let truth = (life - i - 1) as f64;
            if i + 1 >= 30 && truth <= 100.0 && i % 10 == 0 {
                let e = model.estimate(&state).unwrap();
                sq += (e.value - truth).powi(2);
                covered += (e.low <= truth && truth <= e.high) as usize;
                n += 1;
            }
        }
    }
    let rmse = (sq / n as f64).sqrt();
    let coverage = covered as f64 / n as f64;
    assert!(rmse < 20.0, "RMSE {rmse:.1} over {n} estimates");
    assert!(
        (0.8..=0.99).contains(&coverage),
        "coverage {coverage:.2} over {n} estimates"
    );
}

#[test]
fn a_model_survives_its_file_and_refuses_a_wrong_row() {
    let model = Model::train(&fleet(12, 3), small(), "test").unwrap();
    let again = Model::from_json(&model.to_json()).unwrap();
    let h = &fleet(1, 4)[0];
    let (mut a, mut b) = (model.follow(), again.follow());
    for c in &h.cycles[..50] {
        model.observe(&mut a, &c.settings, &c.sensors).unwrap();
        again.observe(&mut b, &c.settings, &c.sensors).unwrap();
    }
    assert_eq!(model.estimate(&a), again.estimate(&b));
    let e = model.observe(&mut a, &[1.0], &[1.0]).unwrap_err();
    assert!(e.to_string().contains("the model takes 2 and 4"), "{e}");
    assert_eq!(
        model.estimate(&model.follow()),
        None,
        "nothing seen, no estimate"
    );
    let mut broken: serde_json::Value = serde_json::from_str(&model.to_json()).unwrap();
    broken["regimes"]["kept"] = serde_json::json!([99]);
    let e = Model::from_json(&broken.to_string()).err().unwrap();
    assert!(e.to_string().contains("do not agree"), "{e}");
    let e = Model::from_json("{\"format\": 9}").err().unwrap();
    assert!(e.to_string().starts_with("model file"), "{e}");
}

#[test]
fn refuses_histories_of_mixed_shape() {
    let mut f = fleet(3, 5);
    f[1].cycles[7].sensors.pop();
    let e = Model::train(&f, small(), "t").err().unwrap().to_string();
    assert!(e.contains("unit 2") && e.contains("cycle 8"), "{e}");
}
