//! The `twin` command end to end, as a user runs it.

use std::process::{Command, Output};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("twin runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_demo_run_leaves_a_store_that_inspect_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    let run = twin(&[
        "run",
        "--store",
        store,
        "--for",
        "3h",
        "--clock",
        "max",
        "--workers",
        "2",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stdout(&run).contains("ran 0d03:00:00.000 of simulated time"),
        "{}",
        stdout(&run)
    );

    let list = twin(&["inspect", "--store", store]);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    for kind in ["parcel/", "machine/", "sensor/", "vehicle/", "zone/"] {
        assert!(text.contains(kind), "no {kind} in\n{text}");
    }

    // The scripted operator switched the pump on at 0:10 and off at 2:00; the
    // world obeys 30 s later, so by now desired and reported agree.
    let pump = twin(&[
        "inspect",
        "--store",
        store,
        "machine/irrigation-pump",
        "--json",
    ]);
    assert!(pump.status.success(), "{}", stderr(&pump));
    let v: serde_json::Value = serde_json::from_slice(&pump.stdout).unwrap();
    let control = &v["controls"][0];
    assert_eq!(control["measurand"], "pump_on");
    assert_eq!(control["desired"], serde_json::json!({"flag": false}));
    assert_eq!(control["in_sync"], serde_json::Value::Bool(true));
    assert!(v["relations_from"][0]["lies_in"].as_u64().is_some());

    let vib = twin(&[
        "inspect",
        "--store",
        store,
        "sensor/vib-00",
        "--resolution",
        "5m",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&vib.stdout).unwrap();
    let buckets = v["history"]["vibration_rms"].as_array().unwrap();
    // The default window is 6 h, but the run lasted 3 h: 36 five-minute buckets.
    assert_eq!(buckets.len(), 36);
    assert_eq!(buckets[0]["count"], 30, "a sample every 10 s");
}

#[test]
fn a_run_continues_where_the_last_one_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let store = store.to_str().unwrap();
    for _ in 0..2 {
        let run = twin(&["run", "--store", store, "--for", "1h", "--clock", "max"]);
        assert!(run.status.success(), "{}", stderr(&run));
        assert!(stdout(&run).contains("(0 refused)"), "{}", stdout(&run));
    }
    let bus = twin(&["inspect", "--store", store, "vehicle/bus-00", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&bus.stdout).unwrap();
    assert_eq!(v["entity"]["common"]["updated"], 2 * 3_600_000 - 10_000);
}

#[test]
fn bad_arguments_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let o = twin(&["inspect", "--store", missing.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no store at"), "{}", stderr(&o));

    let o = twin(&["run", "--ephemeral", "--for", "3 weeks"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unknown duration unit ` weeks`"),
        "{}",
        stderr(&o)
    );

    let o = twin(&["run", "--ephemeral", "--clock", "x0"]);
    assert!(
        stderr(&o).contains("expected real, max, step or xN"),
        "{}",
        stderr(&o)
    );

    let store = dir.path().join("s");
    let store = store.to_str().unwrap();
    assert!(
        twin(&["run", "--store", store, "--for", "10m", "--clock", "max"])
            .status
            .success()
    );
    let o = twin(&["inspect", "--store", store, "robot/r2"]);
    assert!(
        stderr(&o).contains("unknown entity kind `robot`"),
        "{}",
        stderr(&o)
    );
    let o = twin(&["inspect", "--store", store, "machine/not-there"]);
    assert!(
        stderr(&o).contains("machine/not-there is not in the store"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bench_runtime_prints_every_figure() {
    let o = twin(&[
        "bench",
        "runtime",
        "--json",
        "--entities",
        "3000",
        "--rounds",
        "2",
        "--batch",
        "500",
        "--big",
        "6000",
        "--actix-entities",
        "2000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "raw_obs_per_s",
        "twin_obs_per_s",
        "twin_obs_per_s_with_history",
        "ratio",
        "bytes_per_idle_entity",
        "bytes_per_idle_entity_10m",
        "actix_per_entity_obs_per_s",
    ] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key} in {v}");
    }
    assert_eq!(
        v["twin_events_received"], 6000,
        "the subscriber counted every event"
    );
}
