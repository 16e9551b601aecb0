//! Method names, in one place.

/// Legacy: start a session.
pub const INITIALIZE: &str = "initialize";
/// Legacy: the client finished initializing.
pub const INITIALIZED: &str = "notifications/initialized";
/// Legacy: liveness check.
pub const PING: &str = "ping";
/// Modern: advertise versions and capabilities.
pub const SERVER_DISCOVER: &str = "server/discover";
/// List tools.
pub const TOOLS_LIST: &str = "tools/list";
/// Call a tool.
pub const TOOLS_CALL: &str = "tools/call";
/// List resources.
pub const RESOURCES_LIST: &str = "resources/list";
/// List resource templates.
pub const RESOURCES_TEMPLATES_LIST: &str = "resources/templates/list";
/// Read a resource.
pub const RESOURCES_READ: &str = "resources/read";
/// Legacy: subscribe to a resource.
pub const RESOURCES_SUBSCRIBE: &str = "resources/subscribe";
/// Legacy: unsubscribe from a resource.
pub const RESOURCES_UNSUBSCRIBE: &str = "resources/unsubscribe";
/// List prompts.
pub const PROMPTS_LIST: &str = "prompts/list";
/// Render a prompt.
pub const PROMPTS_GET: &str = "prompts/get";
/// Complete an argument.
pub const COMPLETION_COMPLETE: &str = "completion/complete";
/// Legacy: set the session's log level.
pub const LOGGING_SET_LEVEL: &str = "logging/setLevel";
/// Modern: open a notification stream.
pub const SUBSCRIPTIONS_LISTEN: &str = "subscriptions/listen";
/// Sampling (server to client).
pub const SAMPLING_CREATE_MESSAGE: &str = "sampling/createMessage";
/// Elicitation (server to client).
pub const ELICITATION_CREATE: &str = "elicitation/create";
/// Roots (server to client).
pub const ROOTS_LIST: &str = "roots/list";

/// Notification: progress.
pub const NOTIFICATION_PROGRESS: &str = "notifications/progress";
/// Notification: cancel a request.
pub const NOTIFICATION_CANCELLED: &str = "notifications/cancelled";
/// Notification: a log message.
pub const NOTIFICATION_MESSAGE: &str = "notifications/message";
/// Notification: the tool list changed.
pub const NOTIFICATION_TOOLS_LIST_CHANGED: &str = "notifications/tools/list_changed";
/// Notification: the prompt list changed.
pub const NOTIFICATION_PROMPTS_LIST_CHANGED: &str = "notifications/prompts/list_changed";
/// Notification: the resource list changed.
pub const NOTIFICATION_RESOURCES_LIST_CHANGED: &str = "notifications/resources/list_changed";
/// Notification: a resource changed.
pub const NOTIFICATION_RESOURCES_UPDATED: &str = "notifications/resources/updated";
/// Notification: a listen stream is acknowledged.
pub const NOTIFICATION_SUBSCRIPTIONS_ACKNOWLEDGED: &str = "notifications/subscriptions/acknowledged";
/// Legacy notification: the client's roots changed.
pub const NOTIFICATION_ROOTS_LIST_CHANGED: &str = "notifications/roots/list_changed";
/// Tasks: a task's state.
pub const TASKS_GET: &str = "tasks/get";
/// Legacy tasks: wait for a task's result.
pub const TASKS_RESULT: &str = "tasks/result";
/// Legacy tasks: list tasks.
pub const TASKS_LIST: &str = "tasks/list";
/// Tasks: cancel a task.
pub const TASKS_CANCEL: &str = "tasks/cancel";
/// Modern tasks: answer a task's input requests.
pub const TASKS_UPDATE: &str = "tasks/update";
