//! The expansion of `#[job]`.
//!
//! ```text
//! #[job(channel_name = "emails")]
//! pub async fn send_email(job: CurrentJob, greeting: &'static str) -> Result<(), E> { body }
//! ```
//!
//! becomes a constant of the function's name and visibility:
//!
//! ```text
//! #[allow(non_upper_case_globals)]
//! pub const send_email: &'static NamedJob = {
//!     async fn __mq_job_fn(job: CurrentJob, greeting: &'static str) -> Result<(), E> { body }
//!     &NamedJob::new_internal(
//!         "send_email",
//!         |builder| { builder.set_channel_name("emails"); },
//!         |registry| { registry.require_context::<&'static str>("send_email")?; Ok(()) },
//!         |registry, job| {
//!             let context_0 = registry.require_context::<&'static str>("send_email")?;
//!             let future = __mq_job_fn(job, context_0);
//!             Ok(Box::pin(async move { future.await.map_err(Into::into) }))
//!         },
//!     )
//! };
//! ```
//!
//! The function is renamed so that its body can refer to the constant,
//! e.g. to spawn the job again. The three hooks are closures rather than
//! named functions so that no name of ours can shadow one the body uses,
//! and every local variable of ours has mixed-site hygiene, so a `proto`
//! path can never resolve to one of them.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;
use syn::{Attribute, Ident, Item, ItemFn, LitStr};

use crate::options::JobOptions;
use crate::signature::{self, JobFn};

/// The name the function gets inside the constant.
const INNER_FN: &str = "__mq_job_fn";

/// Expands `#[job(args)] item`. Errors become `compile_error!`s; when the
/// item is a function, a placeholder constant of its name is emitted with
/// them, so that code using the job reports nothing but the real error.
pub(crate) fn job(args: TokenStream, item: Item) -> TokenStream {
    let Item::Fn(item) = item else {
        let error = syn::Error::new_spanned(
            &item,
            "`#[job]` applies to an `async fn`, as in `#[job] async fn my_job(job: CurrentJob) -> Result<(), BoxError>`",
        )
        .to_compile_error();
        return quote!(#error #item);
    };
    let options = JobOptions::parse(args).and_then(|options| {
        options.check_schedule()?;
        Ok(options)
    });
    match (options, signature::analyze(item.clone())) {
        (Ok(options), Ok(job)) => generate(&options, job),
        // Keeping the function means its body is still checked, and the
        // imports it uses do not warn as unused.
        (Err(error), Ok(_)) => placeholder(item, true, error),
        (options, Err(signature_errors)) => {
            let error = match options {
                Ok(_) => signature_errors,
                Err(mut error) => {
                    error.combine(signature_errors);
                    error
                }
            };
            // A function unfit to be a job is usually still a valid free
            // function; keep it unless it cannot stand alone.
            let stands_alone = item.sig.receiver().is_none() && item.sig.variadic.is_none();
            placeholder(item, stands_alone, error)
        }
    }
}

/// The errors, and a constant of the job's name that does nothing, so that
/// code using the job compiles on and reports nothing but these errors.
fn placeholder(item: ItemFn, keep_function: bool, error: syn::Error) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = item;
    let ident = sig.ident.clone();
    let (const_attrs, fn_attrs) = split_attributes(attrs);
    let function = keep_function.then(|| {
        sig.ident = Ident::new(INNER_FN, Span::call_site());
        quote! {
            #[allow(dead_code)]
            #(#fn_attrs)*
            #sig #block
        }
    });
    let error = error.to_compile_error();
    quote! {
        #error
        #(#const_attrs)*
        #[allow(non_upper_case_globals)]
        #vis const #ident: &'static ::mq::__private::NamedJob = {
            #function
            &::mq::__private::NamedJob::new_internal(
                "",
                |_: &mut ::mq::__private::JobBuilder| {},
                |_: &::mq::__private::JobRegistry| -> ::mq::__private::Result<()> {
                    ::core::result::Result::Ok(())
                },
                |_: &::mq::__private::JobRegistry, _: ::mq::__private::CurrentJob|
                    -> ::mq::__private::Result<::mq::__private::JobFuture> {
                    ::core::result::Result::Ok(::std::boxed::Box::pin(async {
                        ::core::result::Result::Ok(())
                    }))
                },
            )
        };
    }
}

/// Splits a function's attributes into those of the constant (docs, `cfg`,
/// deprecation, lint levels, which then also cover the function nested in
/// it) and those that stay on the function (`#[tracing::instrument]`,
/// `#[inline]`...).
fn split_attributes(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>) {
    const ON_CONST: &[&str] = &[
        "doc",
        "cfg",
        "deprecated",
        "allow",
        "expect",
        "warn",
        "deny",
        "forbid",
    ];
    attrs
        .into_iter()
        .partition(|attr| ON_CONST.iter().any(|name| attr.path().is_ident(name)))
}

/// The constant for a function that passed every check.
fn generate(options: &JobOptions, job: JobFn) -> TokenStream {
    let JobFn {
        item,
        context_types,
        output_span,
        error_span,
    } = job;
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = item;
    let ident = sig.ident.clone();
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new(&ident.unraw().to_string(), ident.span()));
    let (const_attrs, fn_attrs) = split_attributes(attrs);
    let inner_fn = Ident::new(INNER_FN, Span::call_site());
    sig.ident = inner_fn.clone();

    // Our locals: mixed-site hygiene keeps them apart from the user's names.
    let local = |name: &str| Ident::new(name, Span::mixed_site());
    let builder = local("builder");
    let registry = local("registry");
    let current_job = local("current_job");
    let future = local("future");
    let result = local("result");
    let contexts: Vec<Ident> = (0..context_types.len())
        .map(|index| format_ident!("context_{}", index, span = Span::mixed_site()))
        .collect();

    let build = build_closure(options, &builder);
    let schedule = schedule_call(options);

    // Errors about the function's result point at its return type: the
    // locals below keep their hygiene but take the return type's location.
    let result_at_output = Ident::new("result", Span::mixed_site().located_at(output_span));
    let output_check = quote_spanned! {output_span=>
        let #result: ::core::result::Result<(), _> = #result_at_output;
    };
    let error_conversion = quote_spanned! {error_span=>
        let #result: ::mq::__private::JobResult =
            ::core::result::Result::map_err(#result, ::core::convert::Into::into);
    };
    // A future that is not `Send` is reported at the function's name.
    let boxed_future = quote_spanned! {Span::call_site().located_at(ident.span())=>
        ::std::boxed::Box::pin(async move {
            let #result = #future.await;
            #output_check
            #error_conversion
            #result
        })
    };

    quote! {
        #(#const_attrs)*
        #[allow(non_upper_case_globals)]
        #vis const #ident: &'static ::mq::__private::NamedJob = {
            // A job must be `async` even when its body never awaits.
            #[allow(clippy::unused_async)]
            #(#fn_attrs)*
            #sig #block

            &::mq::__private::NamedJob::new_internal(
                #name,
                #build,
                |#registry: &::mq::__private::JobRegistry| -> ::mq::__private::Result<()> {
                    #( #registry.require_context::<#context_types>(#name)?; )*
                    ::core::result::Result::Ok(())
                },
                |#registry: &::mq::__private::JobRegistry, #current_job: ::mq::__private::CurrentJob|
                    -> ::mq::__private::Result<::mq::__private::JobFuture>
                {
                    #( let #contexts = #registry.require_context::<#context_types>(#name)?; )*
                    let #future = #inner_fn(#current_job #(, #contexts)*);
                    ::core::result::Result::Ok(#boxed_future)
                },
            )#schedule
        };
    }
}

/// `.with_schedule_internal(...)` for a job with `cron` or `every_secs`.
fn schedule_call(options: &JobOptions) -> TokenStream {
    if let Some(cron) = &options.cron {
        let expression = LitStr::new(cron.value().trim(), cron.span());
        let time_zone = match &options.time_zone {
            Some(zone) => quote!(::core::option::Option::Some(#zone)),
            None => quote!(::core::option::Option::None),
        };
        quote! {
            .with_schedule_internal(::mq::__private::NamedSchedule::Cron {
                expression: #expression,
                time_zone: #time_zone,
            })
        }
    } else if let Some(every) = &options.every_secs {
        let secs = proc_macro2::Literal::u64_suffixed(every.value);
        quote_spanned! {every.span=>
            .with_schedule_internal(::mq::__private::NamedSchedule::Every { secs: #secs })
        }
    } else {
        TokenStream::new()
    }
}

/// The `build` hook: the prototype first, then each option, so that the
/// attribute's options override what the prototype sets.
fn build_closure(options: &JobOptions, builder: &Ident) -> TokenStream {
    let mut steps = Vec::new();
    if let Some(proto) = &options.proto {
        let proto_fn = Ident::new("proto", Span::mixed_site());
        // The annotation makes a prototype of the wrong type an error at
        // its path, naming the expected signature.
        steps.push(quote_spanned! {proto.span()=>
            let #proto_fn: fn(&mut ::mq::__private::JobBuilder) -> &mut ::mq::__private::JobBuilder = #proto;
            #proto_fn(#builder);
        });
    }
    if let Some(channel_name) = &options.channel_name {
        steps.push(quote!(#builder.set_channel_name(#channel_name);));
    }
    if let Some(retries) = &options.retries {
        let value = proc_macro2::Literal::u32_suffixed(retries.value);
        steps.push(quote_spanned!(retries.span=> #builder.set_retries(#value);));
    }
    if let Some(backoff) = &options.backoff_secs {
        let value = proc_macro2::Literal::f64_suffixed(backoff.value);
        steps.push(quote_spanned! {backoff.span=>
            #builder.set_retry_backoff(::core::time::Duration::from_secs_f64(#value));
        });
    }
    if let Some(max) = &options.backoff_max_secs {
        let value = proc_macro2::Literal::f64_suffixed(max.value);
        steps.push(quote_spanned! {max.span=>
            #builder.set_retry_backoff_max(::core::time::Duration::from_secs_f64(#value));
        });
    }
    if let Some(timeout) = &options.timeout_secs {
        let value = proc_macro2::Literal::f64_suffixed(timeout.value);
        steps.push(quote_spanned! {timeout.span=>
            #builder.set_timeout(::core::time::Duration::from_secs_f64(#value));
        });
    }
    if let Some(priority) = &options.priority {
        let value = proc_macro2::Literal::i16_suffixed(priority.value);
        steps.push(quote_spanned!(priority.span=> #builder.set_priority(#value);));
    }
    if let Some(jitter) = &options.jitter {
        let value = jitter.value;
        steps.push(quote_spanned!(jitter.span=> #builder.set_retry_jitter(#value);));
    }
    if let Some(ordered) = &options.ordered {
        let value = ordered.value;
        steps.push(quote_spanned!(ordered.span=> #builder.set_ordered(#value);));
    }
    if steps.is_empty() {
        quote!(|_: &mut ::mq::__private::JobBuilder| {})
    } else {
        quote! {
            |#builder: &mut ::mq::__private::JobBuilder| {
                #(#steps)*
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::parse_quote;

    use super::*;

    fn expand(args: TokenStream, item: Item) -> String {
        job(args, item).to_string()
    }

    #[test]
    fn a_job_becomes_a_constant_of_its_name() {
        let expanded = expand(
            quote!(retries = 2),
            parse_quote! {
                /// Docs.
                #[allow(unused_variables)]
                #[inline]
                pub(crate) async fn my_job(job: CurrentJob, greeting: &'static str)
                    -> Result<(), BoxError> { Ok(()) }
            },
        );
        assert!(
            expanded
                .contains("pub (crate) const my_job : & 'static :: mq :: __private :: NamedJob")
        );
        assert!(
            expanded.contains("async fn __mq_job_fn (job : CurrentJob , greeting : & 'static str)")
        );
        assert!(expanded.contains("\"my_job\""));
        assert!(expanded.contains("set_retries (2u32)"));
        assert!(expanded.contains("require_context :: < & 'static str >"));
        // Docs and lint levels on the constant, other attributes on the function.
        let constant = expanded.find("const my_job").unwrap();
        let function = expanded.find("async fn __mq_job_fn").unwrap();
        let docs = expanded.find("Docs.").unwrap();
        let allow = expanded.find("allow (unused_variables)").unwrap();
        let inline = expanded.find("# [inline]").unwrap();
        assert!(docs < constant && allow < constant);
        assert!(constant < inline && inline < function);
    }

    #[test]
    fn errors_come_with_a_placeholder_constant() {
        let expanded = expand(
            quote!(retries = "x"),
            parse_quote! {
                pub async fn my_job(job: CurrentJob) -> Result<(), BoxError> { Ok(()) }
            },
        );
        assert!(expanded.contains("compile_error !"));
        assert!(expanded.contains("pub const my_job"));
        // The signature is fine, so the function stays to be checked.
        assert!(expanded.contains("async fn __mq_job_fn"));

        let expanded = expand(
            quote!(),
            parse_quote! {
                pub fn my_job(job: CurrentJob) -> Result<(), BoxError> { Ok(()) }
            },
        );
        assert!(expanded.contains("compile_error !"));
        assert!(expanded.contains("pub const my_job"));
        assert!(expanded.contains("fn __mq_job_fn"));

        // A method cannot stand alone, so only the placeholder remains.
        let expanded = expand(
            quote!(),
            parse_quote! {
                pub async fn my_job(&self) -> Result<(), BoxError> { Ok(()) }
            },
        );
        assert!(expanded.contains("compile_error !"));
        assert!(expanded.contains("pub const my_job"));
        assert!(!expanded.contains("__mq_job_fn"));
    }

    #[test]
    fn other_items_are_refused_and_kept() {
        let expanded = expand(
            quote!(),
            parse_quote!(
                struct NotAJob;
            ),
        );
        assert!(expanded.contains("compile_error !"));
        assert!(expanded.contains("struct NotAJob ;"));
    }
}
