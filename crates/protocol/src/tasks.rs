//! Tasks: long-running requests the client polls. Two shapes exist: the legacy SEP-1686 tasks of
//! 2025-11-25 (`params.task` on the request, `tasks/get|result|list|cancel`) and the modern
//! `io.modelcontextprotocol/tasks` extension (`resultType: "task"`, `tasks/get|update|cancel`).

use serde::{Deserialize, Serialize};

use crate::meta::{RequestMeta, ResultMeta};
use crate::mrtr::InputRequests;
use crate::result::ResultType;
use crate::ErrorObject;

/// The extension id of modern tasks.
pub const EXTENSION: &str = "io.modelcontextprotocol/tasks";
/// `_meta` key tying a legacy message to its task.
pub const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Running.
    Working,
    /// Waiting for input from the client.
    InputRequired,
    /// Finished with a result (including a tool result with `isError`).
    Completed,
    /// Finished with a protocol error.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl TaskStatus {
    /// Whether the task can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled)
    }
}

/// A legacy (2025-11-25) task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// The id.
    pub task_id: String,
    /// The status.
    pub status: TaskStatus,
    /// A human-readable status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// ISO 8601 creation time.
    pub created_at: String,
    /// ISO 8601 time of the last change.
    pub last_updated_at: String,
    /// How long the task is kept after creation, in ms (`null`: unlimited). Always present.
    pub ttl: Option<u64>,
    /// How often to poll, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<u64>,
}

/// Legacy: what a task-augmented request asks for (`params.task`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskMetadata {
    /// The requested lifetime in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
}

/// Legacy: the answer to a task-augmented request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateTaskResult {
    /// The created task.
    pub task: Task,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
}

/// Legacy: `tasks/get` and `tasks/cancel` answer with the task itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The task's fields, flat.
    #[serde(flatten)]
    pub task: Task,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
}

/// Legacy: `tasks/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTasksResult {
    /// One page of tasks.
    pub tasks: Vec<Task>,
    /// Where the next page starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Modern: a task as `resultType: "task"` (on creation) or with its details (`tasks/get`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModernTask {
    /// `task` on creation, `complete` from `tasks/get`.
    pub result_type: ResultType,
    /// The id.
    pub task_id: String,
    /// The status.
    pub status: TaskStatus,
    /// A human-readable status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// ISO 8601 creation time.
    pub created_at: String,
    /// ISO 8601 time of the last change.
    pub last_updated_at: String,
    /// Lifetime in ms (`null`: unlimited). Always present.
    pub ttl_ms: Option<u64>,
    /// How often to poll, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u64>,
    /// `completed`: the original request's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// `failed`: the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
    /// `input_required`: the outstanding requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_requests: Option<InputRequests>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
}

/// Params naming a task (`tasks/get`, `tasks/cancel`, `tasks/result`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskIdParams {
    /// The task.
    pub task_id: String,
    /// Request metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}

/// Params of modern `tasks/update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskUpdateParams {
    /// The task.
    pub task_id: String,
    /// Answers to the task's input requests, by key. Kept as raw JSON: keys that are not
    /// outstanding are ignored, whatever their values.
    #[serde(default)]
    pub input_responses: crate::JsonObject,
    /// Request metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}
