//! The `twin` command end to end, as a user runs it.

use std::process::{Command, Output};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .env("RUST_LOG", "warn")
        // Runs in parallel: each serves gRPC on a port of its own.
        .env("TWIN_LISTEN", "127.0.0.1:0")
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
fn a_run_leaves_a_store_that_inspect_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    // The default scenario is the cocoa farm: all five kinds.
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

    // Without an entity: a summary whose counts are the store's.
    let summary = twin(&["inspect", "--store", store, "--json"]);
    assert!(summary.status.success(), "{}", stderr(&summary));
    let v: serde_json::Value = serde_json::from_slice(&summary.stdout).unwrap();
    let kinds = v["kinds"].as_object().unwrap();
    assert_eq!(kinds.len(), 5, "all five kinds: {v}");
    let by_kind: u64 = kinds
        .values()
        .map(|k| k["entities"].as_u64().unwrap())
        .sum();
    let by_subtype: u64 = kinds
        .values()
        .flat_map(|k| k["subtypes"].as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(
        (v["entities"].as_u64(), by_subtype),
        (Some(by_kind), by_kind)
    );
    assert_eq!(v["scenario"], "farm-cocoa");
    assert_eq!(v["sim_time_ms"], 3 * 3_600_000);
    let text = stdout(&twin(&["inspect", "--store", store]));
    assert!(text.contains(&format!("{by_kind} entities")), "{text}");
    assert!(text.contains("open alerts"), "{text}");

    // --list, and a filter, list the entities themselves.
    let list = twin(&["inspect", "--store", store, "--list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    for kind in ["parcel/", "machine/", "sensor/", "vehicle/", "zone/"] {
        assert!(text.contains(kind), "no {kind} in\n{text}");
    }
    assert!(text.contains(&format!("{by_kind} entities")), "{text}");
    let parcels = kinds["parcel"]["entities"].as_u64().unwrap();
    let cocoa = stdout(&twin(&["inspect", "--store", store, "--subtype", "cocoa"]));
    assert!(cocoa.contains(&format!("{parcels} entities")), "{cocoa}");
    assert!(cocoa.lines().filter(|l| l.starts_with("parcel/")).count() as u64 == parcels);

    let probe = twin(&[
        "inspect",
        "--store",
        store,
        "sensor/weather-00-temperature",
        "--resolution",
        "5m",
        "--json",
    ]);
    assert!(probe.status.success(), "{}", stderr(&probe));
    let v: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    let buckets = v["history"]["temperature"].as_array().unwrap();
    // A sample every 10 minutes for 3 hours, one per 5-minute bucket (the
    // first falls at the sensor's own offset in its period).
    assert!((17..=18).contains(&buckets.len()), "{buckets:?}");
    assert!(buckets.iter().all(|b| b["count"] == 1));
    for pair in buckets.windows(2) {
        let gap = pair[1]["start"].as_i64().unwrap() - pair[0]["start"].as_i64().unwrap();
        assert_eq!(gap, 600_000);
    }
    assert!(v["relations_from"][0]["attached_to"].as_u64().is_some());
}

#[test]
fn a_run_continues_where_the_last_one_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let store = store.to_str().unwrap();
    for _ in 0..2 {
        let run = twin(&[
            "run",
            "--scenario",
            "city",
            "--scale",
            "0.3",
            "--store",
            store,
            "--for",
            "1h",
            "--clock",
            "max",
        ]);
        assert!(run.status.success(), "{}", stderr(&run));
        assert!(stdout(&run).contains("(0 refused"), "{}", stdout(&run));
    }
    let bus = twin(&["inspect", "--store", store, "vehicle/bus-0-0", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&bus.stdout).unwrap();
    let updated = v["entity"]["common"]["updated"].as_i64().unwrap();
    assert!(updated > 3_600_000 + 3_500_000, "{updated}");
}

#[test]
fn every_shipped_scenario_runs_to_its_end_and_exits_0() {
    for name in ["farm-cocoa", "garden", "city", "factory"] {
        let path = format!("{}/data/scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let run = twin(&[
            "run",
            "--scenario",
            &path,
            "--scale",
            "0.3",
            "--for",
            "2h",
            "--clock",
            "max",
            "--ephemeral",
        ]);
        assert!(run.status.success(), "{name}: {}", stderr(&run));
        let out = stdout(&run);
        assert!(
            out.contains("ran 0d02:00:00.000") && out.contains("(0 refused"),
            "{name}: {out}"
        );
    }
    let o = twin(&["run", "--scenario", "moon-base", "--ephemeral"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("built-in: farm-cocoa, garden, city, factory"),
        "{}",
        stderr(&o)
    );
}

/// Records `scenario` for `duration`; returns the recording's path.
fn record(dir: &std::path::Path, scenario: &str, duration: &str) -> std::path::PathBuf {
    record_at(dir, scenario, duration, "0.3")
}

fn record_at(
    dir: &std::path::Path,
    scenario: &str,
    duration: &str,
    scale: &str,
) -> std::path::PathBuf {
    let out = dir.join("run.rec");
    let o = twin(&[
        "record",
        "--scenario",
        scenario,
        "--scale",
        scale,
        "--for",
        duration,
        "--out",
        out.to_str().unwrap(),
        "--hash-every",
        "10",
        "--workers",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

#[test]
fn replay_reproduces_every_hash_with_one_and_two_workers() {
    let dir = tempfile::tempdir().unwrap();
    let rec = record(dir.path(), "city", "2h");
    for workers in ["1", "2"] {
        let o = twin(&["replay", rec.to_str().unwrap(), "--workers", workers]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("120 steps"), "{}", stdout(&o));
        assert!(
            stdout(&o).contains("12 state hashes reproduced"),
            "{}",
            stdout(&o)
        );
    }
}

#[test]
fn replay_with_inference_reproduces_every_hash_with_one_and_two_workers() {
    // The factory scores every sensor series; its 1 Hz series leave their
    // hour of probation halfway through.
    let dir = tempfile::tempdir().unwrap();
    let rec = record(dir.path(), "factory", "2h");
    for workers in ["1", "2"] {
        let o = twin(&["replay", rec.to_str().unwrap(), "--workers", workers]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("replayed factory with anomaly/"), "{out}");
        assert!(out.contains("12 state hashes reproduced"), "{out}");
    }
}

#[test]
fn a_damaged_recording_is_refused_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let rec = record(dir.path(), "factory", "10m");
    let mut bytes = std::fs::read(&rec).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&rec, &bytes).unwrap();
    let o = twin(&["replay", rec.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("corrupt block at offset"),
        "{}",
        stderr(&o)
    );
    // Cut short: refused, not accepted as a shorter run.
    std::fs::write(&rec, &bytes[..at]).unwrap();
    let o = twin(&["replay", rec.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("corrupt block at offset") || stderr(&o).contains("cut short"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_tampered_recording_is_reported_at_the_first_divergence() {
    use twin_core::Value;
    use twin_core::recording::{Block, Reader, Writer};
    let dir = tempfile::tempdir().unwrap();
    let rec = record(dir.path(), "factory", "30m");
    // Change one observation in step 12 and write valid checksums: only the
    // replay can tell.
    let tampered = dir.path().join("tampered.rec");
    let mut reader = Reader::open(&rec).unwrap();
    let mut writer = Writer::create(&tampered).unwrap();
    let mut changed = None;
    let mut attached = std::collections::HashMap::new();
    while let Some(mut block) = reader.next_block().unwrap() {
        if let Block::Create { records, .. } = &block {
            // Learn the names, to read the replay's message.
            records.iter().for_each(|r| r.check().unwrap());
            for r in records {
                for rel in r.common.relations() {
                    if let twin_core::Relation::AttachedTo(t) = rel {
                        attached.insert(r.id(), *t);
                    }
                }
            }
        }
        if let Block::Observations {
            step: 12,
            observations,
        } = &mut block
            && changed.is_none()
        {
            let o = observations
                .iter_mut()
                .find(|o| matches!(o.value, Value::Number(_)))
                .unwrap();
            o.value = Value::Number(123.0);
            changed = Some(o.entity);
        }
        writer.write(&block).unwrap();
    }
    writer.finish().unwrap();
    let entity = changed.expect("step 12 has observations");
    let o = twin(&["replay", tampered.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    // Hashes every 10 steps: the first after step 12 is at step 19.
    assert!(err.contains("diverged at step 19"), "{err}");
    // The sensor's reading is also its machine's: the first of the two in
    // id order is named.
    let named: Vec<_> = std::iter::once(entity)
        .chain(attached.get(&entity).copied())
        .filter(|e| err.contains(&format!("entity {e} ")))
        .collect();
    assert_eq!(named.len(), 1, "{err}");
    assert!(
        err.contains("emitted other events") || err.contains("has another state"),
        "{err}"
    );
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
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unknown duration unit ` weeks`"),
        "{}",
        stderr(&o)
    );

    let o = twin(&["run", "--ephemeral", "--clock", "fast-ish"]);
    assert!(
        stderr(&o).contains("expected real, max, step or xN"),
        "{}",
        stderr(&o)
    );
    let o = twin(&["run", "--ephemeral", "--clock", "x0"]);
    assert!(
        stderr(&o).contains("must be between 0.001 and 1000000"),
        "{}",
        stderr(&o)
    );
    let o = twin(&["run", "--ephemeral", "--scale", "1e12"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("over the limit"), "{}", stderr(&o));

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
        "--history-entities",
        "300",
        "--history-hours",
        "3",
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

#[test]
fn bench_inference_prints_every_figure() {
    let o = twin(&[
        "bench",
        "inference",
        "--series",
        "2000",
        "--probation",
        "20",
        "--rounds",
        "5",
        "--runs",
        "1",
        "--machines",
        "50",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    for key in [
        "twin_obs_per_s",
        "anomaly_obs_per_s",
        "anomaly_ratio",
        "rul_predictions_per_s",
    ] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key}: {v}");
    }
}

#[test]
fn bench_world_prints_every_figure() {
    let o = twin(&[
        "bench",
        "world",
        "--json",
        "--entities",
        "5000",
        "--ticks",
        "3",
        "--runs",
        "1",
        "--replay-scale",
        "5",
        "--replay-for",
        "2m",
        "--no-mesa",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "world_updates_per_s",
        "world_observations_per_s",
        "replay_events_per_s",
    ] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key} in {v}");
    }
    assert!(
        v["replay_hashes_checked"].as_u64().is_some_and(|n| n >= 1),
        "{v}"
    );
    assert!(v["mesa_ratio"].is_null() && v["mesa_error"].as_str().unwrap().contains("skipped"));
}

/// `--inference FILE` runs the file's models instead of the scenario's:
/// here the city's sensors get anomaly scores after a short probation and
/// its vehicles no estimate (the scenario's tracker is not run). A file
/// naming an unknown model is refused, and the message names the file.
#[test]
fn an_inference_file_replaces_the_scenarios_models() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models.toml");
    std::fs::write(
        &models,
        "[[inference]]\nmodel = \"anomaly\"\nselect = { kinds = [\"sensor\"] }\nparams = { probation = 20 }\n",
    )
    .unwrap();
    let store = dir.path().join("s");
    let store = store.to_str().unwrap();
    let run = |models: &std::path::Path| {
        twin(&[
            "run",
            "--scenario",
            "city",
            "--scale",
            "0.3",
            "--store",
            store,
            "--for",
            "1h",
            "--clock",
            "max",
            "--inference",
            models.to_str().unwrap(),
        ])
    };
    let o = run(&models);
    assert!(o.status.success(), "{}", stderr(&o));
    let loop_ = twin(&["inspect", "--store", store, "sensor/loop-1-0", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&loop_.stdout).unwrap();
    let text = v["entity"]["common"]["readings"].to_string();
    assert!(text.contains("anomaly_score"), "{text}");
    let bus = twin(&["inspect", "--store", store, "vehicle/bus-0-0", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&bus.stdout).unwrap();
    let text = v["entity"]["common"]["readings"].to_string();
    assert!(text.contains("position"), "{text}");
    assert!(!text.contains("position_estimate"), "{text}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[inference]]\nmodel = \"oracle\"\n").unwrap();
    let o = run(&bad);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("bad.toml") && stderr(&o).contains("oracle"),
        "{}",
        stderr(&o)
    );
    // Model files are read relative to the inference file.
    std::fs::write(
        &bad,
        "[[inference]]\nmodel = \"rul\"\nfile = \"rul-pump.json\"\n",
    )
    .unwrap();
    let o = run(&bad);
    assert!(!o.status.success());
    let expected = dir.path().join("rul-pump.json");
    assert!(
        stderr(&o).contains(expected.to_str().unwrap()),
        "{}",
        stderr(&o)
    );
}

#[test]
fn replay_plans_what_the_run_planned() {
    // The factory's maintenance planner opens orders as machines wear out
    // and break; its schedules are recorded and handed back.
    use twin_core::recording::{Block, Reader};
    let dir = tempfile::tempdir().unwrap();
    let rec = record(dir.path(), "factory", "12h");
    let mut orders = std::collections::BTreeSet::new();
    let mut schedules = 0;
    let mut reader = Reader::open(&rec).unwrap();
    while let Some(block) = reader.next_block().unwrap() {
        if let Block::Planned {
            schedules: s,
            commands,
            ..
        } = block
        {
            schedules += s.len();
            for c in commands {
                if let twin_core::Action::WorkOrder { order, .. } = c.action {
                    orders.insert(order);
                }
            }
        }
    }
    assert!(
        !orders.is_empty() && schedules > 0,
        "nothing planned in 12 h"
    );
    let o = twin(&["replay", rec.to_str().unwrap(), "--workers", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("{} work orders", orders.len())),
        "{out} (the run opened {})",
        orders.len()
    );
}

#[test]
fn replay_waters_what_the_run_watered() {
    // The garden's irrigation planner waters beds as they dry;
    // a replay decides the same commands (or fails) and ends with as many
    // plans.
    use twin_core::recording::{Block, Reader};
    let dir = tempfile::tempdir().unwrap();
    // Every bed and the pump (a third of the garden would have none).
    let rec = record_at(dir.path(), "garden", "2d", "1");
    let mut waterings = 0;
    let mut reader = Reader::open(&rec).unwrap();
    while let Some(block) = reader.next_block().unwrap() {
        if let Block::Planned { commands, .. } = block {
            waterings += commands
                .iter()
                .filter(|c| {
                    matches!(
                        c.action,
                        twin_core::Action::SetDesired {
                            measurand: twin_core::Measurand::Irrigation,
                            ..
                        }
                    )
                })
                .count();
        }
    }
    assert!(waterings > 0, "nothing watered in 2 days");
    let o = twin(&["replay", rec.to_str().unwrap(), "--workers", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let plans: usize = out
        .split(" plans")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no plan count in {out}"));
    assert!(plans >= waterings, "{out} ({waterings} waterings sent)");
}
