//! The attribute's arguments: `#[job(name = "...", retries = 3, ...)]`.
//!
//! Every value is checked here, at compile time, against the limits the
//! builder enforces at spawn time (`NewJob::validate`), so a job whose
//! defaults could never be spawned does not compile.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::spanned::Spanned as _;
use syn::{Expr, Lit, LitStr, Path, Token, UnOp};

/// The options, as listed in error messages.
const KNOWN: &str = "`name`, `channel_name`, `retries`, `backoff_secs`, `backoff_max_secs`, `jitter`, `timeout_secs`, `priority`, `ordered`, `proto`, `cron`, `time_zone`, `every_secs`";

/// The most retries a job may have: `NewJob::validate` refuses more,
/// because PostgreSQL stores them in an `int4`.
const MAX_RETRIES: u64 = i32::MAX as u64;

/// The longest backoff in seconds: `mq_core::builder::MAX_DURATION`, 1,000
/// years of 366 days. Repeated here because a proc-macro crate cannot
/// depend on the crate it generates code for.
const MAX_BACKOFF_SECS: f64 = 1000.0 * 366.0 * 24.0 * 3600.0;

/// A value read from the attribute, with the span of its literal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// The arguments of one `#[job(...)]` attribute.
#[derive(Default)]
pub(crate) struct JobOptions {
    pub name: Option<LitStr>,
    pub channel_name: Option<LitStr>,
    pub retries: Option<Spanned<u32>>,
    pub backoff_secs: Option<Spanned<f64>>,
    pub backoff_max_secs: Option<Spanned<f64>>,
    pub timeout_secs: Option<Spanned<f64>>,
    pub priority: Option<Spanned<i16>>,
    pub jitter: Option<Spanned<bool>>,
    pub ordered: Option<Spanned<bool>>,
    pub proto: Option<Path>,
    /// A cron expression, checked here.
    pub cron: Option<LitStr>,
    /// The cron expression's time zone (checked when a runner starts: the
    /// time zone database is the machine's).
    pub time_zone: Option<LitStr>,
    pub every_secs: Option<Spanned<u64>>,
}

impl JobOptions {
    /// Parses the tokens between the attribute's parentheses.
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Self> {
        let mut options = Self::default();
        syn::meta::parser(|meta| options.parse_one(meta)).parse2(args)?;
        Ok(options)
    }

    fn parse_one(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        let key = match meta.path.get_ident() {
            Some(ident) => ident.to_string(),
            None => return Err(meta.error(format!("unknown option; expected one of {KNOWN}"))),
        };
        match key.as_str() {
            "name" => {
                let value = string_value(&meta, "name", "send_email")?;
                if value.value().is_empty() {
                    return Err(syn::Error::new(value.span(), "a job name cannot be empty"));
                }
                no_nul(&value, "a job name")?;
                set_once(&mut self.name, value, &meta)
            }
            "channel_name" => {
                let value = string_value(&meta, "channel_name", "emails")?;
                no_nul(&value, "a channel name")?;
                set_once(&mut self.channel_name, value, &meta)
            }
            "retries" => {
                let value = retries_value(&meta)?;
                set_once(&mut self.retries, value, &meta)
            }
            "backoff_secs" => {
                let value = seconds_value(&meta, "backoff_secs")?;
                set_once(&mut self.backoff_secs, value, &meta)
            }
            "backoff_max_secs" => {
                let value = seconds_value(&meta, "backoff_max_secs")?;
                set_once(&mut self.backoff_max_secs, value, &meta)
            }
            "timeout_secs" => {
                let value = seconds_value(&meta, "timeout_secs")?;
                if value.value == 0.0 {
                    return Err(meta.error("`timeout_secs` must be more than zero"));
                }
                set_once(&mut self.timeout_secs, value, &meta)
            }
            "priority" => {
                let value = priority_value(&meta)?;
                set_once(&mut self.priority, value, &meta)
            }
            "jitter" => {
                let value = flag_value(&meta, "jitter")?;
                set_once(&mut self.jitter, value, &meta)
            }
            "ordered" => {
                let value = flag_value(&meta, "ordered")?;
                set_once(&mut self.ordered, value, &meta)
            }
            "proto" => {
                let value = proto_value(&meta)?;
                set_once(&mut self.proto, value, &meta)
            }
            "cron" => {
                let value = string_value(&meta, "cron", "0 */5 * * * *")?;
                croner::parser::CronParser::builder()
                    .seconds(croner::parser::Seconds::Optional)
                    .build()
                    .parse(value.value().trim())
                    .map_err(|e| {
                        syn::Error::new(value.span(), format!("not a cron expression: {e}"))
                    })?;
                set_once(&mut self.cron, value, &meta)
            }
            "time_zone" => {
                let value = string_value(&meta, "time_zone", "Europe/Paris")?;
                set_once(&mut self.time_zone, value, &meta)
            }
            "every_secs" => {
                let value = every_secs_value(&meta)?;
                set_once(&mut self.every_secs, value, &meta)
            }
            other => Err(meta.error(format!("unknown option `{other}`; expected one of {KNOWN}"))),
        }
    }

    /// Checks the options that go together: one schedule at most, and a
    /// time zone only with a cron expression.
    pub(crate) fn check_schedule(&self) -> syn::Result<()> {
        if let (Some(_), Some(every)) = (&self.cron, &self.every_secs) {
            return Err(syn::Error::new(
                every.span,
                "a job has one schedule: `cron` or `every_secs`, not both",
            ));
        }
        if let (None, Some(zone)) = (&self.cron, &self.time_zone) {
            return Err(syn::Error::new(
                zone.span(),
                "`time_zone` goes with a `cron` expression",
            ));
        }
        Ok(())
    }
}

/// The whole number of seconds after `every_secs =`, at least 1.
fn every_secs_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Spanned<u64>> {
    let expr = value_expr(meta, "every_secs", "60")?;
    let span = expr.span();
    match &expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(lit), ..
        }) => match lit.base10_parse::<u64>() {
            Ok(value) if value >= 1 => Ok(Spanned { value, span }),
            _ => Err(syn::Error::new_spanned(
                &expr,
                "`every_secs` must be a whole number of seconds, at least 1",
            )),
        },
        expr => Err(syn::Error::new_spanned(
            expr,
            "`every_secs` takes an integer literal, as in `every_secs = 60`",
        )),
    }
}

/// Stores an option, refusing a second occurrence.
fn set_once<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if slot.is_some() {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(syn::Error::new_spanned(
            &meta.path,
            format!("the `{key}` option is given more than once"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// The expression after `key =`, or an error showing the expected form.
fn value_expr(meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<Expr> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("expected a value: `{key} = {example}`")));
    }
    let expr: Expr = meta.value()?.parse()?;
    Ok(strip_groups(expr))
}

/// Looks through the invisible groups around a `$value:expr` forwarded by
/// a `macro_rules!` macro.
fn strip_groups(expr: Expr) -> Expr {
    match expr {
        Expr::Group(group) => strip_groups(*group.expr),
        Expr::Paren(paren) => strip_groups(*paren.expr),
        other => other,
    }
}

fn is_negation(expr: &Expr) -> bool {
    matches!(expr, Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)))
}

fn string_value(meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<LitStr> {
    let expr = value_expr(meta, key, &format!("\"{example}\""))?;
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{key}` takes a string literal, as in `{key} = \"{example}\"`"),
        )),
    }
}

fn no_nul(lit: &LitStr, what: &str) -> syn::Result<()> {
    if lit.value().contains('\0') {
        return Err(syn::Error::new(
            lit.span(),
            format!("{what} cannot contain a NUL character"),
        ));
    }
    Ok(())
}

fn retries_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Spanned<u32>> {
    let expr = value_expr(meta, "retries", "3")?;
    let span = expr.span();
    let out_of_range = || {
        syn::Error::new_spanned(
            &expr,
            format!("`retries` must be an integer from 0 to {MAX_RETRIES}"),
        )
    };
    match &expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(lit), ..
        }) => {
            let value: u64 = lit.base10_parse().map_err(|_| out_of_range())?;
            if value > MAX_RETRIES {
                return Err(out_of_range());
            }
            let value = u32::try_from(value).map_err(|_| out_of_range())?;
            Ok(Spanned { value, span })
        }
        expr if is_negation(expr) => Err(syn::Error::new_spanned(
            expr,
            "`retries` cannot be negative",
        )),
        expr => Err(syn::Error::new_spanned(
            expr,
            "`retries` takes an integer literal, as in `retries = 3`",
        )),
    }
}

/// The integer after `priority =`, from -32768 to 32767.
fn priority_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Spanned<i16>> {
    let expr = value_expr(meta, "priority", "10")?;
    let span = expr.span();
    let out_of_range =
        || syn::Error::new_spanned(&expr, "`priority` must be an integer from -32768 to 32767");
    let (negative, lit) = match &expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(lit), ..
        }) => (false, lit),
        Expr::Unary(syn::ExprUnary {
            op: UnOp::Neg(_),
            expr: inner,
            ..
        }) => match inner.as_ref() {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(lit), ..
            }) => (true, lit),
            _ => return Err(not_an_integer(&expr)),
        },
        _ => return Err(not_an_integer(&expr)),
    };
    let magnitude: i64 = lit.base10_parse().map_err(|_| out_of_range())?;
    let value = if negative { -magnitude } else { magnitude };
    let value = i16::try_from(value).map_err(|_| out_of_range())?;
    Ok(Spanned { value, span })
}

fn not_an_integer(expr: &Expr) -> syn::Error {
    syn::Error::new_spanned(
        expr,
        "`priority` takes an integer literal, as in `priority = 10`",
    )
}

/// A number of seconds after `key =` (`backoff_secs`, `backoff_max_secs`).
fn seconds_value(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<Spanned<f64>> {
    let expr = value_expr(meta, key, "2.5")?;
    let span = expr.span();
    let value: f64 = match &expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(lit),
            ..
        }) => lit.base10_parse()?,
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit.base10_parse()?,
        expr if is_negation(expr) => {
            return Err(syn::Error::new_spanned(
                expr,
                format!("`{key}` cannot be negative"),
            ));
        }
        expr => {
            return Err(syn::Error::new_spanned(
                expr,
                format!("`{key}` takes a number of seconds, as in `{key} = 2.5` or `{key} = 10`"),
            ));
        }
    };
    if !value.is_finite() || value > MAX_BACKOFF_SECS {
        return Err(syn::Error::new_spanned(
            &expr,
            format!(
                "`{key}` must be at most 1000 years ({MAX_BACKOFF_SECS} seconds), the longest backoff mq accepts"
            ),
        ));
    }
    Ok(Spanned { value, span })
}

/// A flag (`ordered`, `jitter`): alone it means `true`, or `key = true`
/// or `key = false`.
fn flag_value(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<Spanned<bool>> {
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        return Ok(Spanned {
            value: true,
            span: meta.path.span(),
        });
    }
    let expr = value_expr(meta, key, "true")?;
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(lit),
            ..
        }) => Ok(Spanned {
            value: lit.value,
            span: lit.span,
        }),
        other => Err(syn::Error::new_spanned(
            other,
            format!(
                "`{key}` takes `true` or `false`, or no value at all (`{key}` alone means `{key} = true`)"
            ),
        )),
    }
}

fn proto_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    const FORM: &str = "`proto` takes the path of a function in parentheses, as in `proto(my_proto)`, where `fn my_proto(builder: &mut JobBuilder) -> &mut JobBuilder`";
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(FORM));
    }
    let content;
    syn::parenthesized!(content in meta.input);
    let path: Path = content
        .parse()
        .map_err(|error| syn::Error::new(error.span(), FORM))?;
    if !content.is_empty() {
        return Err(content.error(FORM));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn parse(args: TokenStream) -> syn::Result<JobOptions> {
        JobOptions::parse(args)
    }

    fn error(args: TokenStream) -> String {
        match parse(args) {
            Ok(_) => panic!("expected an error"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn empty_arguments_give_no_options() {
        let options = parse(quote!()).unwrap();
        assert!(options.name.is_none());
        assert!(options.channel_name.is_none());
        assert!(options.retries.is_none());
        assert!(options.backoff_secs.is_none());
        assert!(options.ordered.is_none());
        assert!(options.proto.is_none());
    }

    #[test]
    fn every_option_parses() {
        let options = parse(quote!(
            name = "custom",
            channel_name = "foo",
            retries = 3,
            backoff_secs = 2.5,
            backoff_max_secs = 60,
            jitter,
            timeout_secs = 90,
            priority = -3,
            ordered,
            proto(crate::protos::email),
        ))
        .unwrap();
        assert_eq!(options.name.unwrap().value(), "custom");
        assert_eq!(options.channel_name.unwrap().value(), "foo");
        assert_eq!(options.retries.unwrap().value, 3);
        assert_eq!(options.backoff_secs.unwrap().value, 2.5);
        assert_eq!(options.backoff_max_secs.unwrap().value, 60.0);
        assert_eq!(options.timeout_secs.unwrap().value, 90.0);
        assert_eq!(options.priority.unwrap().value, -3);
        assert!(options.jitter.unwrap().value);
        assert!(options.ordered.unwrap().value);
        let proto = options.proto.unwrap();
        assert_eq!(quote!(#proto).to_string(), "crate :: protos :: email");
    }

    #[test]
    fn ordered_takes_an_optional_bool() {
        assert!(
            parse(quote!(ordered = true))
                .unwrap()
                .ordered
                .unwrap()
                .value
        );
        assert!(
            !parse(quote!(ordered = false))
                .unwrap()
                .ordered
                .unwrap()
                .value
        );
        assert!(
            parse(quote!(ordered, retries = 1))
                .unwrap()
                .ordered
                .unwrap()
                .value
        );
        assert!(error(quote!(ordered = 1)).contains("`true` or `false`"));
    }

    #[test]
    fn backoff_takes_integers_and_floats() {
        assert_eq!(
            parse(quote!(backoff_secs = 10))
                .unwrap()
                .backoff_secs
                .unwrap()
                .value,
            10.0
        );
        assert_eq!(
            parse(quote!(backoff_secs = 0.25))
                .unwrap()
                .backoff_secs
                .unwrap()
                .value,
            0.25
        );
        assert!(error(quote!(backoff_secs = -1.0)).contains("cannot be negative"));
        assert!(error(quote!(backoff_secs = 1e300)).contains("at most 1000 years"));
        assert!(error(quote!(backoff_secs = "2")).contains("number of seconds"));
        assert!(
            error(quote!(backoff_max_secs = -5)).contains("`backoff_max_secs` cannot be negative")
        );
        assert!(error(quote!(backoff_max_secs = 1e300)).contains("at most 1000 years"));
        assert!(error(quote!(timeout_secs = 0)).contains("must be more than zero"));
        assert!(error(quote!(timeout_secs = -1)).contains("`timeout_secs` cannot be negative"));
        assert_eq!(
            parse(quote!(priority = 32767))
                .unwrap()
                .priority
                .unwrap()
                .value,
            i16::MAX
        );
        assert_eq!(
            parse(quote!(priority = -32768))
                .unwrap()
                .priority
                .unwrap()
                .value,
            i16::MIN
        );
        assert!(error(quote!(priority = 32768)).contains("from -32768 to 32767"));
        assert!(error(quote!(priority = -40000)).contains("from -32768 to 32767"));
        assert!(error(quote!(priority = "high")).contains("integer literal"));
        assert!(error(quote!(priority = 1.5)).contains("integer literal"));
    }

    #[test]
    fn jitter_takes_an_optional_bool() {
        assert!(parse(quote!(jitter)).unwrap().jitter.unwrap().value);
        assert!(!parse(quote!(jitter = false)).unwrap().jitter.unwrap().value);
        assert!(error(quote!(jitter = 1)).contains("`jitter` takes `true` or `false`"));
    }

    #[test]
    fn retries_are_checked() {
        assert_eq!(
            parse(quote!(retries = 0)).unwrap().retries.unwrap().value,
            0
        );
        assert_eq!(
            parse(quote!(retries = 2147483647))
                .unwrap()
                .retries
                .unwrap()
                .value,
            i32::MAX as u32
        );
        assert!(error(quote!(retries = 2147483648)).contains("from 0 to 2147483647"));
        assert!(error(quote!(retries = 99999999999999999999999)).contains("from 0 to"));
        assert!(error(quote!(retries = -1)).contains("cannot be negative"));
        assert!(error(quote!(retries = "x")).contains("integer literal"));
        assert!(error(quote!(retries = 1.5)).contains("integer literal"));
        assert!(error(quote!(retries)).contains("expected a value: `retries = 3`"));
    }

    #[test]
    fn strings_are_checked() {
        assert!(error(quote!(name = 3)).contains("string literal"));
        assert!(error(quote!(name = "")).contains("cannot be empty"));
        assert!(error(quote!(name = "a\0b")).contains("NUL"));
        assert!(error(quote!(channel_name = "a\0b")).contains("NUL"));
        assert!(parse(quote!(channel_name = "")).is_ok());
    }

    #[test]
    fn unknown_and_repeated_options_are_refused() {
        assert!(error(quote!(channel = "x")).contains("unknown option `channel`"));
        assert!(error(quote!(a::b = 1)).contains("unknown option"));
        assert!(
            error(quote!(retries = 1, retries = 2))
                .contains("`retries` option is given more than once")
        );
        assert!(error(quote!(ordered, ordered = false)).contains("more than once"));
    }

    #[test]
    fn proto_takes_a_path_in_parentheses() {
        assert!(error(quote!(proto = my_proto)).contains("proto(my_proto)"));
        assert!(error(quote!(proto(1))).contains("path of a function"));
        assert!(error(quote!(proto(a, b))).contains("path of a function"));
    }
}
