//! The `#[job]` attribute of [mq](../mq/index.html), a background job
//! queue on PostgreSQL. Use it through the `mq` crate (`mq::job`, with the
//! default `macros` feature); the generated code refers to `::mq`.
//!
//! This crate is a shim: it parses the function, hands it to the `expand`
//! module, and turns every error into a `compile_error!` at the offending
//! tokens.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod expand;
mod options;
mod signature;

use proc_macro::TokenStream;

/// Declares a job: turns an `async fn` into a `&'static` [`NamedJob`]
/// constant of the same name and visibility, which carries the job's name
/// and default options and knows how to run the function.
///
/// ```
/// use std::error::Error;
///
/// use mq::{job, CurrentJob, JobRegistry};
///
/// /// Greets whoever the payload names.
/// #[job(channel_name = "emails", retries = 3, backoff_secs = 2.5)]
/// pub async fn send_welcome(
///     // The first parameter is always the job being run.
///     mut job: CurrentJob,
///     // Every further parameter is a context value, looked up by its type
///     // in the registry (see `JobRegistry::set_context`).
///     greeting: &'static str,
/// ) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
///     let who: Option<String> = job.json()?;
///     println!("{greeting}, {}!", who.as_deref().unwrap_or("world"));
///     job.complete().await?;
///     Ok(())
/// }
///
/// // The constant goes into a registry...
/// let mut registry = JobRegistry::new(&[send_welcome]);
/// registry.set_context("Hello");
///
/// // ...and gives builders with the job's defaults applied.
/// let builder = send_welcome.builder();
/// assert_eq!(send_welcome.name(), "send_welcome");
/// assert_eq!(builder.job().channel_name, "emails");
/// assert_eq!(builder.job().retries, 3);
/// assert_eq!(builder.job().retry_backoff.as_secs_f64(), 2.5);
/// ```
///
/// # The function
///
/// - It is an `async fn` without generic parameters or a `where` clause,
///   and takes no `self`.
/// - Its first parameter is the [`CurrentJob`], taken by value. It is
///   recognized by the last segment of its type's path, so `CurrentJob`
///   and `mq::CurrentJob` both work (a type alias of another name does
///   not).
/// - Every further parameter is a *context argument*: before each run, the
///   runner looks up a value of exactly that type among those given to
///   `JobRegistry::set_context`, and passes the job its own clone. Write
///   concrete types (`Arc<Pool>`, `&'static str`), not `impl Trait`. Any
///   pattern works, e.g. `(host, port): (&'static str, u16)`. A runner
///   refuses to start, with `mq::Error::MissingContext`, while a context
///   type that one of its jobs takes is missing.
/// - It returns `Result<(), E>` for any `E` that converts into
///   `Box<dyn Error + Send + Sync>`: a boxed error, `mq::Error` (so
///   `mq::Result<()>` works), or your own error type.
/// - Its future must be `Send`, since runners run jobs on a multi-threaded
///   executor.
///
/// Inside the function, its own name refers to the generated constant, so
/// a job can spawn itself again with `my_job.builder()`.
///
/// # Options
///
/// Each option sets a default of the builder that `builder()` returns;
/// code that spawns the job can still override it. All are optional and
/// each may be given once.
///
/// | option | value | default | builder call |
/// |---|---|---|---|
/// | `name = "..."` | string literal | the function's name | the name given to `JobBuilder::new` |
/// | `channel_name = "..."` | string literal | `""` | `set_channel_name` |
/// | `retries = N` | integer from 0 to 2147483647 | 4 | `set_retries` |
/// | `backoff_secs = X` | non-negative number, integer or float | 1 | `set_retry_backoff(Duration::from_secs_f64(X))` |
/// | `backoff_max_secs = X` | non-negative number, integer or float | no cap | `set_retry_backoff_max(Duration::from_secs_f64(X))` |
/// | `jitter`, `jitter = true`, `jitter = false` | flag or bool | no jitter | `set_retry_jitter` |
/// | `timeout_secs = X` | positive number, integer or float | no limit | `set_timeout(Duration::from_secs_f64(X))` |
/// | `priority = N` | integer from -32768 to 32767 | 0 | `set_priority` |
/// | `ordered`, `ordered = true`, `ordered = false` | flag or bool | unordered | `set_ordered` |
/// | `proto(path)` | path to a `fn(&mut JobBuilder) -> &mut JobBuilder` | none | called first |
///
/// `proto` shares defaults between jobs. The prototype is applied first and
/// the other options after it, so they override what it sets:
///
/// ```
/// use mq::{job, BoxError, CurrentJob, JobBuilder};
///
/// fn reports(builder: &mut JobBuilder) -> &mut JobBuilder {
///     builder
///         .set_channel_name("reports")
///         .set_channel_args("nightly")
///         .set_retries(10)
/// }
///
/// #[job(
///     name = "reports.daily",
///     proto(reports),
///     retries = 2,
///     backoff_secs = 30,
///     ordered,
/// )]
/// async fn daily_report(mut job: CurrentJob) -> Result<(), BoxError> {
///     job.complete().await?;
///     Ok(())
/// }
///
/// let builder = daily_report.builder();
/// let job = builder.job();
/// assert_eq!(job.name, "reports.daily");
/// assert_eq!(job.channel_name, "reports");
/// assert_eq!(job.channel_args, "nightly");
/// assert_eq!(job.retries, 2);
/// assert_eq!(job.retry_backoff, std::time::Duration::from_secs(30));
/// assert!(job.ordered);
/// ```
///
/// Misuse is a compile error pointing at the offending tokens: an unknown
/// or repeated option, a value of the wrong kind (`retries = "x"`,
/// `retries = -1`), a function that is not `async`, is generic, takes
/// `self`, or does not take a `CurrentJob` first.
///
/// # What it expands to
///
/// ```text
/// #[allow(non_upper_case_globals)]
/// pub const send_welcome: &'static mq::NamedJob = {
///     async fn __mq_job_fn(mut job: CurrentJob, greeting: &'static str) -> Result<..> { .. }
///     &mq::NamedJob::new_internal(
///         "send_welcome",
///         /* build: proto, then the options */,
///         /* check: every context type is in the registry */,
///         /* run: look up the context values, call __mq_job_fn */,
///     )
/// };
/// ```
///
/// Doc comments, `#[cfg]`, `#[deprecated]` and lint attributes
/// (`#[allow]`, `#[expect]`, ...) go on the constant, whose lint levels also
/// cover the nested function; other attributes, such as
/// `#[tracing::instrument]`, stay on the function.
///
/// The generated code names the facade crate as `::mq`, so the `mq`
/// dependency cannot be renamed in `Cargo.toml`.
///
/// [`NamedJob`]: ../mq/struct.NamedJob.html
/// [`CurrentJob`]: ../mq/struct.CurrentJob.html
#[proc_macro_attribute]
pub fn job(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as syn::Item);
    expand::job(args.into(), item).into()
}
