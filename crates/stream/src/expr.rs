//! A small SQL expression parser for projections, filters, grouping and
//! aggregates: column references (`voter.gender`, backquoted names), literals,
//! `CAST(x AS type)`, function calls (`from_json`, `window`, `count`, `sum`,
//! `avg`/`mean`, `min`, `max`), comparisons, `IS [NOT] NULL`, `NOT`, `AND`,
//! `OR`, parentheses, `*` / `x.*`, and `AS alias`.

use crate::ddl::parse_data_type;
use crate::error::StreamError;
use crate::value::{DataType, Value, quote_ident};

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CmpOp {
    /// `=` / `==`
    Eq,
    /// `!=` / `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// An unresolved expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    /// `a`, `a.b.c`
    Column(Vec<String>),
    /// `*` or `a.*`
    Star(Vec<String>),
    /// A literal.
    Lit(Value),
    /// `CAST(x AS type)`
    Cast(Box<Ast>, DataType),
    /// `f(args)`; the name is lower-cased.
    Func(String, Vec<Ast>),
    /// `count(*)`
    CountStar,
    /// `a op b`
    Cmp(CmpOp, Box<Ast>, Box<Ast>),
    /// `a AND b`
    And(Box<Ast>, Box<Ast>),
    /// `a OR b`
    Or(Box<Ast>, Box<Ast>),
    /// `NOT a`
    Not(Box<Ast>),
    /// `a IS NULL` (false) / `a IS NOT NULL` (true)
    IsNull(Box<Ast>, bool),
    /// `x AS name`
    Alias(Box<Ast>, String),
}

impl Ast {
    /// Spark's SQL text of the expression, used for generated column names
    /// (`CAST(value AS STRING)`, `count(age)`, `sum(voter.age)`).
    pub fn sql(&self) -> String {
        match self {
            Ast::Column(p) => p.iter().map(|s| quote_ident(s).into_owned()).collect::<Vec<_>>().join("."),
            Ast::Star(p) => {
                if p.is_empty() {
                    "*".into()
                } else {
                    format!("{}.*", p.join("."))
                }
            }
            Ast::Lit(v) => match v {
                Value::Str(s) => format!("'{}'", s.replace('\'', "\\'")),
                Value::Null => "NULL".into(),
                other => crate::format::pretty_string(other),
            },
            Ast::Cast(e, t) => format!("CAST({} AS {})", e.sql(), t),
            Ast::CountStar => "count(1)".into(),
            Ast::Func(name, args) => {
                // from_json's generated name shows only its input (Spark 3.5)
                if name == "from_json" {
                    return format!("from_json({})", args.first().map(|a| a.sql()).unwrap_or_default());
                }
                format!("{}({})", name, args.iter().map(|a| a.sql()).collect::<Vec<_>>().join(", "))
            }
            Ast::Cmp(op, a, b) => format!("({} {} {})", a.sql(), op.sql(), b.sql()),
            Ast::And(a, b) => format!("({} AND {})", a.sql(), b.sql()),
            Ast::Or(a, b) => format!("({} OR {})", a.sql(), b.sql()),
            Ast::Not(a) => format!("(NOT {})", a.sql()),
            Ast::IsNull(a, neg) => {
                format!("({} IS {}NULL)", a.sql(), if *neg { "NOT " } else { "" })
            }
            Ast::Alias(a, _) => a.sql(),
        }
    }

    /// The output column name Spark gives this expression: the alias, the
    /// (last) column name, a cast column's name, or the SQL text.
    pub fn name(&self) -> String {
        match self {
            Ast::Alias(_, n) => n.clone(),
            Ast::Column(p) => p.last().cloned().unwrap_or_default(),
            Ast::Cast(e, _) if matches!(**e, Ast::Column(_)) => e.name(),
            Ast::Func(n, _) if n == "window" => "window".into(),
            other => other.sql(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String, bool),
    Str(String),
    Num(String),
    Sym(&'static str),
    End,
}

struct Lexer<'a> {
    s: &'a str,
    toks: Vec<(Tok, usize)>,
}

fn lex(s: &str) -> Result<Vec<(Tok, usize)>, StreamError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut toks = Vec::new();
    let err = |pos: usize, m: &str| StreamError::Expression {
        input: s.to_string(),
        position: pos,
        message: m.to_string(),
    };
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            toks.push((Tok::Ident(s[start..i].to_string(), false), start));
        } else if c == b'`' {
            i += 1;
            let mut name = String::new();
            loop {
                let rest = s.get(i..).unwrap_or("");
                let Some(ch) = rest.chars().next() else {
                    return Err(err(start, "unterminated backquoted name"));
                };
                i += ch.len_utf8();
                if ch == '`' {
                    if b.get(i) == Some(&b'`') {
                        name.push('`');
                        i += 1;
                    } else {
                        break;
                    }
                } else {
                    name.push(ch);
                }
            }
            toks.push((Tok::Ident(name, true), start));
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                i += 1;
                if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                    i += 1;
                }
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            // Spark's typed suffixes: 10L, 1.5D
            if i < b.len() && matches!(b[i], b'L' | b'l' | b'D' | b'd') {
                i += 1;
            }
            toks.push((Tok::Num(s[start..i].to_string()), start));
        } else if c == b'\'' || c == b'"' {
            i += 1;
            let mut v = String::new();
            loop {
                let rest = s.get(i..).unwrap_or("");
                let Some(ch) = rest.chars().next() else {
                    return Err(err(start, "unterminated string literal"));
                };
                i += ch.len_utf8();
                if ch == '\\' {
                    let Some(e) = s.get(i..).and_then(|r| r.chars().next()) else {
                        return Err(err(start, "unterminated string literal"));
                    };
                    i += e.len_utf8();
                    v.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '0' => '\0',
                        other => other,
                    });
                } else if ch as u32 == u32::from(c) {
                    if b.get(i) == Some(&c) {
                        v.push(ch);
                        i += 1;
                    } else {
                        break;
                    }
                } else {
                    v.push(ch);
                }
            }
            toks.push((Tok::Str(v), start));
        } else {
            let two = s.get(i..i + 2).unwrap_or("");
            let sym: &'static str = match two {
                "<=" => "<=",
                ">=" => ">=",
                "!=" => "!=",
                "<>" => "<>",
                "==" => "==",
                _ => match c {
                    b'=' => "=",
                    b'<' => "<",
                    b'>' => ">",
                    b'(' => "(",
                    b')' => ")",
                    b',' => ",",
                    b'.' => ".",
                    b'*' => "*",
                    b'-' => "-",
                    b'+' => "+",
                    _ => return Err(err(start, &format!("unexpected character {:?}", c as char))),
                },
            };
            i += sym.len();
            toks.push((Tok::Sym(sym), start));
        }
    }
    toks.push((Tok::End, s.len()));
    Ok(toks)
}

/// Most levels of parentheses, CAST/function arguments and NOTs one
/// expression may nest: parsing recurses per level.
const MAX_NESTING: u32 = 100;
/// Most operators (AND, OR, NOT, comparisons, IS NULL) in one expression: an
/// AND/OR chain builds a tree as deep as it is long, and evaluating, printing
/// and dropping it recurse.
const MAX_OPERATORS: u32 = 1000;

struct Parser<'a> {
    lx: Lexer<'a>,
    k: usize,
    /// Current nesting (see [`MAX_NESTING`]).
    depth: u32,
    /// Operators so far (see [`MAX_OPERATORS`]).
    ops: u32,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Result<Parser<'a>, StreamError> {
        Ok(Parser { lx: Lexer { s, toks: lex(s)? }, k: 0, depth: 0, ops: 0 })
    }
    fn peek(&self) -> &Tok {
        self.lx.toks.get(self.k).map_or(&Tok::End, |t| &t.0)
    }
    fn pos(&self) -> usize {
        self.lx.toks.get(self.k).map_or(self.lx.s.len(), |t| t.1)
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.k < self.lx.toks.len() {
            self.k += 1;
        }
        t
    }
    fn err(&self, m: &str) -> StreamError {
        StreamError::Expression { input: self.lx.s.to_string(), position: self.pos(), message: m.to_string() }
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w, false) if w.eq_ignore_ascii_case(kw))
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.k += 1;
            true
        } else {
            false
        }
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Tok::Sym(x) if *x == s) {
            self.k += 1;
            true
        } else {
            false
        }
    }
    fn expect_sym(&mut self, s: &str) -> Result<(), StreamError> {
        if self.eat_sym(s) { Ok(()) } else { Err(self.err(&format!("expected '{s}'"))) }
    }
    fn end(&self) -> Result<(), StreamError> {
        if *self.peek() == Tok::End { Ok(()) } else { Err(self.err("unexpected text")) }
    }

    fn item(&mut self) -> Result<Ast, StreamError> {
        let e = self.expr()?;
        if self.eat_kw("as") {
            match self.next() {
                Tok::Ident(n, _) => return Ok(Ast::Alias(Box::new(e), n)),
                _ => return Err(self.err("expected a name after AS")),
            }
        }
        // implicit alias: `expr name`
        let implicit = match self.peek() {
            Tok::Ident(n, q) if *q || !is_reserved(n) => Some(n.clone()),
            _ => None,
        };
        if let Some(n) = implicit {
            self.k += 1;
            return Ok(Ast::Alias(Box::new(e), n));
        }
        Ok(e)
    }

    /// Enters one nesting level (errors past [`MAX_NESTING`]).
    fn enter(&mut self) -> Result<(), StreamError> {
        if self.depth >= MAX_NESTING {
            return Err(self.err(&format!("expression nested more than {MAX_NESTING} levels deep")));
        }
        self.depth += 1;
        Ok(())
    }
    /// Counts one operator (errors past [`MAX_OPERATORS`]).
    fn op(&mut self) -> Result<(), StreamError> {
        if self.ops >= MAX_OPERATORS {
            return Err(self.err(&format!("expression has more than {MAX_OPERATORS} operators")));
        }
        self.ops += 1;
        Ok(())
    }
    fn expr(&mut self) -> Result<Ast, StreamError> {
        self.enter()?;
        let r = self.or();
        self.depth -= 1;
        r
    }
    fn or(&mut self) -> Result<Ast, StreamError> {
        let mut a = self.and()?;
        while self.eat_kw("or") {
            self.op()?;
            let b = self.and()?;
            a = Ast::Or(Box::new(a), Box::new(b));
        }
        Ok(a)
    }
    fn and(&mut self) -> Result<Ast, StreamError> {
        let mut a = self.not()?;
        while self.eat_kw("and") {
            self.op()?;
            let b = self.not()?;
            a = Ast::And(Box::new(a), Box::new(b));
        }
        Ok(a)
    }
    fn not(&mut self) -> Result<Ast, StreamError> {
        if self.eat_kw("not") {
            self.op()?;
            self.enter()?;
            let r = self.not();
            self.depth -= 1;
            return Ok(Ast::Not(Box::new(r?)));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> Result<Ast, StreamError> {
        let a = self.primary()?;
        if self.eat_kw("is") {
            self.op()?;
            let neg = self.eat_kw("not");
            if !self.eat_kw("null") {
                return Err(self.err("expected NULL after IS"));
            }
            return Ok(Ast::IsNull(Box::new(a), neg));
        }
        let op = match self.peek() {
            Tok::Sym("=") | Tok::Sym("==") => CmpOp::Eq,
            Tok::Sym("!=") | Tok::Sym("<>") => CmpOp::Ne,
            Tok::Sym("<") => CmpOp::Lt,
            Tok::Sym("<=") => CmpOp::Le,
            Tok::Sym(">") => CmpOp::Gt,
            Tok::Sym(">=") => CmpOp::Ge,
            _ => return Ok(a),
        };
        self.k += 1;
        self.op()?;
        let b = self.primary()?;
        Ok(Ast::Cmp(op, Box::new(a), Box::new(b)))
    }

    fn primary(&mut self) -> Result<Ast, StreamError> {
        let pos = self.pos();
        match self.next() {
            Tok::Sym("(") => {
                let e = self.expr()?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Tok::Sym("*") => Ok(Ast::Star(vec![])),
            Tok::Sym(s @ ("-" | "+")) => match self.next() {
                Tok::Num(n) => number(&format!("{s}{n}")).ok_or_else(|| self.err("bad number")),
                _ => Err(self.err("expected a number")),
            },
            Tok::Num(n) => number(&n).ok_or_else(|| self.err("bad number")),
            Tok::Str(s) => Ok(Ast::Lit(Value::string(s))),
            Tok::Ident(w, quoted) => {
                if !quoted {
                    let lw = w.to_ascii_lowercase();
                    match lw.as_str() {
                        "null" => return Ok(Ast::Lit(Value::Null)),
                        "true" => return Ok(Ast::Lit(Value::Bool(true))),
                        "false" => return Ok(Ast::Lit(Value::Bool(false))),
                        "timestamp" | "date" if matches!(self.peek(), Tok::Str(_)) => {
                            let Tok::Str(s) = self.next() else {
                                return Err(self.err("expected a string"));
                            };
                            let v = if lw == "timestamp" {
                                crate::time::parse_timestamp(&s).map(Value::Timestamp)
                            } else {
                                crate::time::parse_date(&s).map(Value::Date)
                            };
                            return v
                                .map(Ast::Lit)
                                .ok_or_else(|| self.err(&format!("invalid {lw} literal {s:?}")));
                        }
                        "cast" if *self.peek() == Tok::Sym("(") => {
                            self.k += 1;
                            let e = self.expr()?;
                            if !self.eat_kw("as") {
                                return Err(self.err("expected AS in CAST"));
                            }
                            let start = self.pos();
                            // the type runs to the matching ')'
                            let mut depth = 0;
                            while !matches!(self.peek(), Tok::End) {
                                match self.peek() {
                                    Tok::Sym("(") => depth += 1,
                                    Tok::Sym(")") if depth == 0 => break,
                                    Tok::Sym(")") => depth -= 1,
                                    _ => {}
                                }
                                self.k += 1;
                            }
                            let end = self.pos();
                            let text = self.lx.s.get(start..end).unwrap_or("");
                            let t = parse_data_type(text).map_err(|_| StreamError::Expression {
                                input: self.lx.s.to_string(),
                                position: start,
                                message: format!("unknown type {:?} in CAST", text.trim()),
                            })?;
                            self.expect_sym(")")?;
                            return Ok(Ast::Cast(Box::new(e), t));
                        }
                        _ => {}
                    }
                }
                if !quoted && *self.peek() == Tok::Sym("(") {
                    self.k += 1;
                    let name = w.to_ascii_lowercase();
                    if name == "count" && self.eat_sym("*") {
                        self.expect_sym(")")?;
                        return Ok(Ast::CountStar);
                    }
                    let mut args = Vec::new();
                    if !self.eat_sym(")") {
                        loop {
                            args.push(self.expr()?);
                            if self.eat_sym(")") {
                                break;
                            }
                            self.expect_sym(",")?;
                        }
                    }
                    if name == "count"
                        && matches!(args.as_slice(), [Ast::Lit(Value::Long(1) | Value::Int(1))])
                    {
                        return Ok(Ast::CountStar);
                    }
                    return Ok(Ast::Func(name, args));
                }
                let mut parts = vec![w];
                while self.eat_sym(".") {
                    match self.next() {
                        Tok::Ident(n, _) => parts.push(n),
                        Tok::Sym("*") => return Ok(Ast::Star(parts)),
                        _ => return Err(self.err("expected a name after '.'")),
                    }
                }
                Ok(Ast::Column(parts))
            }
            _ => Err(StreamError::Expression {
                input: self.lx.s.to_string(),
                position: pos,
                message: "expected an expression".into(),
            }),
        }
    }
}

fn is_reserved(w: &str) -> bool {
    matches!(w.to_ascii_lowercase().as_str(), "and" | "or" | "not" | "is" | "as" | "null" | "from" | "where")
}

fn number(n: &str) -> Option<Ast> {
    let t = n.trim_end_matches(['L', 'l', 'D', 'd']);
    let suffix = &n[t.len()..];
    if suffix.eq_ignore_ascii_case("d") || t.contains(['.', 'e', 'E']) {
        return t.parse::<f64>().ok().map(|f| Ast::Lit(Value::Double(f)));
    }
    let v: i64 = t.parse().ok()?;
    if suffix.is_empty() && i32::try_from(v).is_ok() {
        Some(Ast::Lit(Value::Int(v as i32)))
    } else {
        Some(Ast::Lit(Value::Long(v)))
    }
}

/// Parse one expression (a filter, a group-by item, an aggregate).
pub fn parse_expr(s: &str) -> Result<Ast, StreamError> {
    let mut p = Parser::new(s)?;
    let e = p.expr()?;
    p.end()?;
    Ok(e)
}

/// Parse one projection item, with an optional `AS alias`.
pub fn parse_item(s: &str) -> Result<Ast, StreamError> {
    let mut p = Parser::new(s)?;
    let e = p.item()?;
    p.end()?;
    Ok(e)
}

/// Parse a comma-separated list of projection items.
pub fn parse_item_list(s: &str) -> Result<Vec<Ast>, StreamError> {
    let mut p = Parser::new(s)?;
    let mut v = vec![p.item()?];
    while p.eat_sym(",") {
        v.push(p.item()?);
    }
    p.end()?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_spark() {
        assert_eq!(parse_item("CAST(value AS STRING)").unwrap().name(), "value");
        assert_eq!(
            parse_item("from_json(CAST(value AS STRING), 'gender STRING, age LONG')").unwrap().name(),
            "from_json(CAST(value AS STRING))"
        );
        assert_eq!(parse_item("from_json(CAST(value AS STRING), 'a INT') AS voter").unwrap().name(), "voter");
        assert_eq!(parse_item("count(*)").unwrap().name(), "count(1)");
        assert_eq!(parse_item("count(1)").unwrap().name(), "count(1)");
        assert_eq!(parse_item("COUNT(age)").unwrap().name(), "count(age)");
        assert_eq!(parse_item("sum(voter.age)").unwrap().name(), "sum(voter.age)");
        assert_eq!(parse_item("voter.gender").unwrap().name(), "gender");
        assert_eq!(parse_item("avg(age) AS a").unwrap().name(), "a");
        assert_eq!(parse_item("window(timestamp, '1 minute')").unwrap().name(), "window");
    }

    #[test]
    fn filters() {
        let e = parse_expr("age >= 18 AND party <> 'D' OR gender IS NOT NULL").unwrap();
        assert!(matches!(e, Ast::Or(_, _)));
        let e = parse_expr("NOT (age < -5)").unwrap();
        assert!(matches!(e, Ast::Not(_)));
        assert!(parse_expr("age >=").is_err());
        assert!(parse_expr("age = 'x").is_err());
        let e = parse_expr("a = 1 )").unwrap_err();
        assert!(matches!(e, StreamError::Expression { position: 6, .. }), "{e:?}");
    }

    /// Fuzz finding (`ddl_expr`): 2000 '(' overflowed the stack. Nesting and
    /// operator counts are bounded; what is within the bounds still parses.
    #[test]
    fn nesting_and_size_are_bounded() {
        let deep = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
        assert!(parse_expr(&deep(99)).is_ok());
        let e = parse_expr(&deep(5000)).unwrap_err().to_string();
        assert!(e.contains("nested more than 100 levels"), "{e}");
        assert!(parse_item(&"(".repeat(2000)).is_err());
        assert!(parse_expr(&format!("{}a", "NOT ".repeat(5000))).is_err());
        assert!(parse_expr(&format!("cast({}a as int)", "cast(".repeat(300))).is_err());
        let chain = |n: usize| vec!["a = 1"; n].join(" AND ");
        assert!(parse_expr(&chain(400)).is_ok());
        let e = parse_expr(&chain(5000)).unwrap_err().to_string();
        assert!(e.contains("more than 1000 operators"), "{e}");
    }

    #[test]
    fn stars_and_lists() {
        let v = parse_item_list("voter.*, `odd name`, CAST(key AS STRING) k").unwrap();
        assert_eq!(v[0], Ast::Star(vec!["voter".into()]));
        assert_eq!(v[1].name(), "odd name");
        assert_eq!(v[2].name(), "k");
    }
}
