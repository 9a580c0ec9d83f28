//! `Dataset.show` / console sink formatting, byte for byte as Spark 3.5 prints it.
//!
//! Checked against pyspark 3.5 (`tests/fixtures/show_*`): cells are
//! `ToPrettyString` texts with `\n`, `\t`, ... escaped; with truncation on
//! (default 20) a cell longer than 20 UTF-16 units becomes its first 17 units
//! plus `...` and is right-aligned; with truncation off cells are left-aligned
//! and whole; widths use `stringHalfWidth` (East Asian full-width characters
//! count two), minimum 3; `only showing top N rows` (`row` for 1) follows the
//! table when rows were left out.

use crate::format::pretty;
use crate::value::{Datum, Row, StructType};

/// Which Spark's `showString` to reproduce where they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SparkCompat {
    /// Spark 3.5: the `only showing top N rows` footer ends with a newline, so
    /// the console sink prints a blank line after it.
    #[default]
    Spark35,
    /// Spark 4.0: the footer has no trailing newline (no blank line follows it
    /// on the console).
    Spark4,
}

/// Options of `show` / the console sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShowOptions {
    /// Rows to print (`numRows`, default 20).
    pub num_rows: usize,
    /// Truncate cells longer than this many characters; 0 = no truncation
    /// (`truncate=false`). Default 20.
    pub truncate: usize,
    /// Spark version to match (default 3.5).
    pub compat: SparkCompat,
}

impl Default for ShowOptions {
    fn default() -> Self {
        ShowOptions { num_rows: 20, truncate: 20, compat: SparkCompat::Spark35 }
    }
}

/// The three header lines the console sink prints before each batch's table.
pub fn console_header(batch_id: u64) -> String {
    format!(
        "-------------------------------------------\nBatch: {batch_id}\n-------------------------------------------\n"
    )
}

/// One batch as the console sink prints it: header, table, blank line.
pub fn console_batch(batch_id: u64, schema: &StructType, rows: &[Row], opts: ShowOptions) -> String {
    let mut s = console_header(batch_id);
    s.push_str(&show_string(schema, rows, opts));
    s.push('\n');
    s
}

/// `Dataset.showString(numRows, truncate)`: the table, with the footer when
/// `rows` holds more than `num_rows` rows.
pub fn show_string(schema: &StructType, rows: &[Row], opts: ShowOptions) -> String {
    let mut table = ShowTable::new(schema.clone(), opts);
    for r in rows {
        if !table.push(r) {
            break;
        }
    }
    table.render()
}

/// Incremental `show`: keeps only the first `num_rows + 1` rows it is given, so
/// a driver can stream a large batch through it.
#[derive(Debug, Clone)]
pub struct ShowTable {
    schema: StructType,
    opts: ShowOptions,
    cells: Vec<Vec<String>>,
    more: bool,
}

impl ShowTable {
    /// An empty table for `schema`.
    pub fn new(schema: StructType, opts: ShowOptions) -> ShowTable {
        ShowTable { schema, opts, cells: Vec::new(), more: false }
    }

    /// Add a row; returns false once further rows cannot change the output.
    pub fn push(&mut self, row: &[Datum<'_>]) -> bool {
        if self.cells.len() >= self.opts.num_rows {
            self.more = true;
            return false;
        }
        let mut buf = String::new();
        let cells = row
            .iter()
            .map(|d| {
                buf.clear();
                pretty(d, &mut buf);
                cell_text(&buf, self.opts.truncate)
            })
            .collect();
        self.cells.push(cells);
        true
    }

    /// The text Spark prints.
    pub fn render(&self) -> String {
        let header: Vec<String> = self.schema.fields.iter().map(|f| escape_meta(&f.name)).collect();
        let n = header.len();
        let mut widths = vec![3usize; n];
        for row in std::iter::once(&header).chain(self.cells.iter()) {
            for (i, c) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(half_width(c));
            }
        }
        let mut sep = String::from("+");
        for w in &widths {
            sep.push_str(&"-".repeat(*w));
            sep.push('+');
        }
        sep.push('\n');
        let mut out = String::new();
        out.push_str(&sep);
        self.line(&header, &widths, &mut out);
        out.push_str(&sep);
        for row in &self.cells {
            self.line(row, &widths, &mut out);
        }
        out.push_str(&sep);
        if self.more {
            let n = self.opts.num_rows;
            out.push_str(&format!("only showing top {n} {}", if n == 1 { "row" } else { "rows" }));
            if self.opts.compat == SparkCompat::Spark35 {
                out.push('\n');
            }
        }
        out
    }

    fn line(&self, row: &[String], widths: &[usize], out: &mut String) {
        out.push('|');
        for (c, w) in row.iter().zip(widths) {
            let pad = w.saturating_sub(half_width(c));
            if self.opts.truncate > 0 {
                out.extend(std::iter::repeat_n(' ', pad));
                out.push_str(c);
            } else {
                out.push_str(c);
                out.extend(std::iter::repeat_n(' ', pad));
            }
            out.push('|');
        }
        out.push('\n');
    }
}

/// Spark's `SchemaUtils.escapeMetaCharacters`.
fn escape_meta(s: &str) -> String {
    if !s.bytes().any(|b| matches!(b, b'\n' | b'\r' | b'\t' | 0x0C | 0x08 | 0x0B | 0x07)) {
        return s.to_string();
    }
    let mut o = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\u{0C}' => o.push_str("\\f"),
            '\u{08}' => o.push_str("\\b"),
            '\u{0B}' => o.push_str("\\v"),
            '\u{07}' => o.push_str("\\a"),
            c => o.push(c),
        }
    }
    o
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The cell text after escaping and truncation (Java `String.length` /
/// `substring` work in UTF-16 units; a cut through a surrogate pair prints `?`).
fn cell_text(raw: &str, truncate: usize) -> String {
    let s = escape_meta(raw);
    if truncate == 0 || utf16_len(&s) <= truncate {
        return s;
    }
    let keep = if truncate < 4 { truncate } else { truncate - 3 };
    let mut out = String::new();
    let mut units = 0;
    for c in s.chars() {
        let l = c.len_utf16();
        if units + l > keep {
            if units < keep {
                out.push('?');
            }
            break;
        }
        out.push(c);
        units += l;
    }
    if truncate >= 4 {
        out.push_str("...");
    }
    out
}

/// Spark's `Utils.stringHalfWidth`: UTF-16 length plus one per full-width character.
fn half_width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let u = c as u32;
            let full = matches!(u,
                0x1100..=0x115F
                | 0x2E80..=0xA4CF
                | 0xAC00..=0xD7A3
                | 0xF900..=0xFAFF
                | 0xFE10..=0xFE19
                | 0xFE30..=0xFE6F
                | 0xFF00..=0xFF60
                | 0xFFE0..=0xFFE6);
            c.len_utf16() + usize::from(full)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{DataType, Field, Value};

    fn schema() -> StructType {
        StructType::new(vec![
            Field::new("gender", DataType::String),
            Field::new("party", DataType::String),
            Field::new("count", DataType::Long),
        ])
    }

    #[test]
    fn grouped_count_table() {
        let rows: Vec<Row> = vec![
            vec![Value::Null, Value::string("I"), Value::Long(1)],
            vec![Value::string("F"), Value::string("D"), Value::Long(1)],
        ];
        let s = console_batch(3, &schema(), &rows, ShowOptions::default());
        assert_eq!(
            s,
            "-------------------------------------------\nBatch: 3\n-------------------------------------------\n\
+------+-----+-----+\n|gender|party|count|\n+------+-----+-----+\n|  NULL|    I|    1|\n|     F|    D|    1|\n+------+-----+-----+\n\n"
        );
    }

    #[test]
    fn truncation_and_footer() {
        let rows: Vec<Row> =
            (0..3).map(|i| vec![Value::string("x".repeat(25)), Value::Null, Value::Long(i)]).collect();
        let opts = ShowOptions { num_rows: 1, ..ShowOptions::default() };
        let s = show_string(&schema(), &rows, opts);
        assert!(s.contains("|xxxxxxxxxxxxxxxxx...|"), "{s}");
        assert!(s.ends_with("only showing top 1 row\n"), "{s}");
        let s4 = show_string(&schema(), &rows, ShowOptions { compat: SparkCompat::Spark4, ..opts });
        assert!(s4.ends_with("only showing top 1 row"), "{s4}");
    }

    #[test]
    fn surrogate_cut() {
        assert_eq!(cell_text("1234567890123456😀xyz", 20), "1234567890123456?...");
        assert_eq!(half_width("日本"), 4);
    }
}
