//! `switchboard chat`: a terminal conversation with a config's agent, in-process. The answer
//! streams to stdout; tool calls and confirmations are shown on stderr, so `--once` output is
//! the answer alone. The chat acts as the config's local operator (its `auth.stdio` principal),
//! like a stdio client started from the same terminal.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchboard_agent::turn::TurnRequest;
use switchboard_agent::{Agent, Event, Message};
use switchboard_mcp::server::LocalClient;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::ChatArgs;

/// How long queued audit rows may take to be written at exit.
const AUDIT_FLUSH_LIMIT: Duration = Duration::from_secs(30);

/// Runs the chat until `/exit`, end of input, or (with `--once`) the one answer.
pub async fn run(args: ChatArgs) -> anyhow::Result<()> {
    let configured = crate::configured::server(
        &args.config,
        crate::configured::ConfigFormat::Yaml,
        args.data_dir.as_deref(),
        None,
        Default::default(),
    )
    .await?;
    let operator = configured.callers.stdio.clone();
    let metrics = configured.guardrails.metrics().clone();
    let agent = crate::agents::agent(&configured.config, &configured.server, &operator, metrics)
        .await?
        .with_context(|| format!("{} has no `agent:` section to chat with", args.config.display()))?;
    let agent = Arc::new(agent);
    let client = configured.server.local_client(operator, "switchboard-chat");
    let result = match args.once {
        Some(question) => turn(&agent, &client, &mut vec![Message::User(question)]).await.map(|_| ()),
        None => repl(&agent, &client, &configured.data_dir).await,
    };
    if !configured.guardrails.close(AUDIT_FLUSH_LIMIT).await {
        tracing::error!(target: "switchboard", "audit rows were still queued when the flush time ran out");
    }
    result
}

async fn repl(agent: &Arc<Agent>, client: &LocalClient, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let history_file = data_dir.join("chat_history");
    let mut editor = rustyline::DefaultEditor::new().context("starting the line editor")?;
    let _ = editor.load_history(&history_file);
    eprintln!(
        "Chatting with {} ({}). /reset starts over, /exit or Ctrl-D leaves.",
        agent.settings().name,
        agent.models().iter().map(|m| format!("{}/{}", m.provider.name(), m.model)).collect::<Vec<_>>().join(" → ")
    );
    let mut history = Vec::new();
    loop {
        // The editor blocks on the terminal: on a blocking thread, handed back each time.
        let (back, line) = tokio::task::spawn_blocking(move || {
            let line = editor.readline("you> ");
            (editor, line)
        })
        .await
        .context("reading the terminal")?;
        editor = back;
        let line = match line {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("reading the terminal"),
        };
        let line = line.trim();
        match line {
            "" => continue,
            "/exit" | "/quit" => break,
            "/reset" => {
                history.clear();
                eprintln!("(a new conversation)");
                continue;
            }
            _ => {}
        }
        let _ = editor.add_history_entry(line);
        history.push(Message::User(line.to_owned()));
        if let Err(e) = turn(agent, client, &mut history).await {
            eprintln!("error: {e:#}");
            history.pop();
        }
    }
    let _ = editor.save_history(&history_file);
    Ok(())
}

/// One turn: the answer streamed to stdout, tool calls to stderr; the turn's messages are added
/// to `history`.
async fn turn(agent: &Arc<Agent>, client: &LocalClient, history: &mut Vec<Message>) -> anyhow::Result<()> {
    let (events, mut rx) = mpsc::unbounded_channel();
    let printer = tokio::spawn(async move {
        let mut out = std::io::stdout();
        while let Some(event) = rx.recv().await {
            match event {
                Event::Text { text } => {
                    let _ = out.write_all(text.as_bytes());
                    let _ = out.flush();
                }
                Event::ToolStarted { tool, arguments, .. } => eprintln!("\n  [{tool} {arguments}]"),
                Event::ToolFinished { tool, is_error: true, .. } => eprintln!("  [{tool} failed]"),
                Event::ToolFinished { .. } => {}
                Event::ConfirmationNeeded { tool, .. } => eprintln!("\n  [{tool} waits for your yes]"),
            }
        }
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    });
    let cancel = CancellationToken::new();
    let request = TurnRequest { history, client, temperature: None, cancel: &cancel };
    let outcome = agent.run_turn(request, &events).await;
    drop(events);
    let _ = printer.await;
    let out = outcome?;
    history.extend(out.messages);
    Ok(())
}
