//! `kwire dump-log`: kafka-dump-log.sh for `.log` segments, offline (see
//! `kwire_cli::dump_log` for the decoding and the format).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use kwire_cli::dump_log::{DumpOptions, dump_segment, dump_segment_json, segment_start_offset};

use crate::args::dump_log::DumpLogArgs;
use crate::args::format::Format;

pub fn run(args: DumpLogArgs) -> Result<ExitCode> {
    let files: Vec<_> = args.files.iter().chain(&args.files_flag).collect();
    if files.is_empty() {
        bail!("name at least one segment file: kwire dump-log FILE.log... (or --files FILE[,FILE...])");
    }
    let opts = DumpOptions {
        print_data: args.print_data_log,
        deep: args.deep_iteration,
        skip_record_metadata: args.skip_record_metadata,
        max_decompressed: args.max_decompressed,
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = false;
    for path in files {
        let shown = path.display().to_string();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let json = args.format == Format::Json;
        if !json {
            writeln!(out, "Dumping {shown}")?;
        }
        let Some(start) = segment_start_offset(&name) else {
            out.flush()?;
            eprintln!(
                "kwire: error: {shown}: not a log segment (kwire dump-log reads <base offset>.log files, \
                 e.g. 00000000000000000000.log)"
            );
            failed = true;
            continue;
        };
        let data = match std::fs::read(path).with_context(|| format!("cannot read {shown}")) {
            Ok(d) => Bytes::from(d),
            Err(e) => {
                out.flush()?;
                eprintln!("kwire: error: {e:#}");
                failed = true;
                continue;
            }
        };
        let sum = if json {
            dump_segment_json(data, &opts, &mut out)?
        } else {
            writeln!(out, "Log starting offset: {start}")?;
            dump_segment(data, &opts, &mut out)?
        };
        if sum.trailing_bytes > 0 && json {
            eprintln!("kwire: warning: {shown}: {} invalid bytes at the end", sum.trailing_bytes);
        } else if sum.trailing_bytes > 0 {
            writeln!(out, "Found {} invalid bytes at the end of {name}", sum.trailing_bytes)?;
        }
        out.flush()?;
        if !sum.non_consecutive.is_empty() {
            eprintln!("Non-consecutive offsets in {shown}");
            for (a, b) in &sum.non_consecutive {
                eprintln!("  {a} is followed by {b}");
            }
        }
        if sum.bad_crc > 0 {
            eprintln!(
                "kwire: warning: {shown}: {} batch(es) with a CRC mismatch (isvalid: false)",
                sum.bad_crc
            );
        }
        if let Some(e) = sum.error {
            eprintln!("kwire: error: {shown}: {e}");
            failed = true;
        }
    }
    out.flush()?;
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
