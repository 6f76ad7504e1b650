//! Checks the function under `#[job]` and reads what the expansion needs
//! from its signature.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned as _;
use syn::{FnArg, GenericArgument, ItemFn, PathArguments, ReturnType, Type};

/// A function that can be a job: `async`, not generic, taking its
/// `CurrentJob` first and context values after it, returning a `Result`.
pub(crate) struct JobFn {
    /// The function as written.
    pub item: ItemFn,
    /// The types of the context arguments, in order.
    pub context_types: Vec<Type>,
    /// Where to point errors about the return type not being a `Result`.
    pub output_span: Span,
    /// Where to point errors about the error type not converting into a
    /// `BoxError`: the `E` of `Result<(), E>` when it is written out.
    pub error_span: Span,
}

/// Gathers every problem with a signature, so that one compilation reports
/// them all.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    /// An error at `span`.
    fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.add(syn::Error::new(span, message));
    }

    /// An error covering all of `tokens`, first to last.
    fn push_spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.add(syn::Error::new_spanned(tokens, message));
    }

    fn add(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }
}

/// Checks `item` and splits its signature into what the expansion needs.
pub(crate) fn analyze(item: ItemFn) -> syn::Result<JobFn> {
    let mut errors = Errors::default();
    let sig = &item.sig;

    if let Some(constness) = &sig.constness {
        errors.push(constness.span, "a job function cannot be `const`");
    }
    if sig.asyncness.is_none() {
        errors.push(
            sig.fn_token.span,
            "a job function must be `async`: write `async fn` (a job runs as a future on the runner)",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(unsafety.span, "a job function cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.push_spanned(abi, "a job function cannot have an `extern` ABI");
    }
    if !sig.generics.params.is_empty() {
        errors.push_spanned(
            &sig.generics,
            "a job function cannot have generic parameters: the runner calls it with values it \
             looks up by their concrete types",
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.push_spanned(where_clause, "a job function cannot have a `where` clause");
    }
    if let Some(variadic) = &sig.variadic {
        errors.push_spanned(variadic, "a job function cannot be variadic");
    }

    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        None => errors.push(
            sig.paren_token.span.join(),
            "a job function takes its `CurrentJob` as the first parameter, as in \
             `async fn my_job(job: CurrentJob)`",
        ),
        Some(FnArg::Receiver(receiver)) => errors.push_spanned(
            receiver,
            "a job function cannot take `self`: its first parameter is the `CurrentJob`, as in \
             `async fn my_job(job: CurrentJob)`",
        ),
        Some(FnArg::Typed(first)) => {
            if !is_current_job(&first.ty) {
                errors.push_spanned(
                    &first.ty,
                    "the first parameter of a job function must be its `CurrentJob`, taken by \
                     value, as in `job: CurrentJob`",
                );
            }
        }
    }

    let mut context_types = Vec::new();
    for input in inputs {
        match input {
            // Only the first parameter can be a receiver; the parser refuses
            // one anywhere else, so this is for completeness.
            FnArg::Receiver(receiver) => {
                errors.push_spanned(receiver, "a job function cannot take `self`")
            }
            FnArg::Typed(argument) => {
                if let Type::ImplTrait(impl_trait) = strip_groups(&argument.ty) {
                    errors.push_spanned(
                        impl_trait,
                        "a context argument needs a concrete type: the registry looks context \
                         values up by type, so `impl Trait` cannot be resolved",
                    );
                }
                context_types.push((*argument.ty).clone());
            }
        }
    }

    let (output_span, error_span) = match &sig.output {
        ReturnType::Default => {
            errors.push(
                sig.ident.span(),
                "a job function must return `Result<(), E>`, where `E` converts into \
                 `Box<dyn Error + Send + Sync>`",
            );
            (sig.ident.span(), sig.ident.span())
        }
        ReturnType::Type(_, ty) => (ty.span(), error_type(ty).unwrap_or(ty).span()),
    };

    match errors.0 {
        Some(errors) => Err(errors),
        None => Ok(JobFn {
            item,
            context_types,
            output_span,
            error_span,
        }),
    }
}

/// Looks through the invisible groups a `macro_rules!` macro leaves around
/// a `$ty:ty`, and through parentheses.
fn strip_groups(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => strip_groups(&group.elem),
        Type::Paren(paren) => strip_groups(&paren.elem),
        other => other,
    }
}

/// Whether `ty` names `CurrentJob`, by the last segment of its path: the
/// type itself is checked by the compiler when the generated code passes a
/// `CurrentJob` to the function.
fn is_current_job(ty: &Type) -> bool {
    match strip_groups(ty) {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last().is_some_and(|last| {
            last.ident == "CurrentJob" && matches!(last.arguments, PathArguments::None)
        }),
        _ => false,
    }
}

/// The `E` of a return type written `Result<T, E>` (under any path).
fn error_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = strip_groups(ty) else {
        return None;
    };
    let last = path.path.segments.last()?;
    let PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    let mut types = arguments.args.iter().filter_map(|argument| match argument {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    match (types.next(), types.next(), types.next()) {
        (Some(_), Some(error), None) => Some(error),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::parse_quote;

    use super::*;

    fn error(item: ItemFn) -> String {
        match analyze(item) {
            Ok(_) => panic!("expected an error"),
            Err(errors) => errors
                .into_iter()
                .map(|error| error.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn context_types_follow_the_current_job() {
        let job = analyze(parse_quote! {
            async fn my_job(mut job: mq::CurrentJob, a: i32, (b, c): (u8, u8), _: &'static str)
                -> Result<(), BoxError> { Ok(()) }
        })
        .unwrap();
        let types: Vec<String> = job
            .context_types
            .iter()
            .map(|ty| quote!(#ty).to_string())
            .collect();
        assert_eq!(types, ["i32", "(u8 , u8)", "& 'static str"]);
    }

    #[test]
    fn current_job_is_recognized_by_its_last_segment() {
        assert!(is_current_job(&parse_quote!(CurrentJob)));
        assert!(is_current_job(&parse_quote!(::mq::CurrentJob)));
        assert!(!is_current_job(&parse_quote!(&mut CurrentJob)));
        assert!(!is_current_job(&parse_quote!(CurrentJob<T>)));
        assert!(!is_current_job(&parse_quote!(Job)));
    }

    #[test]
    fn the_error_type_is_found_in_a_result() {
        let find = |ty: Type| error_type(&ty).map(|ty| quote!(#ty).to_string());
        assert_eq!(
            find(parse_quote!(Result<(), MyError>)).as_deref(),
            Some("MyError")
        );
        assert_eq!(
            find(parse_quote!(std::result::Result<(), E>)).as_deref(),
            Some("E")
        );
        assert_eq!(find(parse_quote!(mq::Result<()>)), None);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let message = error(parse_quote! {
            unsafe fn my_job<T>(job: &CurrentJob, x: impl Clone) {}
        });
        assert!(message.contains("must be `async`"), "{message}");
        assert!(message.contains("cannot be `unsafe`"), "{message}");
        assert!(message.contains("generic parameters"), "{message}");
        assert!(message.contains("must be its `CurrentJob`"), "{message}");
        assert!(message.contains("`impl Trait`"), "{message}");
        assert!(message.contains("must return `Result<(), E>`"), "{message}");
    }

    #[test]
    fn a_job_needs_a_current_job() {
        assert!(
            error(parse_quote!(
                async fn my_job() -> Result<(), E> {
                    Ok(())
                }
            ))
            .contains("takes its `CurrentJob` as the first parameter")
        );
        assert!(
            error(parse_quote!(
                async fn my_job(&self) -> Result<(), E> {
                    Ok(())
                }
            ))
            .contains("cannot take `self`")
        );
        assert!(
            error(parse_quote!(
                async fn my_job(x: i32, job: CurrentJob) -> Result<(), E> {
                    Ok(())
                }
            ))
            .contains("must be its `CurrentJob`")
        );
    }

    #[test]
    fn where_clauses_and_const_are_refused() {
        assert!(
            error(parse_quote!(
                async fn my_job(job: CurrentJob) -> Result<(), E>
                where
                    E: Clone,
                {
                    Ok(())
                }
            ))
            .contains("`where` clause")
        );
        assert!(
            error(parse_quote!(
                const async fn my_job(job: CurrentJob) -> Result<(), E> {
                    Ok(())
                }
            ))
            .contains("cannot be `const`")
        );
        assert!(
            error(parse_quote!(
                async extern "C" fn my_job(job: CurrentJob) -> Result<(), E> {
                    Ok(())
                }
            ))
            .contains("`extern` ABI")
        );
    }
}
