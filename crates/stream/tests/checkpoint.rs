//! Checkpoint directory layout and restart logic, on a temp dir.

use kwire_stream::checkpoint::{offsets_json, parse_offsets_json};
use kwire_stream::{
    Checkpoint, CheckpointMeta, CommitEntry, Engine, OffsetEntry, OutputMode, PartitionOffsets, Plan,
    QuerySpec, Recovery, SourceRecord, StreamError, TopicPartition,
};

fn spec() -> QuerySpec {
    QuerySpec {
        schema: Some("gender STRING, age LONG, party STRING".into()),
        group_by: vec!["gender".into(), "party".into()],
        output_mode: OutputMode::Complete,
        ..QuerySpec::default()
    }
}

fn meta(plan: &Plan) -> CheckpointMeta {
    CheckpointMeta {
        id: "q1".into(),
        signature: plan.state_signature(),
        sources: vec!["voters".into()],
        description: plan.description().into(),
    }
}

fn offs(v: &[(i32, i64)]) -> PartitionOffsets {
    v.iter().map(|(p, o)| (TopicPartition::new("voters", *p), *o)).collect()
}

fn rec(v: &str, offset: i64) -> SourceRecord<'_> {
    SourceRecord {
        key: None,
        value: Some(v.as_bytes()),
        topic: "voters",
        partition: 0,
        offset,
        timestamp_ms: 0,
        timestamp_type: 0,
        headers: &[],
    }
}

const M: &str = r#"{"gender":"M","age":30,"party":"D"}"#;

/// Runs batch `id` over `values` through the whole checkpoint protocol,
/// stopping after `stop_after` steps (1 = offsets written, 2 = state written,
/// 3 = committed).
fn batch(cp: &Checkpoint, e: &mut Engine, id: u64, start: i64, values: &[&str], stop_after: u8) -> i64 {
    let end = start + values.len() as i64;
    let entry = OffsetEntry {
        batch_id: id,
        batch_watermark_ms: e.next_watermark_ms(),
        batch_timestamp_ms: 1_700_000_000_000,
        start: offs(&[(0, start)]),
        end: offs(&[(0, end)]),
        sink: Some(serde_json::json!({"jsonl_len": start * 10})),
    };
    cp.write_offsets(&entry).unwrap();
    if stop_after == 1 {
        return end;
    }
    let recs: Vec<SourceRecord<'_>> =
        values.iter().enumerate().map(|(i, v)| rec(v, start + i as i64)).collect();
    e.run_batch(id, entry.batch_watermark_ms, recs).unwrap();
    cp.write_state(id, &e.snapshot()).unwrap();
    if stop_after == 2 {
        return end;
    }
    cp.write_commit(id, &CommitEntry { next_batch_watermark_ms: e.next_watermark_ms() }).unwrap();
    end
}

#[test]
fn fresh_resume_and_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::new(&spec()).unwrap();
    let (cp, r) = Checkpoint::open(dir.path(), &meta(&plan)).unwrap();
    assert_eq!(r, Recovery::Fresh);
    let mut e = Engine::new(plan.clone());
    let end0 = batch(&cp, &mut e, 0, 0, &[M, M], 3);
    // batch 1 planned and state written, but not committed: crash
    batch(&cp, &mut e, 1, end0, &[M], 2);

    let (cp, r) = Checkpoint::open(dir.path(), &meta(&plan)).unwrap();
    let Recovery::Rerun { batch: b, state } = r else {
        panic!("expected a re-run, got {r:?}");
    };
    assert_eq!(b.batch_id, 1);
    assert_eq!(b.start, offs(&[(0, 2)]));
    assert_eq!(b.end, offs(&[(0, 3)]));
    assert_eq!(b.sink, Some(serde_json::json!({"jsonl_len": 20})));
    let state = state.expect("state of batch 0");
    assert_eq!(state.last_batch_id(), Some(0));
    let mut e2 = Engine::new(plan.clone());
    e2.restore(state).unwrap();
    // re-run batch 1 with exactly its offsets, then commit
    let out = e2.run_batch(1, b.batch_watermark_ms, [rec(M, 2)]).unwrap();
    assert_eq!(out.rows[0][2], kwire_stream::Value::Long(3), "no double counting");
    cp.write_state(1, &e2.snapshot()).unwrap();
    cp.write_commit(1, &CommitEntry { next_batch_watermark_ms: 0 }).unwrap();

    let (_, r) = Checkpoint::open(dir.path(), &meta(&plan)).unwrap();
    match r {
        Recovery::Resume { next_batch_id, start, next_watermark_ms, state } => {
            assert_eq!(next_batch_id, 2);
            assert_eq!(start, offs(&[(0, 3)]));
            assert_eq!(next_watermark_ms, 0);
            assert_eq!(state.unwrap().group_count(), 1);
        }
        other => panic!("{other:?}"),
    }
    // no temp files left behind
    for sub in ["", "offsets", "commits", "state"] {
        for ent in std::fs::read_dir(dir.path().join(sub)).unwrap() {
            let n = ent.unwrap().file_name().into_string().unwrap();
            assert!(!n.starts_with('.'), "leftover {n}");
        }
    }
    let text = std::fs::read_to_string(dir.path().join("offsets/1")).unwrap();
    assert!(text.starts_with("v1 crc32c=") && text.contains("\n{"), "{text}");
    assert!(text.contains(r#""end":{"voters":{"0":3}}"#), "{text}");
}

#[test]
fn crash_before_first_batch_runs_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::new(&spec()).unwrap();
    let (cp, _) = Checkpoint::open(dir.path(), &meta(&plan)).unwrap();
    let mut e = Engine::new(plan.clone());
    batch(&cp, &mut e, 0, 0, &[M], 1);
    let (_, r) = Checkpoint::open(dir.path(), &meta(&plan)).unwrap();
    match r {
        Recovery::Rerun { batch, state } => {
            assert_eq!(batch.batch_id, 0);
            assert!(state.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn incompatible_query_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::new(&spec()).unwrap();
    Checkpoint::open(dir.path(), &meta(&plan)).unwrap();
    let other = Plan::new(&QuerySpec { group_by: vec!["gender".into()], ..spec() }).unwrap();
    let err = Checkpoint::open(dir.path(), &meta(&other)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StreamError::Checkpoint { .. }));
    assert!(msg.contains("incompatible query") && msg.contains("keys=[gender STRING]"), "{msg}");
    // a filter change keeps the state compatible, like Spark
    let filtered = Plan::new(&QuerySpec { filter: Some("age > 1".into()), ..spec() }).unwrap();
    assert!(Checkpoint::open(dir.path(), &meta(&filtered)).is_ok());
    // other sources are refused
    let mut m = meta(&plan);
    m.sources = vec!["other".into()];
    assert!(Checkpoint::open(dir.path(), &m).is_err());
}

#[test]
fn old_files_are_purged_and_damage_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::new(&spec()).unwrap();
    let (cp, _) = Checkpoint::open(dir.path(), &meta(&plan)).unwrap();
    let mut e = Engine::new(plan.clone());
    let mut start = 0;
    for id in 0..8 {
        start = batch(&cp, &mut e, id, start, &[M], 3);
    }
    let mut states: Vec<String> = std::fs::read_dir(dir.path().join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    states.sort();
    assert_eq!(states, ["5.json", "6.json", "7.json"]);
    // a corrupt commit file is an error, not a silent restart
    std::fs::write(dir.path().join("commits/7"), "v1\n{not json").unwrap();
    let err = Checkpoint::open(dir.path(), &meta(&plan)).unwrap_err().to_string();
    assert!(err.contains("corrupt"), "{err}");
    std::fs::write(dir.path().join("commits/7"), "v9\n{}").unwrap();
    let err = Checkpoint::open(dir.path(), &meta(&plan)).unwrap_err().to_string();
    assert!(err.contains("commits/7") && err.contains("format v9 by a newer kwire"), "{err}");
    std::fs::write(dir.path().join("commits/7"), "{}\n").unwrap();
    let err = Checkpoint::open(dir.path(), &meta(&plan)).unwrap_err().to_string();
    assert!(err.contains("unsupported log version"), "{err}");
    // a file from an older kwire (no checksum) still reads
    std::fs::write(dir.path().join("commits/7"), "v1\n{\"nextBatchWatermarkMs\":0}\n").unwrap();
    assert!(Checkpoint::open(dir.path(), &meta(&plan)).is_ok());
    // committed aggregation state missing
    std::fs::write(dir.path().join("commits/7"), "v1\n{\"nextBatchWatermarkMs\":0}").unwrap();
    std::fs::remove_file(dir.path().join("state/7.json")).unwrap();
    assert!(Checkpoint::open(dir.path(), &meta(&plan)).is_err());
}

#[test]
fn spark_offsets_json() {
    let o = parse_offsets_json(r#"{"voters":{"0":23,"1":-2},"t2":{"0":-1}}"#).unwrap();
    assert_eq!(o.len(), 3);
    assert_eq!(o[&TopicPartition::new("voters", 1)], -2);
    assert_eq!(offsets_json(&o), r#"{"t2":{"0":-1},"voters":{"0":23,"1":-2}}"#);
    assert!(parse_offsets_json(r#"{"voters":{"x":1}}"#).is_err());
    assert!(parse_offsets_json("earliest").is_err());
}

/// Every file of a checkpoint, relative to its directory, with its bytes.
fn files_of(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["", "offsets", "commits", "state", "sinks"] {
        for ent in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = ent.unwrap().path();
            if p.is_file() {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// A checkpoint with batches 0-2 committed and batch 3 planned (a re-run).
fn three_committed_one_planned(dir: &std::path::Path, plan: &Plan) {
    let (cp, _) = Checkpoint::open(dir, &meta(plan)).unwrap();
    let mut e = Engine::new(plan.clone());
    let mut start = 0;
    for id in 0..3 {
        start = batch(&cp, &mut e, id, start, &[M, r#"{"gender":"F","age":41,"party":"R"}"#], 3);
    }
    batch(&cp, &mut e, 3, start, &[M], 1);
}

/// Damage anywhere in any file (every truncation, every byte flipped) is
/// either an error naming that file, or (where the file is not read on
/// restart) the same recovery as the intact checkpoint: never a different
/// start, state or count.
#[test]
fn every_truncation_and_flipped_byte_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::new(&spec()).unwrap();
    three_committed_one_planned(dir.path(), &plan);
    let (_, intact) = Checkpoint::open(dir.path(), &meta(&plan)).unwrap();
    assert!(matches!(intact, Recovery::Rerun { .. }), "{intact:?}");
    let files = files_of(dir.path());
    let names: Vec<_> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    assert_eq!(files.len(), 11, "metadata, 4 offsets, 3 commits, 3 states: {names:?}");
    let (mut errors, mut same) = (0, 0);
    for (path, bytes) in &files {
        let name = path.strip_prefix(dir.path()).unwrap().display().to_string();
        let mut damaged: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x04;
            damaged.push(b);
        }
        for d in damaged {
            std::fs::write(path, &d).unwrap();
            match Checkpoint::open(dir.path(), &meta(&plan)) {
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains(&name), "the error names {name}: {msg}");
                    errors += 1;
                }
                Ok((_, r)) => {
                    assert_eq!(
                        r,
                        intact,
                        "{name} damaged to {:?} changed the recovery",
                        String::from_utf8_lossy(&d)
                    );
                    same += 1;
                }
            }
        }
        std::fs::write(path, bytes).unwrap();
    }
    // The files read on restart (metadata, the last offsets, the state of
    // batch 2) make most damage an error.
    assert!(errors > 1000 && same > 0, "errors {errors}, unchanged {same}");
    let (_, again) = Checkpoint::open(dir.path(), &meta(&plan)).unwrap();
    assert_eq!(again, intact);
}

/// A full disk while a file is written: an error naming the file, no temp
/// file left, and the checkpoint reads as before. (/dev/full answers every
/// write with ENOSPC; the temp file's name is made a link to it.)
#[test]
fn a_full_disk_while_writing_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::new(&spec()).unwrap();
    three_committed_one_planned(dir.path(), &plan);
    let (cp, before) = Checkpoint::open(dir.path(), &meta(&plan)).unwrap();
    let files = files_of(dir.path());
    let commit = dir.path().join("commits/3");
    let tmp = dir.path().join("commits").join(format!(".3.tmp-{}", std::process::id()));
    std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
    let err = cp.write_commit(3, &CommitEntry { next_batch_watermark_ms: 0 }).unwrap_err().to_string();
    assert!(err.contains("commits/3") && err.contains("No space left on device"), "{err}");
    assert!(!commit.exists() && std::fs::symlink_metadata(&tmp).is_err(), "nothing half-written is left");
    assert_eq!(files_of(dir.path()), files, "every file as it was");
    let (_, after) = Checkpoint::open(dir.path(), &meta(&plan)).unwrap();
    assert_eq!(after, before);
}
