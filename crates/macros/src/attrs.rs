//! Parsing of the helper attributes `#[tool(..)]`, `#[prompt(..)]` and `#[arg(..)]`, and of doc
//! comments. Everything here only reads tokens; code generation lives in `expand.rs`.

use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, LitBool, LitStr, Meta};

/// The keys of `#[tool(..)]`.
#[derive(Default)]
pub(crate) struct ToolAttrs {
    pub(crate) name: Option<LitStr>,
    pub(crate) title: Option<LitStr>,
    pub(crate) read_only: bool,
    pub(crate) destructive: bool,
    pub(crate) idempotent: bool,
    pub(crate) open_world: Option<LitBool>,
}

/// The keys of `#[prompt(..)]`.
#[derive(Default)]
pub(crate) struct PromptAttrs {
    pub(crate) name: Option<LitStr>,
    pub(crate) title: Option<LitStr>,
}

/// The keys of `#[arg(..)]`.
#[derive(Default)]
pub(crate) struct ArgAttrs {
    pub(crate) description: Option<LitStr>,
}

const TOOL_KEYS: &str = "name, title, read_only, destructive, idempotent, open_world";
const PROMPT_KEYS: &str = "name, title";
const ARG_KEYS: &str = "description";

impl ToolAttrs {
    pub(crate) fn parse(attr: &Attribute) -> syn::Result<Self> {
        let mut out = Self::default();
        for_each_key(attr, |meta| {
            let key = key_of(&meta)?;
            match key.as_str() {
                "name" => set_once(&meta, &mut out.name, meta.value()?.parse()?),
                "title" => set_once(&meta, &mut out.title, meta.value()?.parse()?),
                "read_only" => set_flag(&meta, &mut out.read_only),
                "destructive" => set_flag(&meta, &mut out.destructive),
                "idempotent" => set_flag(&meta, &mut out.idempotent),
                "open_world" => {
                    // A bare `open_world` means `open_world = true`.
                    let value = if meta.input.peek(syn::Token![=]) {
                        meta.value()?.parse()?
                    } else {
                        LitBool::new(true, meta.path.span())
                    };
                    set_once(&meta, &mut out.open_world, value)
                }
                _ => Err(unknown_key(&meta, "tool", &key, TOOL_KEYS)),
            }
        })?;
        Ok(out)
    }
}

impl PromptAttrs {
    pub(crate) fn parse(attr: &Attribute) -> syn::Result<Self> {
        let mut out = Self::default();
        for_each_key(attr, |meta| {
            let key = key_of(&meta)?;
            match key.as_str() {
                "name" => set_once(&meta, &mut out.name, meta.value()?.parse()?),
                "title" => set_once(&meta, &mut out.title, meta.value()?.parse()?),
                _ => Err(unknown_key(&meta, "prompt", &key, PROMPT_KEYS)),
            }
        })?;
        Ok(out)
    }
}

impl ArgAttrs {
    pub(crate) fn parse(attr: &Attribute) -> syn::Result<Self> {
        let mut out = Self::default();
        for_each_key(attr, |meta| {
            let key = key_of(&meta)?;
            match key.as_str() {
                "description" => set_once(&meta, &mut out.description, meta.value()?.parse()?),
                _ => Err(unknown_key(&meta, "arg", &key, ARG_KEYS)),
            }
        })?;
        Ok(out)
    }
}

/// Runs `f` on each `key` / `key = value` of `#[attr(..)]`; a bare `#[attr]` has no keys.
fn for_each_key(attr: &Attribute, f: impl FnMut(ParseNestedMeta<'_>) -> syn::Result<()>) -> syn::Result<()> {
    match &attr.meta {
        Meta::Path(_) => Ok(()),
        Meta::List(_) => attr.parse_nested_meta(f),
        Meta::NameValue(nv) => Err(syn::Error::new_spanned(
            nv,
            format!("expected `#[{0}]` or `#[{0}(key = value, ..)]`", last_segment(attr).unwrap_or_default()),
        )),
    }
}

fn key_of(meta: &ParseNestedMeta<'_>) -> syn::Result<String> {
    meta.path.get_ident().map(ToString::to_string).ok_or_else(|| meta.error("expected a key, not a path"))
}

fn set_once<T>(meta: &ParseNestedMeta<'_>, slot: &mut Option<T>, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error("this key is given twice"));
    }
    *slot = Some(value);
    Ok(())
}

fn set_flag(meta: &ParseNestedMeta<'_>, slot: &mut bool) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        return Err(meta.error("this flag takes no value: write just the key"));
    }
    if *slot {
        return Err(meta.error("this key is given twice"));
    }
    *slot = true;
    Ok(())
}

fn unknown_key(meta: &ParseNestedMeta<'_>, attr: &str, key: &str, expected: &str) -> syn::Error {
    syn::Error::new_spanned(&meta.path, format!("unknown `#[{attr}]` key `{key}`; expected one of: {expected}"))
}

/// The name of an attribute's last path segment (`tool` for both `#[tool]` and
/// `#[switchboard_mcp::tool]`).
pub(crate) fn last_segment(attr: &Attribute) -> Option<String> {
    attr.path().segments.last().map(|s| s.ident.to_string())
}

/// The text of the doc comments among `attrs`: lines joined with `\n`, the one space rustdoc
/// puts after `///` removed, and the whole trimmed. Non-literal docs (`include_str!`) are skipped.
pub(crate) fn doc_string(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        let Meta::NameValue(nv) = &attr.meta else { continue };
        if !nv.path.is_ident("doc") {
            continue;
        }
        let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) = &nv.value else { continue };
        // `split`, not `lines`: an empty `///` line is a paragraph break and must stay.
        for line in s.value().split('\n') {
            lines.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned());
        }
    }
    lines.join("\n").trim().to_owned()
}

/// Whether `name` is a valid MCP tool name: 1-128 characters from `A-Z a-z 0-9 _ - .`.
pub(crate) fn is_valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
