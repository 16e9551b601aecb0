//! What the expansion registers: each definition, serialized as a client would receive it.

use serde_json::{json, Value};
use switchboard_mcp::server::{Catalog, IntoRouter};

use crate::fixtures::{Calculator, Extras};

fn build(router: impl IntoRouter) -> Catalog {
    router.into_router().build().expect("the generated schemas compile")
}

/// Every tool of `handler`, in registration order, as JSON.
fn tools(handler: &Catalog) -> Vec<Value> {
    handler.tools().entries().iter().map(|e| serde_json::to_value(e.tool()).expect("a tool serializes")).collect()
}

/// Every prompt of `handler`, in registration order, as JSON.
fn prompts(handler: &Catalog) -> Vec<Value> {
    handler.prompts().iter().map(|p| serde_json::to_value(p).expect("a prompt serializes")).collect()
}

#[test]
fn calculator_tools() {
    let handler = build(Calculator { precision: 2 });
    let number = json!({ "type": "number", "format": "double" });
    assert_eq!(
        tools(&handler),
        [
            json!({
                "name": "add",
                "title": "Add",
                "description": "Adds two numbers.",
                "inputSchema": {
                    "type": "object",
                    "properties": { "a": number, "b": number },
                    "required": ["a", "b"],
                },
                "annotations": { "readOnlyHint": true },
            }),
            json!({
                "name": "divide",
                "description": "Divides a by b.",
                "inputSchema": {
                    "type": "object",
                    "properties": {
                        "a": { "type": "number", "format": "double", "description": "the dividend" },
                        "b": number,
                    },
                    "required": ["a", "b"],
                },
                "outputSchema": {
                    "type": "object",
                    "properties": { "value": number },
                    "required": ["value"],
                },
            }),
        ]
    );
}

#[test]
fn calculator_prompt() {
    let handler = build(Calculator { precision: 2 });
    assert_eq!(
        prompts(&handler),
        [json!({
            "name": "greet",
            "description": "Greets someone.",
            "arguments": [
                { "name": "name", "required": true },
                { "name": "style", "required": false },
            ],
        })]
    );
}

#[test]
fn untouched_methods_still_work() {
    assert_eq!(Calculator { precision: 3 }.precision(), 3);
}

#[test]
fn extras_tools() {
    let handler = build(Extras);
    assert_eq!(
        tools(&handler),
        [
            json!({
                "name": "noop",
                "description": "Says nothing.\n\nSecond paragraph.",
                "inputSchema": { "type": "object" },
                "annotations": { "destructiveHint": true, "idempotentHint": true, "openWorldHint": false },
            }),
            json!({
                "name": "echo",
                "description": "Echoes a word.",
                "inputSchema": {
                    "type": "object",
                    "properties": {
                        "type": { "type": "string", "description": "what to echo" },
                        "times": { "type": ["integer", "null"], "format": "uint32", "minimum": 0 },
                    },
                    "required": ["type"],
                },
                "annotations": { "openWorldHint": true },
            }),
        ]
    );
}

#[test]
fn extras_prompts() {
    let handler = build(Extras);
    assert_eq!(
        prompts(&handler),
        [
            json!({
                "name": "review",
                "title": "Review",
                "arguments": [{ "name": "code", "description": "the code", "required": true }],
            }),
            json!({ "name": "plain", "description": "Takes nothing." }),
        ]
    );
}
