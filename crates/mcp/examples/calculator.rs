//! The README's calculator: a complete MCP server over stdio.
use switchboard_mcp::server::{Server, ToolError};

struct Calculator;

#[switchboard_mcp::handler]
impl Calculator {
    /// Adds two numbers.
    #[tool(read_only)]
    async fn add(&self, a: f64, b: f64) -> f64 {
        a + b
    }

    /// Divides a by b.
    #[tool(read_only)]
    async fn divide(&self, a: f64, b: f64) -> Result<f64, ToolError> {
        if b == 0.0 {
            return Err(ToolError::msg("cannot divide by zero"));
        }
        Ok(a / b)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    Server::builder("calculator", "1.0.0").router(Calculator)?.build().serve_stdio().await?;
    Ok(())
}
