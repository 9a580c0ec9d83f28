//! Query description ([`QuerySpec`]) and planner ([`Plan`]): name resolution,
//! typing, output-mode validation with Spark's messages, and the compiled form
//! the [`crate::Engine`] runs.

use serde::{Deserialize, Serialize};

use crate::ddl::parse_ddl;
use crate::error::{StreamError, StreamOption};
use crate::expr::{Ast, CmpOp, parse_expr, parse_item, parse_item_list};
use crate::json::{JsonParser, ParseMode};
use crate::record::SourceColumn;
use crate::time::parse_duration;
use crate::value::{DataType, Field, StructType, Value};

/// Spark's output modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OutputMode {
    /// Only new rows (finalized windows for aggregations with a watermark).
    #[default]
    Append,
    /// Rows whose aggregate changed in this batch.
    Update,
    /// The whole result table every batch.
    Complete,
}

impl OutputMode {
    /// Parse `append` / `update` / `complete` (case-insensitive).
    pub fn parse(s: &str) -> Result<OutputMode, StreamError> {
        match s.to_ascii_lowercase().as_str() {
            "append" => Ok(OutputMode::Append),
            "update" => Ok(OutputMode::Update),
            "complete" => Ok(OutputMode::Complete),
            _ => Err(StreamError::analysis(format!(
                "Unknown output mode {s}. Accepted output modes are 'append', 'complete', 'update'"
            ))),
        }
    }
}

/// Everything that defines a streaming query, as the CLI collects it.
///
/// Evaluation order: Kafka source rows → `schema` (parse `value` as JSON and
/// expose its fields) → each `select` stage → `filter` → aggregation
/// (`window` first, then `group_by`, then `aggs`). Names that a stage does
/// not define fall back to the Kafka source columns, so `timestamp` stays
/// usable for windows after `--schema`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QuerySpec {
    /// Projection stages. Each string is one item or a comma-separated list
    /// (`*`, `CAST(value AS STRING)`, `from_json(CAST(value AS STRING), 'ddl') AS voter`,
    /// `voter.*`); each stage sees the previous stage's columns.
    pub select: Vec<Vec<String>>,
    /// `--schema 'gender STRING, age LONG, party STRING'`.
    pub schema: Option<String>,
    /// from_json parse mode.
    pub parse_mode: ParseMode,
    /// `--where` predicate.
    pub filter: Option<String>,
    /// Grouping expressions (column names, `window(timestamp, '1 minute')`).
    pub group_by: Vec<String>,
    /// Aggregates: `count`, `count(*)`, `count(col)`, `sum(col)`, `avg(col)`,
    /// `mean(col)`, `min(col)`, `max(col)`, optionally `AS name`. Empty with a
    /// grouping means `count` (the guide's `groupBy(...).count()`).
    pub aggs: Vec<String>,
    /// `--window 'timestamp, 1 minute[, 30 seconds]'`.
    pub window: Option<String>,
    /// `--watermark '[column, ]10 seconds'`; the column defaults to the window's.
    pub watermark: Option<String>,
    /// Output mode.
    pub output_mode: OutputMode,
    /// Expose the Kafka `headers` column.
    pub include_headers: bool,
}

/// A resolved, typed expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Source(SourceColumn),
    /// The whole struct of a from_json slot.
    JsonStruct(usize),
    /// One top-level field of a from_json slot.
    JsonField(usize, usize),
    Field(Box<Expr>, usize),
    Cast(Box<Expr>, DataType),
    Lit(Value),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull(Box<Expr>, bool),
}

/// A from_json call: its input and compiled parser.
#[derive(Debug, Clone)]
pub(crate) struct JsonSlot {
    pub input: Expr,
    pub parser: JsonParser,
}

/// A grouping key.
#[derive(Debug, Clone)]
pub(crate) enum KeyExpr {
    Expr(Expr),
    /// `window(time, size, slide, start)`, all in microseconds.
    Window {
        time: Expr,
        size: i64,
        slide: i64,
        start: i64,
    },
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFn {
    CountStar,
    Count,
    SumLong,
    SumDouble,
    Avg,
    Min,
    Max,
}

#[derive(Debug, Clone)]
pub(crate) struct AggSpec {
    pub func: AggFn,
    pub input: Option<Expr>,
}

#[derive(Debug, Clone)]
pub(crate) struct AggPlan {
    pub keys: Vec<KeyExpr>,
    pub aggs: Vec<AggSpec>,
    /// The grouping key the watermark applies to (window or timestamp key).
    pub event_key: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum PlanKind {
    Project(Vec<Expr>),
    Aggregate(AggPlan),
}

/// The event-time watermark of a query.
#[derive(Debug, Clone)]
pub(crate) struct Watermark {
    pub time: Expr,
    pub delay_ms: i64,
}

/// A validated, compiled query.
#[derive(Debug, Clone)]
pub struct Plan {
    spec: QuerySpec,
    pub(crate) slots: Vec<JsonSlot>,
    pub(crate) filter: Option<Expr>,
    pub(crate) kind: PlanKind,
    pub(crate) watermark: Option<Watermark>,
    output: StructType,
    key_columns: Vec<usize>,
    description: String,
}

#[derive(Debug, Clone)]
struct Col {
    name: String,
    expr: Expr,
    dtype: DataType,
}

struct Planner {
    slots: Vec<JsonSlot>,
    mode: ParseMode,
    include_headers: bool,
}

impl Planner {
    fn source(&self, name: &str) -> Option<Col> {
        SourceColumn::all(self.include_headers)
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
            .map(|c| Col { name: c.name().to_string(), expr: Expr::Source(c), dtype: c.data_type() })
    }

    fn lookup(&self, scope: &[Col], name: &str) -> Option<Col> {
        scope
            .iter()
            .find(|c| c.name == name)
            .or_else(|| scope.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
            .cloned()
            .or_else(|| self.source(name))
    }

    fn field(&self, base: Col, part: &str, whole: &str) -> Result<Col, StreamError> {
        let DataType::Struct(st) = &base.dtype else {
            return Err(StreamError::analysis(format!(
                "Can't extract value from {}: need struct type but got {}; in {whole}",
                base.name, base.dtype
            )));
        };
        let Some(i) = st.resolve(part) else {
            return Err(StreamError::analysis(format!(
                "No such struct field {part} in {}; in {whole}",
                st.names().join(", ")
            )));
        };
        let f = &st.fields[i];
        let expr = match base.expr {
            Expr::JsonStruct(s) => Expr::JsonField(s, i),
            other => Expr::Field(Box::new(other), i),
        };
        Ok(Col { name: f.name.clone(), expr, dtype: f.data_type.clone() })
    }

    fn unresolved(&self, scope: &[Col], name: &str) -> StreamError {
        let mut cands: Vec<String> = scope.iter().map(|c| format!("`{}`", c.name)).collect();
        for c in SourceColumn::all(self.include_headers) {
            if !scope.iter().any(|s| s.name.eq_ignore_ascii_case(c.name())) {
                cands.push(format!("`{}`", c.name()));
            }
        }
        StreamError::analysis(format!(
            "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `{name}` cannot be resolved. Did you mean one of the following? [{}].",
            cands.join(", ")
        ))
    }

    /// Resolve an expression in `scope` (plus the hidden source columns).
    fn resolve(&mut self, scope: &[Col], ast: &Ast) -> Result<Col, StreamError> {
        let name = ast.name();
        let whole = ast.sql();
        let (expr, dtype) = match ast {
            Ast::Alias(inner, n) => {
                let mut c = self.resolve(scope, inner)?;
                c.name = n.clone();
                return Ok(c);
            }
            Ast::Column(parts) => {
                let first = &parts[0];
                let mut col =
                    self.lookup(scope, first).ok_or_else(|| self.unresolved(scope, &parts.join(".")))?;
                for p in &parts[1..] {
                    col = self.field(col, p, &whole)?;
                }
                return Ok(col);
            }
            Ast::Star(_) => {
                return Err(StreamError::analysis(format!("{whole} is only allowed as a projection item")));
            }
            Ast::Lit(v) => (Expr::Lit(v.clone()), lit_type(v)),
            Ast::Cast(inner, t) => {
                let c = self.resolve(scope, inner)?;
                check_cast(&c.dtype, t, &whole)?;
                (Expr::Cast(Box::new(c.expr), t.clone()), t.clone())
            }
            Ast::Func(f, args) if f == "from_json" => {
                if args.len() < 2 || args.len() > 3 {
                    return Err(StreamError::analysis(format!(
                        "from_json takes (json, 'schema'), got {} arguments in {whole}",
                        args.len()
                    )));
                }
                let input = self.resolve(scope, &args[0])?;
                if !matches!(input.dtype, DataType::String | DataType::Binary) {
                    return Err(StreamError::analysis(format!(
                        "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve \"{whole}\" due to data type mismatch: the input json should be STRING, got {}",
                        input.dtype
                    )));
                }
                let Ast::Lit(Value::Str(ddl)) = &args[1] else {
                    return Err(StreamError::analysis(format!(
                        "from_json's schema must be a string literal in {whole}"
                    )));
                };
                if let Some(Ast::Func(m, margs)) = args.get(2) {
                    // from_json(x, 'ddl', map('mode', 'FAILFAST'))
                    if let (true, [Ast::Lit(Value::Str(k)), Ast::Lit(Value::Str(v))]) =
                        (m == "map", margs.as_slice())
                    {
                        if k.eq_ignore_ascii_case("mode") {
                            self.mode = ParseMode::parse(v)?;
                        }
                    }
                }
                let schema = parse_ddl(ddl)?;
                self.slots.push(JsonSlot { input: input.expr, parser: JsonParser::new(schema.clone()) });
                (Expr::JsonStruct(self.slots.len() - 1), DataType::Struct(schema))
            }
            Ast::Func(f, _) if f == "window" => {
                return Err(StreamError::analysis("window(...) is only allowed as a grouping expression"));
            }
            Ast::Func(f, _) if is_agg(f) => {
                return Err(StreamError::analysis(format!(
                    "aggregate {whole} is only allowed in the aggregate list"
                )));
            }
            Ast::CountStar => {
                return Err(StreamError::analysis("count(*) is only allowed in the aggregate list"));
            }
            Ast::Func(f, _) => {
                return Err(StreamError::analysis(format!(
                    "[UNRESOLVED_ROUTINE] Cannot resolve function `{f}`; kwire supports from_json, window, count, sum, avg, mean, min, max"
                )));
            }
            Ast::Cmp(op, a, b) => {
                let a = self.resolve(scope, a)?;
                let b = self.resolve(scope, b)?;
                if matches!(a.dtype, DataType::Struct(_) | DataType::Array(_))
                    || matches!(b.dtype, DataType::Struct(_) | DataType::Array(_))
                {
                    return Err(StreamError::analysis(format!(
                        "cannot compare {} with {} in {whole}",
                        a.dtype, b.dtype
                    )));
                }
                (Expr::Cmp(*op, Box::new(a.expr), Box::new(b.expr)), DataType::Boolean)
            }
            Ast::And(a, b) | Ast::Or(a, b) => {
                let x = self.resolve(scope, a)?;
                let y = self.resolve(scope, b)?;
                for c in [&x, &y] {
                    if c.dtype != DataType::Boolean {
                        return Err(StreamError::analysis(format!(
                            "{} is {}, not BOOLEAN, in {whole}",
                            c.name, c.dtype
                        )));
                    }
                }
                let e = if matches!(ast, Ast::And(..)) {
                    Expr::And(Box::new(x.expr), Box::new(y.expr))
                } else {
                    Expr::Or(Box::new(x.expr), Box::new(y.expr))
                };
                (e, DataType::Boolean)
            }
            Ast::Not(a) => {
                let x = self.resolve(scope, a)?;
                (Expr::Not(Box::new(x.expr)), DataType::Boolean)
            }
            Ast::IsNull(a, neg) => {
                let x = self.resolve(scope, a)?;
                (Expr::IsNull(Box::new(x.expr), *neg), DataType::Boolean)
            }
        };
        Ok(Col { name, expr, dtype })
    }

    /// Resolve one projection stage.
    fn stage(&mut self, scope: &[Col], items: &[Ast]) -> Result<Vec<Col>, StreamError> {
        let mut out: Vec<Col> = Vec::new();
        for it in items {
            match it {
                Ast::Star(p) if p.is_empty() => {
                    if scope.is_empty() {
                        for c in SourceColumn::all(self.include_headers) {
                            out.push(Col {
                                name: c.name().into(),
                                expr: Expr::Source(c),
                                dtype: c.data_type(),
                            });
                        }
                    } else {
                        out.extend(scope.iter().cloned());
                    }
                }
                Ast::Star(p) => {
                    let base = self.resolve(scope, &Ast::Column(p.clone()))?;
                    let DataType::Struct(st) = &base.dtype else {
                        return Err(StreamError::analysis(format!(
                            "Can only star expand struct data types. Attribute: `{}`",
                            p.join(".")
                        )));
                    };
                    for f in st.fields.clone() {
                        out.push(self.field(base.clone(), &f.name, &it.sql())?);
                    }
                }
                other => out.push(self.resolve(scope, other)?),
            }
        }
        Ok(out)
    }
}

fn is_agg(f: &str) -> bool {
    matches!(f, "count" | "sum" | "avg" | "mean" | "min" | "max")
}

fn lit_type(v: &Value) -> DataType {
    match v {
        Value::Null => DataType::String,
        Value::Bool(_) => DataType::Boolean,
        Value::Int(_) => DataType::Int,
        Value::Long(_) => DataType::Long,
        Value::Float(_) => DataType::Float,
        Value::Double(_) => DataType::Double,
        Value::Decimal(..) => DataType::Decimal { precision: 38, scale: 0 },
        Value::Date(_) => DataType::Date,
        Value::Timestamp(_) => DataType::Timestamp,
        Value::Str(_) => DataType::String,
        Value::Binary(_) => DataType::Binary,
        Value::Struct(_) => DataType::Struct(StructType::default()),
        Value::Array(_) => DataType::Array(Box::new(DataType::String)),
    }
}

fn check_cast(from: &DataType, to: &DataType, whole: &str) -> Result<(), StreamError> {
    let ok = match to {
        DataType::String => true,
        DataType::Binary => matches!(from, DataType::String | DataType::Binary),
        DataType::Struct(_) | DataType::Array(_) => from == to,
        _ => !matches!(from, DataType::Struct(_) | DataType::Array(_) | DataType::Binary),
    };
    if ok {
        Ok(())
    } else {
        Err(StreamError::analysis(format!(
            "[DATATYPE_MISMATCH.CAST_WITHOUT_SUGGESTION] Cannot resolve \"{whole}\" due to data type mismatch: cannot cast {from} to {to}."
        )))
    }
}

fn collect_json_use(e: &Expr, needed: &mut [Vec<bool>]) {
    match e {
        Expr::JsonStruct(s) => needed[*s].iter_mut().for_each(|b| *b = true),
        Expr::JsonField(s, f) => needed[*s][*f] = true,
        Expr::Field(a, _) | Expr::Cast(a, _) | Expr::Not(a) | Expr::IsNull(a, _) => {
            collect_json_use(a, needed)
        }
        Expr::Cmp(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
            collect_json_use(a, needed);
            collect_json_use(b, needed);
        }
        Expr::Source(_) | Expr::Lit(_) => {}
    }
}

fn duration_ms_of(s: &str) -> Result<i64, StreamError> {
    Ok(parse_duration(s)? / 1000)
}

impl Plan {
    /// Resolve, type and validate a query. Fails before anything runs, with
    /// Spark's messages for unsupported output modes.
    ///
    /// ```
    /// use kwire_stream::{Plan, QuerySpec, OutputMode};
    /// let spec = QuerySpec {
    ///     schema: Some("gender STRING, age LONG, party STRING".into()),
    ///     group_by: vec!["gender".into(), "party".into()],
    ///     output_mode: OutputMode::Complete,
    ///     ..QuerySpec::default()
    /// };
    /// let plan = Plan::new(&spec).unwrap();
    /// assert_eq!(plan.output_schema().names(), vec!["gender", "party", "count"]);
    /// ```
    pub fn new(spec: &QuerySpec) -> Result<Plan, StreamError> {
        let mut p =
            Planner { slots: Vec::new(), mode: spec.parse_mode, include_headers: spec.include_headers };
        // scope: empty = the Kafka source itself
        let mut scope: Vec<Col> = Vec::new();
        if let Some(ddl) = &spec.schema {
            let item = Ast::Star(vec!["__value_json".into()]);
            let base = vec![p.resolve(
                &[],
                &Ast::Alias(
                    Box::new(Ast::Func(
                        "from_json".into(),
                        vec![
                            Ast::Cast(Box::new(Ast::Column(vec!["value".into()])), DataType::String),
                            Ast::Lit(Value::string(ddl.clone())),
                        ],
                    )),
                    "__value_json".into(),
                ),
            )?];
            scope = p.stage(&base, &[item])?;
        }
        for stage in &spec.select {
            let mut items = Vec::new();
            for s in stage {
                items.extend(parse_item_list(s)?);
            }
            if items.is_empty() {
                continue;
            }
            scope = p.stage(&scope, &items)?;
        }
        let visible: Vec<Col> =
            if scope.is_empty() { p.stage(&[], &[Ast::Star(vec![])])? } else { scope.clone() };

        let filter = match &spec.filter {
            Some(f) => {
                let c = p.resolve(&visible, &parse_expr(f)?)?;
                if c.dtype != DataType::Boolean {
                    return Err(StreamError::analysis(format!(
                        "filter expression '{f}' of type {} is not a boolean",
                        c.dtype
                    )));
                }
                Some(c.expr)
            }
            None => None,
        };

        // grouping
        let mut key_asts: Vec<Ast> = Vec::new();
        if let Some(w) = &spec.window {
            key_asts.push(parse_window_option(w)?);
        }
        for g in &spec.group_by {
            key_asts.extend(parse_item_list(g)?);
        }
        let mut agg_asts: Vec<Ast> = Vec::new();
        for a in &spec.aggs {
            let t = a.trim();
            if t.eq_ignore_ascii_case("count") {
                agg_asts.push(Ast::Alias(Box::new(Ast::CountStar), "count".into()));
            } else {
                agg_asts.push(parse_item(t)?);
            }
        }
        let aggregating = !key_asts.is_empty() || !agg_asts.is_empty();
        if aggregating && agg_asts.is_empty() {
            agg_asts.push(Ast::Alias(Box::new(Ast::CountStar), "count".into()));
        }

        // watermark
        let mut watermark: Option<Watermark> = None;
        let mut watermark_col: Option<String> = None;
        if let Some(w) = &spec.watermark {
            let (col, delay) = match w.split_once(',') {
                Some((c, d)) => (Some(c.trim().to_string()), d.trim()),
                None => (None, w.trim()),
            };
            let col = match col {
                Some(c) => c,
                None => match key_asts.iter().find_map(|k| match k {
                    Ast::Func(f, args) if f == "window" => args.first().map(|a| a.sql()),
                    _ => None,
                }) {
                    Some(c) => c,
                    None => {
                        return Err(StreamError::option(
                            StreamOption::Watermark,
                            "the watermark needs an event-time column when there is no window: '[COLUMN, ]DELAY', e.g. 'timestamp, 10 seconds'",
                        ));
                    }
                },
            };
            let c = p.resolve(&visible, &parse_expr(&col)?)?;
            if c.dtype != DataType::Timestamp {
                return Err(StreamError::analysis(format!(
                    "Event time must be defined on a window or a timestamp, but {} is of type {}",
                    c.name, c.dtype
                )));
            }
            let delay_ms = duration_ms_of(delay)?;
            if delay_ms < 0 {
                return Err(StreamError::analysis(format!(
                    "delay threshold ({delay}) should not be negative."
                )));
            }
            watermark_col = Some(c.name.clone());
            watermark = Some(Watermark { time: c.expr, delay_ms });
        }

        let mut output_fields: Vec<Field> = Vec::new();
        let mut key_columns = Vec::new();
        let kind = if aggregating {
            let mut keys = Vec::new();
            let mut event_key = None;
            for (i, k) in key_asts.iter().enumerate() {
                let (inner, alias) = match k {
                    Ast::Alias(a, n) => (&**a, Some(n.clone())),
                    other => (other, None),
                };
                match inner {
                    Ast::Func(f, args) if f == "window" => {
                        let (time, size, slide, start) = window_args(&mut p, &visible, args, &inner.sql())?;
                        if watermark.as_ref().is_some_and(|wm| wm.time == time) {
                            event_key = Some(i);
                        }
                        keys.push(KeyExpr::Window { time, size, slide, start });
                        output_fields
                            .push(Field::new(alias.unwrap_or_else(|| "window".into()), DataType::window()));
                    }
                    _ => {
                        let c = p.resolve(&visible, k)?;
                        if watermark.as_ref().is_some_and(|wm| wm.time == c.expr) {
                            event_key = Some(i);
                        }
                        output_fields.push(Field::new(c.name.clone(), c.dtype.clone()));
                        keys.push(KeyExpr::Expr(c.expr));
                    }
                }
                key_columns.push(i);
            }
            let mut aggs = Vec::new();
            for a in &agg_asts {
                let name = a.name();
                let inner = match a {
                    Ast::Alias(x, _) => &**x,
                    other => other,
                };
                let (spec_, t) = match inner {
                    Ast::CountStar => (AggSpec { func: AggFn::CountStar, input: None }, DataType::Long),
                    Ast::Func(f, args) if is_agg(f) => {
                        if args.len() != 1 {
                            return Err(StreamError::analysis(format!(
                                "{f} takes one argument, got {} in {}",
                                args.len(),
                                inner.sql()
                            )));
                        }
                        let c = p.resolve(&visible, &args[0])?;
                        let numeric_err = || {
                            StreamError::analysis(format!(
                                "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve \"{}\" due to data type mismatch: the argument must be numeric (kwire: integral or floating), got {}",
                                inner.sql(),
                                c.dtype
                            ))
                        };
                        let (func, t) = match f.as_str() {
                            "count" => (AggFn::Count, DataType::Long),
                            "sum" if c.dtype.is_integral() => (AggFn::SumLong, DataType::Long),
                            "sum" if matches!(c.dtype, DataType::Double | DataType::Float) => {
                                (AggFn::SumDouble, DataType::Double)
                            }
                            "sum" => return Err(numeric_err()),
                            "avg" | "mean"
                                if c.dtype.is_integral()
                                    || matches!(c.dtype, DataType::Double | DataType::Float) =>
                            {
                                (AggFn::Avg, DataType::Double)
                            }
                            "avg" | "mean" => return Err(numeric_err()),
                            "min" => (AggFn::Min, c.dtype.clone()),
                            _ => (AggFn::Max, c.dtype.clone()),
                        };
                        (AggSpec { func, input: Some(c.expr) }, t)
                    }
                    other => {
                        return Err(StreamError::analysis(format!(
                            "{} is not an aggregate function (expected count, sum, avg, mean, min, max)",
                            other.sql()
                        )));
                    }
                };
                output_fields.push(Field::new(name, t));
                aggs.push(spec_);
            }
            PlanKind::Aggregate(AggPlan { keys, aggs, event_key })
        } else {
            let mut exprs = Vec::new();
            for c in &visible {
                output_fields.push(Field::new(c.name.clone(), c.dtype.clone()));
                exprs.push(c.expr.clone());
            }
            PlanKind::Project(exprs)
        };

        // description (Spark-like logical plan, for messages and checkpoints)
        let out_names: Vec<String> = output_fields.iter().map(|f| f.name.clone()).collect();
        let mut description = match &kind {
            PlanKind::Aggregate(a) => {
                format!("Aggregate [{}], [{}]", out_names[..a.keys.len()].join(", "), out_names.join(", "))
            }
            PlanKind::Project(_) => format!("Project [{}]", out_names.join(", ")),
        };
        if let Some(f) = &spec.filter {
            description.push_str(&format!("\n+- Filter {f}"));
        }
        if let (Some(c), Some(w)) = (&watermark_col, &watermark) {
            description.push_str(&format!("\n+- EventTimeWatermark {c}, {} ms", w.delay_ms));
        }
        description.push_str(&format!(
            "\n+- StreamingRelation kafka, [{}]",
            SourceColumn::all(spec.include_headers).iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
        ));

        // output mode rules (UnsupportedOperationChecker)
        match (spec.output_mode, &kind) {
            (OutputMode::Append, PlanKind::Aggregate(a)) if a.event_key.is_none() => {
                return Err(StreamError::analysis(format!(
                    "Append output mode not supported when there are streaming aggregations on streaming DataFrames/DataSets without watermark;\n{description}"
                )));
            }
            (OutputMode::Complete, PlanKind::Project(_)) => {
                return Err(StreamError::analysis(format!(
                    "Complete output mode not supported when there are no streaming aggregations on streaming DataFrames/Datasets;\n{description}"
                )));
            }
            _ => {}
        }

        // from_json field pruning (PERMISSIVE only; FAILFAST checks every field)
        if p.mode == ParseMode::Permissive {
            let mut needed: Vec<Vec<bool>> =
                p.slots.iter().map(|s| vec![false; s.parser.schema().len()]).collect();
            let mut uses: Vec<&Expr> = Vec::new();
            if let Some(f) = &filter {
                uses.push(f);
            }
            if let Some(w) = &watermark {
                uses.push(&w.time);
            }
            match &kind {
                PlanKind::Project(ex) => uses.extend(ex.iter()),
                PlanKind::Aggregate(a) => {
                    for k in &a.keys {
                        match k {
                            KeyExpr::Expr(e) => uses.push(e),
                            KeyExpr::Window { time, .. } => uses.push(time),
                        }
                    }
                    for g in &a.aggs {
                        if let Some(e) = &g.input {
                            uses.push(e);
                        }
                    }
                }
            }
            for s in &p.slots {
                uses.push(&s.input);
            }
            for e in uses {
                collect_json_use(e, &mut needed);
            }
            for (s, n) in p.slots.iter_mut().zip(needed) {
                s.parser = s.parser.clone().with_needed(n);
            }
        }

        let mut spec = spec.clone();
        spec.parse_mode = p.mode;
        Ok(Plan {
            spec,
            slots: p.slots,
            filter,
            kind,
            watermark,
            output: StructType::new(output_fields),
            key_columns,
            description,
        })
    }

    /// The query this plan was built from.
    pub fn spec(&self) -> &QuerySpec {
        &self.spec
    }

    /// The output columns (what sinks receive).
    pub fn output_schema(&self) -> &StructType {
        &self.output
    }

    /// Indices of the output columns that form the grouping key (empty without
    /// aggregation); the Kafka sink uses them as the record key.
    pub fn key_columns(&self) -> &[usize] {
        &self.key_columns
    }

    /// True when the query aggregates.
    pub fn is_aggregation(&self) -> bool {
        matches!(self.kind, PlanKind::Aggregate(_))
    }

    /// The output mode.
    pub fn output_mode(&self) -> OutputMode {
        self.spec.output_mode
    }

    /// The parse mode in force (a `map('mode', ...)` option of from_json overrides the spec).
    pub fn parse_mode(&self) -> ParseMode {
        self.spec.parse_mode
    }

    /// A Spark-like logical plan text.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// What the aggregation state depends on (key and aggregate columns and
    /// types, window, watermark column); a checkpoint written by a query with a
    /// different signature cannot be resumed.
    pub fn state_signature(&self) -> String {
        match &self.kind {
            PlanKind::Project(_) => "stateless".into(),
            PlanKind::Aggregate(a) => {
                let mut s = format!("keys=[{}]", {
                    self.output.fields[..a.keys.len()]
                        .iter()
                        .map(|f| format!("{} {}", f.name, f.data_type))
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                s.push_str(&format!(
                    " aggs=[{}]",
                    self.output.fields[a.keys.len()..]
                        .iter()
                        .zip(&a.aggs)
                        .map(|(f, g)| format!("{} {:?} {}", f.name, g.func, f.data_type))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                for k in &a.keys {
                    if let KeyExpr::Window { size, slide, start, .. } = k {
                        s.push_str(&format!(" window={size}/{slide}/{start}us"));
                    }
                }
                s
            }
        }
    }
}

/// `--window 'timestamp, 1 minute[, 30 seconds]'` → `window(timestamp, '1 minute', '30 seconds')`.
fn parse_window_option(w: &str) -> Result<Ast, StreamError> {
    let t = w.trim();
    if t.to_ascii_lowercase().starts_with("window(") {
        return parse_expr(t);
    }
    let parts: Vec<&str> = t.split(',').map(str::trim).collect();
    if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(StreamError::option(
            StreamOption::Window,
            format!("invalid window {w:?}: expected 'COLUMN, DURATION[, SLIDE]'"),
        ));
    }
    let mut args = vec![parse_expr(parts[0])?];
    for p in &parts[1..] {
        let p = p.trim_matches('\'');
        args.push(Ast::Lit(Value::string(p)));
    }
    Ok(Ast::Func("window".into(), args))
}

fn window_args(
    p: &mut Planner,
    scope: &[Col],
    args: &[Ast],
    whole: &str,
) -> Result<(Expr, i64, i64, i64), StreamError> {
    if args.len() < 2 || args.len() > 4 {
        return Err(StreamError::analysis(format!(
            "window takes (timeColumn, windowDuration[, slideDuration[, startTime]]) in {whole}"
        )));
    }
    let time = p.resolve(scope, &args[0])?;
    if time.dtype != DataType::Timestamp {
        return Err(StreamError::analysis(format!(
            "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve \"{whole}\" due to data type mismatch: the time column must be TIMESTAMP, got {}",
            time.dtype
        )));
    }
    let dur = |a: &Ast| -> Result<i64, StreamError> {
        match a {
            Ast::Lit(Value::Str(s)) => parse_duration(s),
            other => Err(StreamError::analysis(format!(
                "window durations must be string literals like '1 minute', got {}",
                other.sql()
            ))),
        }
    };
    let size = dur(&args[1])?;
    let slide = match args.get(2) {
        Some(a) => dur(a)?,
        None => size,
    };
    let start = match args.get(3) {
        Some(a) => dur(a)?,
        None => 0,
    };
    if size <= 0 {
        return Err(StreamError::analysis(format!(
            "The window duration ({size} us) must be greater than 0."
        )));
    }
    if slide <= 0 || slide > size {
        return Err(StreamError::analysis(format!(
            "The slide duration ({slide} us) must be greater than 0 and less than or equal to the windowDuration ({size} us)."
        )));
    }
    if start.abs() >= slide {
        return Err(StreamError::analysis(format!(
            "The absolute value of start time ({start} us) must be less than the slideDuration ({slide} us)."
        )));
    }
    Ok((time.expr, size, slide, start))
}
