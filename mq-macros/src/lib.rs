//! The `#[job]` attribute of mq (placeholder until the expansion lands).
use proc_macro::TokenStream;

/// Declares a job function.
#[proc_macro_attribute]
pub fn job(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
