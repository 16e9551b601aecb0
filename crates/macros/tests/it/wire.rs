//! Calls over a real connection: the router served on an in-memory pipe, spoken to in
//! newline-delimited JSON-RPC like any client would.

use serde_json::{json, Value};
use switchboard_mcp::protocol::ProtocolVersion;
use switchboard_mcp::server::{IntoRouter, Server};
use switchboard_mcp::transport::stdio::{LineReader, LineWriter};
use switchboard_testkit::schema::SchemaValidator;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf};

use crate::fixtures::{Calculator, Extras, Labelled};

/// The client end of a served connection.
struct Client {
    lines: Lines<BufReader<ReadHalf<DuplexStream>>>,
    writer: WriteHalf<DuplexStream>,
    next_id: u64,
}

impl Client {
    fn serve(router: impl IntoRouter) -> Self {
        let server = Server::builder("calc", "1.0.0").router(router).expect("the router builds").build();
        let (client, server_end) = tokio::io::duplex(64 * 1024);
        let (server_read, server_write) = tokio::io::split(server_end);
        tokio::spawn(async move {
            server
                .serve(LineReader::new(tokio::io::BufReader::new(server_read), 1 << 20), LineWriter::new(server_write))
                .await
        });
        let (read, writer) = tokio::io::split(client);
        Client { lines: BufReader::new(read).lines(), writer, next_id: 1 }
    }

    /// Sends a modern (stateless) request and returns the `result`, or the `error` object.
    async fn request(&mut self, method: &str, mut params: Value) -> Value {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let id = self.next_id;
        self.next_id += 1;
        let line = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string();
        self.writer.write_all(format!("{line}\n").as_bytes()).await.expect("the server reads");
        loop {
            let line = self.lines.next_line().await.expect("the server writes").expect("the server answers");
            let message: Value = serde_json::from_str(&line).expect("the server writes JSON");
            let answered = (message["id"] == json!(id)).then_some(method);
            if let Err(e) = SchemaValidator::global().check_message(ProtocolVersion::LATEST, &message, answered) {
                panic!("the server sent a message that violates the schema: {message}\n{e}");
            }
            if message["id"] != json!(id) {
                continue; // A notification.
            }
            return message.get("result").or_else(|| message.get("error")).cloned().expect("a result or an error");
        }
    }

    async fn call_tool(&mut self, name: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({ "name": name, "arguments": arguments })).await
    }

    async fn get_prompt(&mut self, name: &str, arguments: Value) -> Value {
        self.request("prompts/get", json!({ "name": name, "arguments": arguments })).await
    }
}

/// The text of a tool result's only content block.
fn only_text(result: &Value) -> &str {
    let content = result["content"].as_array().expect("content is a list");
    assert_eq!(content.len(), 1, "{result}");
    content[0]["text"].as_str().expect("a text block")
}

#[tokio::test]
async fn lists_the_tools() {
    let mut client = Client::serve(Calculator { precision: 2 });
    let result = client.request("tools/list", json!({})).await;
    let names: Vec<&str> =
        result["tools"].as_array().expect("tools").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["add", "divide"]);
}

#[tokio::test]
async fn calls_a_plain_tool() {
    let mut client = Client::serve(Calculator { precision: 2 });
    let result = client.call_tool("add", json!({ "a": 2, "b": 3 })).await;
    assert_eq!(only_text(&result), "5");
    assert_ne!(result["isError"], json!(true));
}

#[tokio::test]
async fn a_tool_error_is_a_failed_result() {
    let mut client = Client::serve(Calculator { precision: 2 });
    let result = client.call_tool("divide", json!({ "a": 1, "b": 0 })).await;
    assert_eq!(result["isError"], json!(true));
    assert!(only_text(&result).contains("division by zero"), "{result}");
}

#[tokio::test]
async fn structured_output() {
    let mut client = Client::serve(Calculator { precision: 2 });
    let result = client.call_tool("divide", json!({ "a": 1, "b": 4 })).await;
    assert_eq!(result["structuredContent"], json!({ "value": 0.25 }));
    assert_ne!(result["isError"], json!(true));
}

#[tokio::test]
async fn extra_arguments_are_ignored() {
    let mut client = Client::serve(Calculator { precision: 2 });
    let result = client.call_tool("add", json!({ "a": 1, "b": 1, "c": 100 })).await;
    assert_eq!(only_text(&result), "2");
}

#[tokio::test]
async fn missing_arguments_are_refused() {
    let mut client = Client::serve(Calculator { precision: 2 });
    let result = client.call_tool("add", json!({ "a": 1 })).await;
    // Refused by inputSchema validation, before the method runs, as a result the model can read.
    assert_eq!(result["isError"], json!(true));
    assert!(only_text(&result).starts_with("invalid arguments for tool add"), "{result}");
    let result = client.call_tool("add", json!({ "a": 1, "b": "two" })).await;
    assert_eq!(result["isError"], json!(true));
}

#[tokio::test]
async fn missing_prompt_arguments_are_refused() {
    let mut client = Client::serve(Calculator { precision: 2 });
    let error = client.get_prompt("greet", json!({ "style": "warmly" })).await;
    assert_eq!(error["code"], json!(-32602), "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("`name`")), "{error}");
}

#[tokio::test]
async fn renders_a_prompt() {
    let mut client = Client::serve(Calculator { precision: 2 });
    let result = client.get_prompt("greet", json!({ "name": "Ada" })).await;
    assert_eq!(
        result["messages"],
        json!([{ "role": "user", "content": { "type": "text", "text": "Say hi to Ada " } }])
    );
    let result = client.get_prompt("greet", json!({ "name": "Ada", "style": "warmly" })).await;
    assert_eq!(result["messages"][0]["content"]["text"], "Say hi to Ada warmly");
}

#[tokio::test]
async fn optional_raw_named_and_borrowed_context() {
    let mut client = Client::serve(Extras);
    assert_eq!(only_text(&client.call_tool("echo", json!({ "type": "ab" })).await), "ab");
    assert_eq!(only_text(&client.call_tool("echo", json!({ "type": "ab", "times": 3 })).await), "ababab");
    let result = client.call_tool("noop", json!({})).await;
    assert_eq!(result["content"], json!([]));
    let result = client.get_prompt("review", json!({ "code": "x" })).await;
    assert_eq!(result["messages"][0]["content"]["text"], "review: x");
    let result = client.get_prompt("plain", json!({})).await;
    assert_eq!(result["messages"][0]["content"]["text"], "plain");
}

#[tokio::test]
async fn generic_handler() {
    let mut client = Client::serve(Labelled("answer"));
    assert_eq!(only_text(&client.call_tool("label", json!({ "value": 42 })).await), "answer: 42");
}
