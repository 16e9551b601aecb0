//! Unit tests of the pure helpers: doc-comment joining, tool-name rules and parameter
//! classification. The expansion itself is tested end to end in `tests/it`.

use syn::parse_quote;

use crate::attrs::{doc_string, is_valid_tool_name};
use crate::expand::{context_kind, prompt_arg_required};

#[test]
fn doc_strings() {
    let check = |attrs: Vec<syn::Attribute>, expect: &str| assert_eq!(doc_string(&attrs), expect);
    check(vec![], "");
    check(vec![parse_quote!(#[doc = " Adds two numbers."])], "Adds two numbers.");
    check(
        vec![parse_quote!(#[doc = " One."]), parse_quote!(#[doc = ""]), parse_quote!(#[doc = "  Two, indented. "])],
        "One.\n\n Two, indented.",
    );
    check(vec![parse_quote!(#[doc = "\n Block\n comment.\n"])], "Block\ncomment.");
    check(vec![parse_quote!(#[inline]), parse_quote!(#[doc = include_str!("x.md")])], "");
}

#[test]
fn tool_names() {
    for ok in ["add", "a.b-c_D9", &"x".repeat(128)] {
        assert!(is_valid_tool_name(ok), "{ok}");
    }
    for bad in ["", "has space", "café", &"x".repeat(129)] {
        assert!(!is_valid_tool_name(bad), "{bad}");
    }
}

#[test]
fn context_parameters() {
    let check = |ty: syn::Type, expect: Option<bool>| assert_eq!(context_kind(&ty), expect);
    check(parse_quote!(RequestContext), Some(false));
    check(parse_quote!(switchboard_mcp::server::RequestContext), Some(false));
    check(parse_quote!(&RequestContext), Some(true));
    check(parse_quote!(&&RequestContext), None);
    check(parse_quote!(&mut RequestContext), None);
    check(parse_quote!(Option<RequestContext>), None);
    check(parse_quote!(String), None);
}

#[test]
fn prompt_arguments() {
    let check = |ty: syn::Type, expect: Option<bool>| assert_eq!(prompt_arg_required(&ty), expect);
    check(parse_quote!(String), Some(true));
    check(parse_quote!(std::string::String), Some(true));
    check(parse_quote!(Option<String>), Some(false));
    check(parse_quote!(Option<Option<String>>), None);
    check(parse_quote!(u32), None);
    check(parse_quote!(&str), None);
}
