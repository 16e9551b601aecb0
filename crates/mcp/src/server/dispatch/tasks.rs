//! The tasks half of dispatch: whether a `tools/call` runs as a task, how a task is answered,
//! and the `tasks/*` methods of both eras.

use serde_json::value::RawValue;
use serde_json::Value;
use switchboard_protocol::jsonrpc::RequestId;
use switchboard_protocol::meta::{PaginatedRequestParams, RequestParams};
use switchboard_protocol::result::EmptyResult;
use switchboard_protocol::{methods, ErrorObject, JsonObject, ProtocolVersion};

use super::{encode_value, parse, Outcome};
use crate::engine::Frame;
use crate::server::connection::{Mode, ServerConnection};
use crate::server::context::{TaskEnv, TaskMode};
use crate::server::cursor;
use crate::server::tasks::{TaskSignal, TaskStoreError};

/// The error a client gets when the task store cannot be reached.
fn unavailable(e: TaskStoreError) -> ErrorObject {
    ErrorObject::internal(format!("the task store is unavailable: {e}"))
}

/// A tool's declared task support (`execution.taskSupport`): `forbidden` unless it says otherwise.
pub(super) fn task_support(tool: &switchboard_protocol::tools::Tool) -> &str {
    tool.execution.as_ref().and_then(|e| e.get("taskSupport")).and_then(Value::as_str).unwrap_or("forbidden")
}

/// Whether a modern request declared the tasks extension.
pub(super) fn declares_tasks(mode: &Mode) -> bool {
    match mode {
        Mode::Modern { caps, .. } => {
            caps.extensions.as_ref().is_some_and(|e| e.contains_key(switchboard_protocol::tasks::EXTENSION))
        }
        Mode::Legacy(_) => false,
    }
}

/// Who may see a task: the principal that created it, and in the legacy era also the session
/// (by its serial number, never reused within the process).
pub(super) fn owner_of(principal: &crate::server::Principal, mode: &Mode) -> String {
    match mode {
        Mode::Modern { .. } => format!("p:{}", principal.id()),
        // A session shared by replicas is known by its id everywhere; otherwise by its serial.
        Mode::Legacy(s) => match s.shared_id.get() {
            Some(id) => format!("p:{}/sid:{id}", principal.id()),
            None => format!("p:{}/s:{}", principal.id(), s.serial),
        },
    }
}

impl ServerConnection {
    /// The task environment of a `tools/call`.
    pub(super) fn task_env(
        &self,
        mode: &Mode,
        tool: &switchboard_protocol::tools::Tool,
        task: Option<&switchboard_protocol::tasks::TaskMetadata>,
        principal: &crate::server::Principal,
    ) -> Result<TaskEnv, ErrorObject> {
        let support = task_support(tool);
        let task_mode = match mode {
            Mode::Modern { .. } if declares_tasks(mode) && support != "forbidden" => TaskMode::Modern,
            Mode::Modern { .. } => TaskMode::None,
            Mode::Legacy(s)
                if s.version >= ProtocolVersion::V2025_11_25 && self.server.capabilities.tasks.is_some() =>
            {
                match (task, support) {
                    (Some(_), "forbidden") => {
                        return Err(ErrorObject::method_not_found(&format!(
                            "tool {} does not run as a task; call it without params.task",
                            tool.name
                        )))
                    }
                    (None, "required") => {
                        return Err(ErrorObject::method_not_found(&format!(
                            "tool {} runs only as a task; send params.task",
                            tool.name
                        )))
                    }
                    (Some(t), _) => TaskMode::Legacy(t.ttl),
                    (None, _) => TaskMode::None,
                }
            }
            Mode::Legacy(_) => TaskMode::None,
        };
        Ok(TaskEnv {
            store: self.server.tasks.clone(),
            runtime: self.server.task_runtime.clone(),
            mode: task_mode,
            required: support == "required",
            owner: owner_of(principal, mode),
            current: None,
            tool: tool.name.clone(),
        })
    }

    /// A task as a result: created (`resultType: task` / legacy `{task}`) or polled.
    pub(super) fn encode_task(
        &self,
        id: &RequestId,
        record: &crate::server::tasks::TaskRecord,
        mode: &Mode,
        created: bool,
    ) -> Frame {
        match mode {
            Mode::Modern { .. } => {
                let mut task = record.to_modern(created);
                task.meta = Some(switchboard_protocol::meta::ResultMeta {
                    server_info: Some(self.server.info.clone()),
                    other: JsonObject::new(),
                });
                encode_value(id, &task)
            }
            Mode::Legacy(_) if created => encode_value(
                id,
                &switchboard_protocol::tasks::CreateTaskResult { task: record.to_legacy(), meta: None },
            ),
            Mode::Legacy(_) => {
                encode_value(id, &switchboard_protocol::tasks::TaskResult { task: record.to_legacy(), meta: None })
            }
        }
    }

    /// `tasks/get`, `tasks/update`, `tasks/cancel` (modern extension) and `tasks/get`,
    /// `tasks/result`, `tasks/list`, `tasks/cancel` (legacy 2025-11-25).
    pub(super) async fn task_method(
        &self,
        id: &RequestId,
        m: &str,
        params: Option<&RawValue>,
        principal: &crate::server::Principal,
    ) -> Outcome {
        use switchboard_protocol::tasks::{ListTasksResult, TaskIdParams, TaskStatus, TaskUpdateParams};
        let peek: RequestParams = parse(m, params)?;
        let mode = self.mode(peek.meta.as_ref(), m)?;
        let owner = owner_of(principal, &mode);
        let store = self.server.tasks.clone();
        let unknown =
            |task: &str| ErrorObject::invalid_params(format!("unknown task {task:?} (expired, or never created)"));
        // The caller's own task, or the error that says it is not there.
        let load = |task: String| {
            let (store, owner) = (store.clone(), owner.clone());
            async move {
                match store.get(&task).await {
                    Ok(Some(r)) if r.owner == owner => Ok(r),
                    Ok(_) => Err(unknown(&task)),
                    Err(e) => Err(unavailable(e)),
                }
            }
        };
        match &mode {
            Mode::Modern { .. } => {
                if matches!(m, methods::TASKS_RESULT | methods::TASKS_LIST) {
                    return Err(ErrorObject::method_not_found(m));
                }
                if !declares_tasks(&mode) {
                    return Err(ErrorObject::missing_client_capability(
                        "extensions.io.modelcontextprotocol/tasks",
                        serde_json::json!({"extensions": {switchboard_protocol::tasks::EXTENSION: {}}}),
                    ));
                }
                if m == methods::TASKS_UPDATE {
                    let p: TaskUpdateParams = parse(m, params)?;
                    load(p.task_id.clone()).await?;
                    let signal = TaskSignal::Input(p.input_responses.into_iter().collect());
                    self.signal_task(&p.task_id, signal).await?;
                    return Ok(self.encode(id, EmptyResult::default(), mode.version(), None));
                }
                let p: TaskIdParams = parse(m, params)?;
                let mut record = load(p.task_id).await?;
                if m == methods::TASKS_CANCEL {
                    self.cancel_task(&mut record).await?;
                    return Ok(self.encode(id, EmptyResult::default(), mode.version(), None));
                }
                Ok(self.encode_task(id, &record, &mode, false))
            }
            Mode::Legacy(s) => {
                if s.version < ProtocolVersion::V2025_11_25 || self.server.capabilities.tasks.is_none() {
                    return Err(ErrorObject::method_not_found(m));
                }
                if m == methods::TASKS_UPDATE {
                    return Err(ErrorObject::method_not_found(m));
                }
                if m == methods::TASKS_LIST {
                    let p: PaginatedRequestParams = parse(m, params)?;
                    let all: Vec<_> =
                        store.list(&owner).await.map_err(unavailable)?.iter().map(|r| r.to_legacy()).collect();
                    let (tasks, next_cursor) = cursor::page("tasks", &all, p.cursor.as_deref(), self.server.page_size)?;
                    return Ok(encode_value(id, &ListTasksResult { tasks, next_cursor }));
                }
                let p: TaskIdParams = parse(m, params)?;
                let mut record = load(p.task_id.clone()).await?;
                match m {
                    methods::TASKS_CANCEL => {
                        if record.status.is_terminal() {
                            return Err(ErrorObject::invalid_params(format!(
                                "task {} already ended ({:?})",
                                record.id, record.status
                            )));
                        }
                        self.cancel_task(&mut record).await?;
                        Ok(self.encode_task(id, &record, &mode, false))
                    }
                    methods::TASKS_RESULT => {
                        // Block until the task ends, then answer as the original request would have.
                        while !record.status.is_terminal() {
                            if let Some(live) = self.server.task_runtime.get(&record.id) {
                                let done = live.done.notified();
                                tokio::pin!(done);
                                done.as_mut().enable();
                                if store.get(&record.id).await.ok().flatten().is_some_and(|r| !r.status.is_terminal()) {
                                    tokio::select! {
                                        _ = done => {}
                                        _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {}
                                    }
                                }
                            } else {
                                // Running in another process (or just settled): poll the store.
                                let pause = if store.is_shared() { 200 } else { 50 };
                                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                            }
                            record = load(p.task_id.clone()).await?;
                        }
                        match record.status {
                            TaskStatus::Completed => {
                                let mut result =
                                    record.result.clone().unwrap_or_else(|| serde_json::json!({"content": []}));
                                if let Value::Object(o) = &mut result {
                                    let meta = o.entry("_meta").or_insert_with(|| serde_json::json!({}));
                                    meta[switchboard_protocol::tasks::RELATED_TASK] =
                                        serde_json::json!({"taskId": record.id});
                                }
                                Ok(encode_value(id, &result))
                            }
                            TaskStatus::Failed => {
                                Err(record.error.clone().unwrap_or_else(|| ErrorObject::internal("the task failed")))
                            }
                            _ => Err(ErrorObject::invalid_params(format!("task {} was cancelled", record.id))),
                        }
                    }
                    _ => Ok(self.encode_task(id, &record, &mode, false)),
                }
            }
        }
    }

    /// Marks a task cancelled and stops it, wherever it runs.
    pub(super) async fn cancel_task(&self, record: &mut crate::server::tasks::TaskRecord) -> Result<(), ErrorObject> {
        if record.status.is_terminal() {
            return Ok(());
        }
        record.status = switchboard_protocol::tasks::TaskStatus::Cancelled;
        record.status_message = Some("Cancelled at the client's request.".into());
        record.input_requests = None;
        record.updated_ms = crate::server::tasks::now_ms();
        self.server.tasks.put(record.clone()).await.map_err(unavailable)?;
        self.signal_task(&record.id, TaskSignal::Cancel).await
    }

    /// Hands `signal` to the task: directly when it runs here, else through the shared store
    /// to the process that runs it.
    async fn signal_task(&self, task: &str, signal: TaskSignal) -> Result<(), ErrorObject> {
        match self.server.task_runtime.get(task) {
            Some(live) => {
                live.apply(signal);
                Ok(())
            }
            None if self.server.tasks.is_shared() => self.server.tasks.signal(task, signal).await.map_err(unavailable),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use switchboard_protocol::capabilities::Implementation;
    use switchboard_protocol::ProtocolVersion;

    use super::owner_of;
    use crate::server::connection::{Mode, Session};
    use crate::server::Principal;

    #[test]
    fn tasks_belong_to_a_principal_and_a_session_never_to_an_address() {
        let session =
            || Arc::new(Session::new(ProtocolVersion::V2025_11_25, Default::default(), Implementation::new("t", "1")));
        let alice = Principal::new("alice", vec![], Default::default());
        // The first session is dropped before the second is made: the allocator may well put
        // the second at the same address, and it must still be someone else.
        let first = owner_of(&alice, &Mode::Legacy(session()));
        let second = owner_of(&alice, &Mode::Legacy(session()));
        assert_ne!(first, second);
        let shared = session();
        let bob = Principal::new("bob", vec![], Default::default());
        assert_ne!(owner_of(&alice, &Mode::Legacy(shared.clone())), owner_of(&bob, &Mode::Legacy(shared)));
    }
}
