//! Handlers written with the macros, exactly as a user would write them.

use switchboard_mcp::protocol::prompts::PromptMessage;
use switchboard_mcp::server::{Json, RequestContext, ToolError};

#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Quotient {
    value: f64,
}

pub(crate) struct Calculator {
    pub(crate) precision: u32,
}

#[switchboard_mcp::handler]
impl Calculator {
    /// Adds two numbers.
    #[tool(read_only, title = "Add")]
    async fn add(&self, a: f64, b: f64) -> f64 {
        a + b
    }

    /// Divides a by b.
    #[tool(name = "divide")]
    async fn div(
        &self,
        #[arg(description = "the dividend")] a: f64,
        b: f64,
        ctx: RequestContext,
    ) -> Result<Json<Quotient>, ToolError> {
        if b == 0.0 {
            return Err(ToolError::msg("division by zero"));
        }
        let _ = ctx.protocol_version();
        Ok(Json(Quotient { value: a / b }))
    }

    /// Greets someone.
    #[prompt(name = "greet")]
    async fn greet(&self, name: String, style: Option<String>) -> String {
        format!("Say hi to {name} {}", style.unwrap_or_default())
    }

    // Methods without #[tool]/#[prompt] are left untouched.
    fn helper(&self) -> u32 {
        self.precision
    }
}

impl Calculator {
    /// Reached only through the untouched `helper`.
    pub(crate) fn precision(&self) -> u32 {
        self.helper()
    }
}

/// The less common shapes: no arguments, optional and raw-named arguments, a borrowed context,
/// every annotation, prompts with a context and with a message list.
pub(crate) struct Extras;

#[switchboard_mcp::handler]
impl Extras {
    /// Says nothing.
    ///
    /// Second paragraph.
    #[tool(destructive, idempotent, open_world = false)]
    async fn noop(&self) {}

    /// Echoes a word.
    #[tool(open_world)]
    async fn echo(
        &self,
        #[arg(description = "what to echo")] r#type: String,
        times: Option<u32>,
        _ctx: &RequestContext,
    ) -> String {
        r#type.repeat(times.unwrap_or(1) as usize)
    }

    #[prompt(title = "Review")]
    async fn review(&self, #[arg(description = "the code")] code: String, _ctx: RequestContext) -> Vec<PromptMessage> {
        vec![PromptMessage {
            role: switchboard_mcp::protocol::content::Role::User,
            content: switchboard_mcp::protocol::content::ContentBlock::text(format!("review: {code}")),
        }]
    }

    /// Takes nothing.
    #[prompt]
    async fn plain(&self) -> Result<String, ToolError> {
        Ok("plain".to_owned())
    }
}

/// A generic handler: the impl's generics carry over to the generated `IntoRouter` impl.
pub(crate) struct Labelled<T>(pub(crate) T);

#[switchboard_mcp::handler]
impl<T: std::fmt::Display + Send + Sync + 'static> Labelled<T> {
    /// Labels a value.
    #[tool]
    async fn label(&self, value: i64) -> String {
        format!("{}: {value}", self.0)
    }
}
