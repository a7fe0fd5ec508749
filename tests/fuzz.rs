//! `twin fuzz` against a real `twin run`: a few thousand hostile calls and
//! mutated files (`twin fuzz --cases 1000000` is the long run).

use std::process::Command;

#[test]
fn a_short_fuzz_run_finds_no_panic_and_the_server_keeps_answering() {
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["fuzz", "--cases", "4000", "--seed", "7", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["server_panics"], 0, "{r}");
    assert_eq!(r["reader_panics"], 0, "{r}");
    assert_eq!(r["serving"], true, "{r}");
    // The cases reach past the door: every kind of answer is seen.
    for code in [
        "Ok",
        "InvalidArgument",
        "PermissionDenied",
        "Unauthenticated",
        "NotFound",
    ] {
        assert!(r["codes"][code].as_u64().unwrap_or(0) > 0, "{code}: {r}");
    }
    assert!(r["files_accepted"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["internal_examples"], serde_json::json!([]), "{r}");
}
