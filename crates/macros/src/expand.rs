//! The `#[handler]` expansion: read the `#[tool]` and `#[prompt]` methods of an impl block,
//! strip their helper attributes, and generate an `IntoRouter` impl that registers each of them
//! on a `Router` through its public API (`typed_tool` and `prompt`).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, GenericParam, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, ReturnType, Type};

use crate::attrs::{doc_string, is_valid_tool_name, last_segment, ArgAttrs, PromptAttrs, ToolAttrs};

/// What a method is registered as.
enum Kind {
    Tool(ToolAttrs),
    Prompt(PromptAttrs),
}

/// A `#[tool]` or `#[prompt]` method, as far as the expansion needs it.
struct Method {
    ident: Ident,
    kind: Kind,
    doc: String,
    params: Vec<Param>,
    /// Where errors about the return value should point.
    output_span: Span,
}

/// One parameter after `&self`.
struct Param {
    ident: Ident,
    ty: Type,
    role: Role,
}

enum Role {
    /// A tool or prompt argument.
    Arg { description: Option<LitStr> },
    /// The `RequestContext`, by value or by reference.
    Context { by_ref: bool },
}

/// Accumulates errors so that one expansion reports all of them.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(e) => e.combine(error),
            None => self.0 = Some(error),
        }
    }
}

/// Expands `#[handler]` on `item`.
pub(crate) fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    if !attr.is_empty() {
        errors.push(syn::Error::new_spanned(&attr, "`#[handler]` takes no arguments"));
    }
    let mut item: ItemImpl = match syn::parse2(item) {
        Ok(item) => item,
        Err(e) => {
            let mut e = syn::Error::new(e.span(), format!("`#[handler]` goes on an inherent impl block: {e}"));
            if let Some(first) = errors.0 {
                e.combine(first);
            }
            return e.to_compile_error();
        }
    };
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            "`#[handler]` goes on an inherent impl block (`impl MyServer { .. }`), not on a trait impl",
        ));
    }

    let mut methods = Vec::new();
    for impl_item in &mut item.items {
        if let ImplItem::Fn(f) = impl_item {
            if let Some(method) = analyze(f, &mut errors) {
                methods.push(method);
            }
        }
    }
    check_duplicate_names(&methods, &mut errors);

    let into_router = match errors.0 {
        None => into_router(&item, &methods),
        Some(e) => {
            // Still implement `IntoRouter` (registering nothing), so that the errors above are
            // not followed by a cascade of "IntoRouter is not implemented" at every use.
            let stub = into_router(&item, &[]);
            let e = e.to_compile_error();
            quote!(#e #stub)
        }
    };
    quote!(#item #into_router)
}

/// Reads one method, removing its `#[tool]`/`#[prompt]`/`#[arg]` attributes. `None` if it is
/// neither a tool nor a prompt, or if it is malformed (then `errors` says why).
fn analyze(f: &mut ImplItemFn, errors: &mut Errors) -> Option<Method> {
    let mut markers = Vec::new();
    f.attrs.retain(|attr| match last_segment(attr).as_deref() {
        Some("tool" | "prompt") => {
            markers.push(attr.clone());
            false
        }
        _ => true,
    });
    let arg_attrs = take_arg_attrs(f);

    let Some(marker) = markers.first() else {
        for (attr, _) in arg_attrs.iter().flat_map(|(_, a)| a) {
            errors.push(syn::Error::new_spanned(
                attr,
                "`#[arg]` only goes on parameters of `#[tool]` or `#[prompt]` methods",
            ));
        }
        return None;
    };
    if let Some(extra) = markers.get(1) {
        errors.push(syn::Error::new_spanned(extra, "a method is either one `#[tool]` or one `#[prompt]`"));
        return None;
    }
    let is_tool = last_segment(marker).as_deref() == Some("tool");
    let what = if is_tool { "#[tool]" } else { "#[prompt]" };
    let kind =
        if is_tool { ToolAttrs::parse(marker).map(Kind::Tool) } else { PromptAttrs::parse(marker).map(Kind::Prompt) };
    let kind = kind.map_err(|e| errors.push(e)).ok();

    let sig = &f.sig;
    let mut ok = kind.is_some();
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(sig.fn_token, format!("a `{what}` method must be `async fn`")));
        ok = false;
    }
    if let Some(param) = sig.generics.params.iter().find(|p| !matches!(p, GenericParam::Lifetime(_))) {
        errors.push(syn::Error::new_spanned(param, format!("a `{what}` method cannot have type or const parameters")));
        ok = false;
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() && r.colon_token.is_none() => {}
        Some(FnArg::Receiver(r)) => {
            errors.push(syn::Error::new_spanned(r, format!("a `{what}` method must take `&self`")));
            ok = false;
        }
        _ => {
            errors.push(syn::Error::new_spanned(
                &sig.ident,
                format!("a `{what}` method must take `&self` as its first parameter"),
            ));
            ok = false;
        }
    }

    let mut params = Vec::new();
    let mut context_seen = false;
    for (input, (_, args)) in sig.inputs.iter().filter(|i| matches!(i, FnArg::Typed(_))).zip(&arg_attrs) {
        let FnArg::Typed(pt) = input else { continue };
        let mut description = None;
        for (attr, parsed) in args {
            match parsed {
                Ok(a) if description.is_none() => description = a.description.clone(),
                Ok(_) => errors.push(syn::Error::new_spanned(attr, "one `#[arg]` per parameter")),
                Err(e) => errors.push(e.clone()),
            }
        }
        let ident = match &*pt.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
            other => {
                errors.push(syn::Error::new_spanned(
                    other,
                    format!("a `{what}` parameter must be a plain name: it becomes the argument's name"),
                ));
                ok = false;
                continue;
            }
        };
        let role = match context_kind(&pt.ty) {
            Some(by_ref) => {
                if let Some((attr, _)) = args.first() {
                    errors.push(syn::Error::new_spanned(attr, "the `RequestContext` parameter is not an argument"));
                }
                if context_seen {
                    errors.push(syn::Error::new_spanned(&pt.ty, "only one `RequestContext` parameter is allowed"));
                    ok = false;
                }
                context_seen = true;
                Role::Context { by_ref }
            }
            None => Role::Arg { description },
        };
        if let (Role::Arg { .. }, Type::Reference(_) | Type::ImplTrait(_)) = (&role, &*pt.ty) {
            errors.push(syn::Error::new_spanned(
                &pt.ty,
                "arguments are deserialized from the request, so they must be owned types (`String`, not `&str`)",
            ));
            ok = false;
        }
        params.push(Param { ident, ty: (*pt.ty).clone(), role });
    }

    let output_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    let kind = kind?;
    let method = Method { ident: sig.ident.clone(), kind, doc: doc_string(&f.attrs), params, output_span };
    if let Kind::Prompt(_) = &method.kind {
        for p in &method.params {
            if matches!(p.role, Role::Arg { .. }) && prompt_arg_required(&p.ty).is_none() {
                errors.push(syn::Error::new_spanned(
                    &p.ty,
                    "prompt arguments are strings: use `String` (required) or `Option<String>` (optional)",
                ));
                ok = false;
            }
        }
    }
    ok.then_some(method)
}

type ParsedArgAttrs = Vec<(syn::Attribute, syn::Result<ArgAttrs>)>;

/// Removes the `#[arg]` attributes from every typed parameter of `f`, returning them in
/// parameter order (one entry per typed parameter).
fn take_arg_attrs(f: &mut ImplItemFn) -> Vec<(usize, ParsedArgAttrs)> {
    let mut out = Vec::new();
    for (i, input) in f.sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(pt) = input else { continue };
        let mut found = Vec::new();
        pt.attrs.retain(|attr| {
            if last_segment(attr).as_deref() == Some("arg") {
                found.push((attr.clone(), ArgAttrs::parse(attr)));
                false
            } else {
                true
            }
        });
        out.push((i, found));
    }
    out
}

/// `Some(by_ref)` if `ty` is `RequestContext` or `&RequestContext` (any path ending in it).
pub(crate) fn context_kind(ty: &Type) -> Option<bool> {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => context_kind(&r.elem).filter(|by_ref| !by_ref).map(|_| true),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            (last.ident == "RequestContext" && last.arguments.is_empty()).then_some(false)
        }
        Type::Paren(p) => context_kind(&p.elem),
        Type::Group(g) => context_kind(&g.elem),
        _ => None,
    }
}

/// For a prompt argument: `Some(true)` for `String`, `Some(false)` for `Option<String>`, `None`
/// for anything else.
pub(crate) fn prompt_arg_required(ty: &Type) -> Option<bool> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident == "String" && last.arguments.is_empty() {
        return Some(true);
    }
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    match args.args.first() {
        Some(syn::GenericArgument::Type(inner)) if args.args.len() == 1 && prompt_arg_required(inner) == Some(true) => {
            Some(false)
        }
        _ => None,
    }
}

impl Method {
    /// The registered name: `name = ".."` or the method's name.
    fn name(&self) -> LitStr {
        let explicit = match &self.kind {
            Kind::Tool(a) => a.name.clone(),
            Kind::Prompt(a) => a.name.clone(),
        };
        explicit.unwrap_or_else(|| LitStr::new(&self.ident.unraw().to_string(), self.ident.span()))
    }

    fn is_tool(&self) -> bool {
        matches!(self.kind, Kind::Tool(_))
    }
}

fn check_duplicate_names(methods: &[Method], errors: &mut Errors) {
    for (i, m) in methods.iter().enumerate() {
        let name = m.name();
        if m.is_tool() && !is_valid_tool_name(&name.value()) {
            errors.push(syn::Error::new_spanned(
                &name,
                format!("tool name {:?} is invalid: use 1-128 characters from A-Z a-z 0-9 _ - .", name.value()),
            ));
        }
        let what = if m.is_tool() { "tool" } else { "prompt" };
        if methods[..i].iter().any(|o| o.is_tool() == m.is_tool() && o.name().value() == name.value()) {
            errors.push(syn::Error::new_spanned(&name, format!("{what} {:?} is defined twice", name.value())));
        }
    }
}

/// `impl IntoRouter for Self { .. }`, registering `methods`.
fn into_router(item: &ItemImpl, methods: &[Method]) -> TokenStream {
    let self_ty = &item.self_ty;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let mut predicates: Vec<TokenStream> =
        where_clause.map(|w| w.predicates.iter().map(ToTokens::to_token_stream).collect()).unwrap_or_default();
    // The handler is shared by every request, on any thread.
    predicates.push(quote_spanned!(self_ty.span()=> #self_ty: ::core::marker::Send + ::core::marker::Sync + 'static));

    let body = if methods.is_empty() {
        quote! {
            let _ = self;
            ::switchboard_mcp::server::Router::new()
        }
    } else {
        let registrations = methods.iter().map(|m| if m.is_tool() { register_tool(m) } else { register_prompt(m) });
        quote! {
            let this = ::std::sync::Arc::new(self);
            let router = ::switchboard_mcp::server::Router::new();
            #( let router = #registrations; )*
            router
        }
    };
    quote! {
        impl #impl_generics ::switchboard_mcp::server::IntoRouter for #self_ty where #(#predicates),* {
            fn into_router(self) -> ::switchboard_mcp::server::Router {
                #body
            }
        }
    }
}

/// The call's arguments, in parameter order: `args.a`, `ctx`, ...
fn call_args(m: &Method, args: impl Fn(&Param) -> TokenStream) -> Vec<TokenStream> {
    m.params
        .iter()
        .map(|p| match p.role {
            Role::Context { by_ref: false } => quote!(ctx),
            Role::Context { by_ref: true } => quote!(&ctx),
            Role::Arg { .. } => args(p),
        })
        .collect()
}

fn ctx_param(m: &Method) -> TokenStream {
    if m.params.iter().any(|p| matches!(p.role, Role::Context { .. })) {
        quote!(ctx)
    } else {
        quote!(_ctx)
    }
}

/// `{ struct __SwitchboardArgs {..} router.typed_tool(info, closure) }`.
fn register_tool(m: &Method) -> TokenStream {
    let Kind::Tool(attrs) = &m.kind else { return TokenStream::new() };
    let name = m.name();
    let doc = &m.doc;
    let ident = &m.ident;

    let mut info = quote!(::switchboard_mcp::server::ToolInfo::new(#name, #doc));
    if let Some(title) = &attrs.title {
        info = quote!(#info.title(#title));
    }
    if attrs.read_only {
        info = quote!(#info.read_only());
    }
    if attrs.destructive {
        info = quote!(#info.destructive());
    }
    if attrs.idempotent {
        info = quote!(#info.idempotent());
    }
    if let Some(open) = &attrs.open_world {
        info = quote!(#info.open_world(#open));
    }

    let fields = m.params.iter().filter_map(|p| {
        let Role::Arg { description } = &p.role else { return None };
        let (field, ty) = (&p.ident, &p.ty);
        let description = description.as_ref().map(|d| quote!(#[schemars(description = #d)]));
        Some(quote!(#description #field: #ty))
    });
    let args = call_args(m, |p| {
        let field = &p.ident;
        quote!(args.#field)
    });
    let ctx = ctx_param(m);
    let args_param =
        if m.params.iter().any(|p| matches!(p.role, Role::Arg { .. })) { quote!(args) } else { quote!(_args) };
    let typed_tool = quote_spanned!(m.output_span=> typed_tool);
    quote! {{
        #[derive(::switchboard_mcp::__private::serde::Deserialize, ::switchboard_mcp::__private::schemars::JsonSchema)]
        #[serde(crate = "::switchboard_mcp::__private::serde")]
        #[schemars(crate = "::switchboard_mcp::__private::schemars")]
        struct __SwitchboardArgs { #(#fields,)* }

        let this = ::std::sync::Arc::clone(&this);
        router.#typed_tool(#info, move |#args_param: __SwitchboardArgs, #ctx: ::switchboard_mcp::server::RequestContext| {
            let this = ::std::sync::Arc::clone(&this);
            async move { <Self>::#ident(&this, #(#args),*).await }
        })
    }}
}

/// `router.prompt(Prompt {..}, closure)`.
fn register_prompt(m: &Method) -> TokenStream {
    let Kind::Prompt(attrs) = &m.kind else { return TokenStream::new() };
    let name = m.name();
    let ident = &m.ident;
    let some_string = |s: Option<TokenStream>| match s {
        Some(s) => quote!(::core::option::Option::Some(::std::string::String::from(#s))),
        None => quote!(::core::option::Option::None),
    };
    let title = some_string(attrs.title.as_ref().map(ToTokens::to_token_stream));
    let doc = &m.doc;
    let description = some_string((!doc.is_empty()).then(|| quote!(#doc)));

    let mut arguments = Vec::new();
    let mut extract = Vec::new();
    for p in &m.params {
        let Role::Arg { description } = &p.role else { continue };
        let required = prompt_arg_required(&p.ty) == Some(true);
        let arg_name = p.ident.unraw().to_string();
        let description = some_string(description.as_ref().map(ToTokens::to_token_stream));
        arguments.push(quote! {
            ::switchboard_mcp::protocol::prompts::PromptArgument {
                name: ::std::string::String::from(#arg_name),
                title: ::core::option::Option::None,
                description: #description,
                required: ::core::option::Option::Some(#required),
            }
        });
        let var = format_ident!("arg_{}", p.ident.unraw());
        extract.push(if required {
            let missing = format!("missing required argument `{arg_name}`");
            quote! {
                let ::core::option::Option::Some(#var) = args.remove(#arg_name) else {
                    return ::core::result::Result::Err(::switchboard_mcp::server::HandlerError::invalid_params(#missing));
                };
            }
        } else {
            quote!(let #var = args.remove(#arg_name);)
        });
    }
    let arguments = if arguments.is_empty() {
        quote!(::core::option::Option::None)
    } else {
        quote!(::core::option::Option::Some(::std::vec![#(#arguments),*]))
    };
    let args_param = if extract.is_empty() { quote!(_args) } else { quote!(mut args) };
    let call = call_args(m, |p| {
        let var = format_ident!("arg_{}", p.ident.unraw());
        quote!(#var)
    });
    let ctx = ctx_param(m);
    // Spanned at the return type, so a type that is not `IntoPromptResult` is reported there.
    let convert =
        quote_spanned!(m.output_span=> ::switchboard_mcp::server::IntoPromptResult::into_prompt_result(result));
    quote! {{
        let this = ::std::sync::Arc::clone(&this);
        router.prompt(
            ::switchboard_mcp::protocol::prompts::Prompt {
                name: ::std::string::String::from(#name),
                title: #title,
                description: #description,
                arguments: #arguments,
                icons: ::core::option::Option::None,
                meta: ::core::option::Option::None,
            },
            move |#args_param: ::std::collections::BTreeMap<::std::string::String, ::std::string::String>,
                  #ctx: ::switchboard_mcp::server::RequestContext| {
                let this = ::std::sync::Arc::clone(&this);
                async move {
                    #(#extract)*
                    let result = <Self>::#ident(&this, #(#call),*).await;
                    #convert
                }
            },
        )
    }}
}
