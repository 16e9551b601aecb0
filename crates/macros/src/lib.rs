//! Attribute macros for the Switchboard MCP SDK: `#[handler]` on an impl block turns its
//! `#[tool]` and `#[prompt]` methods into a `Router`. Use them through `switchboard_mcp`
//! (feature `macros`, on by default), not from this crate directly.
//!
//! **Invariant:** the macros expand only to code a user could write by hand against the public
//! `switchboard_mcp` API: an args struct deriving `Deserialize` + `JsonSchema`, and an
//! `IntoRouter` impl calling `Router::typed_tool` and `Router::prompt`. Anything the macros do
//! can therefore be done without them, and nothing in the runtime knows they exist.
//!
//! The generated code names `::switchboard_mcp`, so the crate using the macros must depend on
//! `switchboard-mcp` under that name.

use proc_macro::TokenStream;

mod attrs;
mod expand;
#[cfg(test)]
mod tests;

/// Serves the `#[tool]` and `#[prompt]` methods of an impl block.
///
/// The impl block is kept as written (minus the helper attributes), and the type gets an
/// `IntoRouter` impl, so it can be passed to `ServerBuilder::router`. Methods without
/// `#[tool]` or `#[prompt]` are left alone.
///
/// ```
/// use switchboard_mcp::server::{IntoRouter, Json, RequestContext, ToolError};
///
/// #[derive(serde::Serialize, schemars::JsonSchema)]
/// struct Quotient { value: f64 }
///
/// struct Calculator;
///
/// #[switchboard_mcp::handler]
/// impl Calculator {
///     /// Adds two numbers.
///     #[tool(read_only, title = "Add")]
///     async fn add(&self, a: f64, b: f64) -> f64 { a + b }
///
///     /// Divides a by b.
///     #[tool(name = "divide")]
///     async fn div(&self, #[arg(description = "the dividend")] a: f64, b: f64, _ctx: RequestContext)
///         -> Result<Json<Quotient>, ToolError>
///     {
///         if b == 0.0 { return Err(ToolError::msg("division by zero")); }
///         Ok(Json(Quotient { value: a / b }))
///     }
///
///     /// Greets someone.
///     #[prompt]
///     async fn greet(&self, name: String, style: Option<String>) -> String {
///         format!("Say hi to {name} {}", style.unwrap_or_default())
///     }
/// }
///
/// let handler = Calculator.into_router().build().expect("valid schemas");
/// let tools = handler.tools();
/// let names: Vec<_> = tools.entries().iter().map(|t| t.tool().name.as_str()).collect();
/// assert_eq!(names, ["add", "divide"]);
/// assert_eq!(handler.prompts()[0].name, "greet");
/// ```
///
/// # What it generates
///
/// For each `#[tool]` method, a private struct with one field per argument (named and typed
/// like the parameter) deriving `Deserialize` and `JsonSchema`, registered with
/// `Router::typed_tool`: the input schema comes from that struct and the output schema from
/// the return type (`IntoToolResult::output_schema`). For each `#[prompt]` method, a `Prompt`
/// registered with `Router::prompt`. The value is shared as an `Arc<Self>`, so the type must be
/// `Send + Sync + 'static`.
///
/// # Parameters
///
/// After `&self`, every parameter is an argument, except one whose type is `RequestContext`
/// (or `&RequestContext`), which receives the request's context. Tool arguments may be any
/// owned type that is `Deserialize + JsonSchema`; an `Option<T>` argument is optional. Prompt
/// arguments must be `String` (required) or `Option<String>` (optional). Describe an argument
/// with `#[arg(description = "..")]`.
///
/// Arguments the method does not declare are ignored, not rejected.
///
/// # Limits
///
/// - One `#[handler]` impl block per type (each one implements `IntoRouter`); to combine
///   several, build their routers and `Router::merge` them.
/// - The args struct is local to the generated `into_router`, so argument types cannot name
///   `Self` or the impl's generic parameters (the methods themselves can use both freely).
/// - The generated code names `::switchboard_mcp`, so it does not work inside that crate.
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::handler(attr.into(), item.into()).into()
}

/// Marks a method of a [`macro@handler`] impl block as a tool.
///
/// The method must be an `async fn` taking `&self`; its return type must implement
/// `IntoToolResult` (strings, numbers, `bool`, `()`, content blocks, `Json<T>` for structured
/// output, `CallToolResult`, and `Result` of any of these). Its doc comment is the tool's
/// description.
///
/// | key | effect |
/// | --- | --- |
/// | `name = "..."` | the tool's name (default: the method's name) |
/// | `title = "..."` | a display title |
/// | `read_only` | `readOnlyHint: true` |
/// | `destructive` | `destructiveHint: true` |
/// | `idempotent` | `idempotentHint: true` |
/// | `open_world = bool` | `openWorldHint` (a bare `open_world` means `true`) |
///
/// Outside a `#[handler]` impl block it is an error:
///
/// ```compile_fail
/// struct Calculator;
///
/// impl Calculator {
///     #[switchboard_mcp::tool]
///     async fn add(&self, a: f64, b: f64) -> f64 { a + b }
/// }
/// ```
///
/// So are a method that is not `async`, or does not take `&self`, or an unknown key:
///
/// ```compile_fail
/// struct Calculator;
///
/// #[switchboard_mcp::handler]
/// impl Calculator {
///     #[tool]
///     fn add(&self, a: f64, b: f64) -> f64 { a + b }
/// }
/// ```
///
/// ```compile_fail
/// struct Calculator;
///
/// #[switchboard_mcp::handler]
/// impl Calculator {
///     #[tool]
///     async fn add(a: f64, b: f64) -> f64 { a + b }
/// }
/// ```
///
/// ```compile_fail
/// struct Calculator;
///
/// #[switchboard_mcp::handler]
/// impl Calculator {
///     #[tool(readonly)]
///     async fn add(&self, a: f64, b: f64) -> f64 { a + b }
/// }
/// ```
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    outside_handler("tool", attr, item)
}

/// Marks a method of a [`macro@handler`] impl block as a prompt.
///
/// The method must be an `async fn` taking `&self`; its arguments are `String` (required) or
/// `Option<String>` (optional), and it returns something implementing `IntoPromptResult` (a
/// `String` becomes one user message). Its doc comment is the prompt's description.
///
/// | key | effect |
/// | --- | --- |
/// | `name = "..."` | the prompt's name (default: the method's name) |
/// | `title = "..."` | a display title |
///
/// Any other argument type is an error:
///
/// ```compile_fail
/// struct Prompts;
///
/// #[switchboard_mcp::handler]
/// impl Prompts {
///     #[prompt]
///     async fn repeat(&self, times: u32) -> String { "again ".repeat(times as usize) }
/// }
/// ```
#[proc_macro_attribute]
pub fn prompt(attr: TokenStream, item: TokenStream) -> TokenStream {
    outside_handler("prompt", attr, item)
}

/// `#[tool]` and `#[prompt]` only mean something to `#[handler]`, which removes them before
/// they expand; reaching this means there was no `#[handler]`. The item is kept so the error is
/// the only one.
fn outside_handler(name: &str, attr: TokenStream, item: TokenStream) -> TokenStream {
    let _ = attr;
    let message = format!(
        "`#[{name}]` only works on a method inside a `#[handler]` impl block: add `#[switchboard_mcp::handler]` to the impl"
    );
    let error = syn::Error::new(proc_macro2::Span::call_site(), message).to_compile_error();
    let item = proc_macro2::TokenStream::from(item);
    quote::quote!(#error #item).into()
}
