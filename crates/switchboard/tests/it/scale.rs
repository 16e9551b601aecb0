//! Scale-out: replicas that start together on an empty PostgreSQL database create and seed it
//! once; `switchboard migrate`; rate limits shared through Redis (and what happens while Redis is
//! down); backups restored into a fresh database; the deployment files validate offline.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_protocol::ProtocolVersion;
use switchboard_testkit::http::HttpPeer;
use switchboard_testkit::process::ServerProcess;

use crate::interop::{free_port, scratch};
use crate::shop::sh;
use crate::{serve_config, switchboard_bin};

/// A PostgreSQL database of its own on the shared server, dropped at the end.
pub(crate) struct TempDb {
    pub(crate) name: String,
}

impl TempDb {
    pub(crate) fn new(label: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("sb_{label}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        sh("psql", &["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", &format!("CREATE DATABASE {name}")]);
        Self { name }
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    /// One value from `sql`, as text.
    pub(crate) fn scalar(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", &self.name, "-XAtqc", sql])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Every table of the database with its row count, sorted by name.
    pub(crate) fn row_counts(&self) -> Vec<(String, i64)> {
        let tables = self.scalar(
            "SELECT string_agg(table_name, ' ' ORDER BY table_name) FROM information_schema.tables \
             WHERE table_schema = 'public'",
        );
        tables
            .split_whitespace()
            .map(|t| (t.to_owned(), self.scalar(&format!("SELECT count(*) FROM {t}")).parse().unwrap_or(-1)))
            .collect()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .output();
    }
}

/// The shop on `db` (business data, audit rows and conversations all there).
fn shop_env(db: &TempDb) -> Vec<(String, String)> {
    vec![
        ("SHOP_DB_KIND".into(), "postgres".into()),
        ("SHOP_DATABASE_URL".into(), db.url()),
        ("SHOP_AUDIT_URL".into(), db.url()),
        ("SHOP_CONVERSATIONS_URL".into(), db.url()),
    ]
}

fn shop_config() -> std::path::PathBuf {
    switchboard_testkit::repo_root().join("examples/shop/shop.yaml")
}

fn migrate(db: &TempDb, data: &std::path::Path) -> String {
    let out = Command::new(switchboard_bin())
        .args(["migrate", "--config"])
        .arg(shop_config())
        .arg("--data-dir")
        .arg(data)
        .args(["--log-level", "warn"])
        .envs(shop_env(db))
        .output()
        .expect("switchboard migrate runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[test]
fn replicas_starting_together_on_an_empty_database_create_and_seed_it_exactly_once() {
    // The reference: one `switchboard migrate` on its own.
    let reference = TempDb::new("seed_ref");
    let dir = scratch("scale-seed");
    let printed = migrate(&reference, &dir.join("ref"));
    assert!(
        printed.contains("source shop: up to date") && printed.contains("source:shop v1 init scripts: applied"),
        "{printed}"
    );
    assert!(printed.contains("audit v1 the tool_calls table: applied"), "{printed}");
    assert!(printed.contains("conversations: up to date"), "{printed}");
    let again = migrate(&reference, &dir.join("ref"));
    assert_eq!(again, printed, "a second run applies nothing new");
    let expected = reference.row_counts();
    assert!(expected.iter().any(|(t, n)| t == "products" && *n > 10), "{expected:?}");

    // Three replicas started at the same moment on an empty database.
    let db = TempDb::new("seed_race");
    let env = shop_env(&db);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config = shop_config();
    let replicas: Vec<ServerProcess> = std::thread::scope(|s| {
        let started: Vec<_> = (0..3)
            .map(|i| {
                let (env, config, data) = (&env, &config, dir.join(format!("replica-{i}")));
                s.spawn(move || serve_config(config, &data, env))
            })
            .collect();
        started.into_iter().map(|h| h.join().expect("a replica started")).collect()
    });
    assert_eq!(replicas.len(), 3);
    assert_eq!(db.row_counts(), expected, "seeded exactly once, like the reference");
    assert_eq!(db.scalar("SELECT count(*) FROM switchboard_migrations WHERE component = 'source:shop'"), "1");
    assert_eq!(db.scalar("SELECT count(*) FROM switchboard_migrations WHERE adopted = 1"), "0");
}

/// A MariaDB database of its own on the shared server, dropped at the end.
struct TempMariaDb {
    name: String,
}

impl TempMariaDb {
    fn new(label: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("sb_{label}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let db = Self { name };
        db.sql("", &format!("CREATE DATABASE {}", db.name));
        db
    }

    fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:3306/{}", self.name)
    }

    fn sql(&self, database: &str, sql: &str) -> String {
        let out = Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-P", "3306", "-u", "root", "-N", "-B", "-e", sql])
            .args((!database.is_empty()).then_some(database))
            .output()
            .expect("the mariadb client runs");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Every table with its exact row count, sorted by name.
    fn row_counts(&self) -> Vec<(String, i64)> {
        let tables = self.sql(&self.name, "SHOW TABLES");
        let mut counts: Vec<(String, i64)> = tables
            .lines()
            .map(|t| (t.to_owned(), self.sql(&self.name, &format!("SELECT count(*) FROM `{t}`")).parse().unwrap_or(-1)))
            .collect();
        counts.sort();
        counts
    }
}

impl Drop for TempMariaDb {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-u", "root", "-e"])
            .arg(format!("DROP DATABASE IF EXISTS {}", self.name))
            .output();
    }
}

#[test]
fn replicas_starting_together_on_an_empty_mariadb_database_seed_it_exactly_once() {
    let dir = scratch("scale-seed-mariadb");
    let start = |db: &TempMariaDb, count: usize| -> Vec<ServerProcess> {
        let url = db.url();
        let env = [("SHOP_DB_KIND", "mysql"), ("SHOP_DATABASE_URL", url.as_str())];
        let config = shop_config();
        std::thread::scope(|s| {
            let started: Vec<_> = (0..count)
                .map(|i| {
                    let (env, config, data) = (&env, &config, dir.join(format!("{}-{i}", db.name)));
                    s.spawn(move || serve_config(config, &data, env))
                })
                .collect();
            started.into_iter().map(|h| h.join().expect("a replica started")).collect()
        })
    };
    let reference = TempMariaDb::new("seed_ref");
    drop(start(&reference, 1));
    let expected = reference.row_counts();
    assert!(expected.iter().any(|(t, n)| t == "products" && *n > 10), "{expected:?}");
    // Three replicas at the same moment: MariaDB's GET_LOCK lets one create and seed.
    let db = TempMariaDb::new("seed_race");
    let replicas = start(&db, 3);
    assert_eq!(replicas.len(), 3);
    assert_eq!(db.row_counts(), expected, "seeded exactly once, like one replica alone");
    assert_eq!(db.sql(&db.name, "SELECT count(*) FROM switchboard_migrations WHERE component = 'source:shop'"), "1");
}

/// A config with one tool and a server-wide limit of `per_minute` calls per caller.
fn limited_config(dir: &std::path::Path, prefix: &str, per_minute: u32, when_down: &str) -> std::path::PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let config = dir.join(format!("limited-{when_down}.yaml"));
    std::fs::write(
        &config,
        format!(
            "server: {{name: limited, redis_key_prefix: {prefix}, redis_timeout_ms: 200}}\n\
             auth:\n  api_keys:\n    - {{id: alice, key: alice-key-0123456789, roles: [user]}}\n\
             audit: {{enabled: false}}\n\
             guardrails:\n  rate_limit: {{per_minute: {per_minute}, burst: {per_minute}, when_redis_down: {when_down}}}\n\
             tools:\n  echo: {{description: Echoes., native: demo.echo, roles: [user]}}\n"
        ),
    )
    .expect("config");
    config
}

/// Calls `echo` `n` times round-robin over `replicas`: how many were accepted, how many limited.
async fn call_round_robin(replicas: &[&ServerProcess], n: usize) -> (usize, usize) {
    let mut peers: Vec<HttpPeer> =
        replicas.iter().map(|r| HttpPeer::new(r.mcp_url()).with_api_key("alice-key-0123456789")).collect();
    let (mut ok, mut limited) = (0, 0);
    let call = json!({"name": "echo", "arguments": {"message": "hi"}});
    for i in 0..n {
        let peer = &mut peers[i % replicas.len()];
        let reply = peer.modern("tools/call", call.clone(), json!({})).await;
        match reply.status {
            200 => ok += 1,
            429 => {
                assert_eq!(reply.last()["error"]["code"], -32029, "{:?}", reply.messages);
                limited += 1;
            }
            other => panic!("unexpected status {other}: {:?}", reply.messages),
        }
    }
    (ok, limited)
}

#[tokio::test]
async fn a_rate_limit_holds_across_replicas_sharing_redis_and_falls_back_while_redis_is_down() {
    let dir = scratch("scale-rate");
    let prefix = format!("sbtest{}", std::process::id());
    let config = limited_config(&dir, &prefix, 12, "local");
    let redis = [("SWITCHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0")];
    let a = serve_config(&config, &dir.join("a"), &redis);
    let b = serve_config(&config, &dir.join("b"), &redis);
    let c = serve_config(&config, &dir.join("c"), &redis);
    // 12 a minute (one every 5 s) in bursts of 12: of 36 calls over three replicas, 12 pass
    // (one more if the calls straddle a refill).
    let (ok, limited) = call_round_robin(&[&a, &b, &c], 36).await;
    assert!((12..=13).contains(&ok), "{ok} accepted, {limited} limited");

    // Redis unreachable: each replica limits on its own (`local`), and no call waits for Redis
    // longer than its timeout.
    let down = format!("redis://127.0.0.1:{}/0", free_port());
    let redis_down = [("SWITCHBOARD_REDIS_URL", down.as_str())];
    let d = serve_config(&config, &dir.join("d"), &redis_down);
    let e = serve_config(&config, &dir.join("e"), &redis_down);
    let started = Instant::now();
    let (ok, limited) = call_round_robin(&[&d, &e], 40).await;
    assert!((24..=26).contains(&ok), "each replica alone allows its 12: {ok} accepted, {limited} limited");
    assert!(started.elapsed() < Duration::from_secs(10), "calls did not wait on Redis: {:?}", started.elapsed());

    // `closed` refuses every call while Redis is down.
    let closed = limited_config(&dir, &prefix, 12, "closed");
    let f = serve_config(&closed, &dir.join("f"), &redis_down);
    let (ok, limited) = call_round_robin(&[&f], 3).await;
    assert_eq!((ok, limited), (0, 3));
}

#[test]
fn a_backup_restores_into_a_fresh_database_and_never_over_live_data_without_force() {
    let source = TempDb::new("backup_src");
    let dir = scratch("scale-backup");
    migrate(&source, &dir.join("data"));
    let backup_sh = switchboard_testkit::repo_root().join("deploy/backup/backup.sh");
    let restore_sh = switchboard_testkit::repo_root().join("deploy/backup/restore.sh");
    let file = dir.join("shop.dump");
    let _ = std::fs::remove_file(&file);
    let out = Command::new("bash").arg(&backup_sh).arg(source.url()).arg(&file).output().expect("backup.sh runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("backed up database") && file.exists(), "{said}");
    assert!(!said.contains("postgres://"), "the URL is never printed: {said}");

    let target = TempDb::new("backup_dst");
    let restore = |force: bool| {
        let mut cmd = Command::new("bash");
        cmd.arg(&restore_sh).arg(&file).arg(target.url());
        if force {
            cmd.arg("--force");
        }
        cmd.output().expect("restore.sh runs")
    };
    let out = restore(false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(target.row_counts(), source.row_counts());

    // The target now holds data: a second restore refuses without --force and changes nothing.
    target.scalar("DELETE FROM support_tickets");
    let before = target.row_counts();
    let out = restore(false);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to overwrite") && stderr.contains("--force"), "{stderr}");
    assert_eq!(target.row_counts(), before);
    let out = restore(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(target.row_counts(), source.row_counts(), "--force replaces the tables with the backup's");
}

fn run_ok(program: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(switchboard_testkit::repo_root())
        .output()
        .unwrap_or_else(|e| panic!("{program} is not installed ({e}): scripts/install-peers.sh installs it"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

/// Removes the test's container and images however the test ends.
struct PodmanCleanup {
    container: String,
    images: Vec<String>,
    conf: String,
}

impl Drop for PodmanCleanup {
    fn drop(&mut self) {
        let podman = |args: &[&str]| {
            let _ = Command::new("podman").args(args).env("CONTAINERS_CONF", &self.conf).output();
        };
        podman(&["rm", "-f", &self.container]);
        for image in &self.images {
            podman(&["rmi", "-f", image]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_builds_from_deploy_dockerfile_and_serves_the_shop_as_an_unprivileged_user() {
    let dir = scratch("image");
    std::fs::create_dir_all(&dir).expect("scratch");
    // This sandbox refuses setrlimit, which podman applies by default, and some of its machines
    // mix cgroup v1 and v2 in a way crun refuses (runc does not); a plain machine needs none of
    // this, and nothing else changes.
    let conf = dir.join("containers.conf");
    std::fs::write(&conf, "[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\n")
        .expect("containers.conf");
    let conf = conf.to_string_lossy().into_owned();
    let env = [("CONTAINERS_CONF", conf.as_str())];
    // No registry is reachable: the runtime base is made from Debian's packages, once per machine.
    let base = "localhost/switchboard-test-base:bookworm";
    let exists = Command::new("podman").args(["image", "exists", base]).env("CONTAINERS_CONF", &conf).status();
    if !exists.is_ok_and(|s| s.success()) {
        let rootfs = dir.join("rootfs");
        let rootfs = rootfs.to_string_lossy();
        run_ok("debootstrap", &["--variant=minbase", "bookworm", &rootfs, "http://deb.debian.org/debian"], &[]);
        run_ok("sh", &["-c", &format!("tar -C '{rootfs}' -c . | podman import - {base}")], &env);
        let _ = std::fs::remove_dir_all(dir.join("rootfs"));
    }
    // The binary this test suite built stands in for the build stage (a release build inside the
    // container would add minutes to every run).
    let tag = std::process::id();
    let (binary, image, container) = (
        format!("localhost/switchboard-binary:{tag}"),
        format!("localhost/switchboard:{tag}"),
        format!("sb-image-{tag}"),
    );
    let _cleanup =
        PodmanCleanup { container: container.clone(), images: vec![image.clone(), binary.clone()], conf: conf.clone() };
    let context = dir.join("binary");
    std::fs::create_dir_all(&context).expect("context");
    std::fs::copy(switchboard_bin(), context.join("switchboard")).expect("copy the binary");
    std::fs::write(context.join("Containerfile"), "FROM scratch\nCOPY switchboard /usr/local/bin/switchboard\n")
        .expect("Containerfile");
    run_ok("podman", &["build", "-q", "-t", &binary, &context.to_string_lossy()], &env);
    let built = run_ok(
        "podman",
        &[
            "build",
            "--format",
            "docker",
            "--network",
            "host",
            "--build-arg",
            &format!("BINARY_FROM={binary}"),
            "--build-arg",
            &format!("RUNTIME_BASE={base}"),
            "-f",
            "deploy/Dockerfile",
            "-t",
            &image,
            ".",
        ],
        &env,
    );
    assert!(!built.contains("rust:1.95"), "the build stage was skipped: {built}");

    // The image's own command: the shop on 8080, published on a loopback port only.
    let port = free_port();
    let admin = "admin-key-0123456789abcdef";
    run_ok(
        "podman",
        &[
            "run",
            "-d",
            "--name",
            &container,
            "-p",
            &format!("127.0.0.1:{port}:8080"),
            "-e",
            &format!("SHOP_ADMIN_KEY={admin}"),
            &image,
        ],
        &env,
    );
    let base_url = format!("http://127.0.0.1:{port}");
    let client = crate::http_client();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut up = false;
    while !up && Instant::now() < deadline {
        up = client.get(format!("{base_url}/healthz")).send().await.is_ok_and(|r| r.status() == 200);
        if !up {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert!(up, "/healthz answers through the published port");
    run_ok("podman", &["healthcheck", "run", &container], &env);
    assert_eq!(run_ok("podman", &["exec", &container, "id", "-u"], &env).trim(), "10001", "runs unprivileged");
    let mut admin_peer = HttpPeer::new(format!("{base_url}/mcp")).with_api_key(admin);
    let listed = admin_peer.modern("tools/list", json!({}), json!({})).await;
    assert!(
        listed.last()["result"]["tools"].as_array().is_some_and(|t| t.iter().any(|t| t["name"] == "get_order_status")),
        "{:?}",
        listed.messages
    );
}

#[test]
fn the_deployment_files_validate_offline() {
    let peers = switchboard_testkit::repo_root().join(".peers");
    // Kubernetes manifests against the API schemas (kubernetes-validate carries them).
    let validate = peers.join("py2/bin/kubernetes-validate");
    let manifests = ["configmap", "deployment", "service", "hpa", "pdb", "secret.example"];
    let files: Vec<String> = manifests.iter().map(|m| format!("deploy/k8s/{m}.yaml")).collect();
    let mut args = vec!["--strict", "--kubernetes-version", "1.30"];
    args.extend(files.iter().map(String::as_str));
    let said = run_ok(&validate.to_string_lossy(), &args, &[]);
    assert_eq!(said.matches("INFO").count(), manifests.len(), "{said}");
    // Every file the kustomization lists exists and validated above.
    let kustomization = std::fs::read_to_string(switchboard_testkit::repo_root().join("deploy/k8s/kustomization.yaml"))
        .expect("kustomization.yaml");
    for m in manifests.iter().filter(|m| !m.contains("example")) {
        assert!(kustomization.contains(&format!("- {m}.yaml")), "kustomization.yaml lists {m}.yaml");
    }
    // The Compose file against the Compose schema.
    let secrets = [("POSTGRES_PASSWORD", "pw"), ("SHOP_ADMIN_KEY", "admin"), ("SHOP_METRICS_KEY", "metrics")];
    run_ok(
        "docker-compose",
        &["--project-directory", "deploy", "-f", "deploy/compose.yaml", "config", "--quiet"],
        &secrets,
    );
    // HAProxy's configuration, and Prometheus's with the alert rules.
    run_ok("haproxy", &["-c", "-f", "deploy/haproxy/haproxy.cfg"], &[]);
    let dir = scratch("scale-prometheus");
    let _ = std::fs::create_dir_all(&dir);
    let prometheus = std::fs::read_to_string(switchboard_testkit::repo_root().join("deploy/prometheus/prometheus.yml"))
        .expect("prometheus.yml");
    let alerts = switchboard_testkit::repo_root().join("deploy/prometheus/alerts.yml");
    let key = dir.join("metrics_key");
    std::fs::write(&key, "k").expect("key file");
    let local = prometheus
        .replace("/etc/prometheus/alerts.yml", &alerts.to_string_lossy())
        .replace("/run/secrets/metrics_key", &key.to_string_lossy());
    std::fs::write(dir.join("prometheus.yml"), local).expect("prometheus.yml copy");
    let said = run_ok("promtool", &["check", "config", &dir.join("prometheus.yml").to_string_lossy()], &[]);
    assert!(said.contains("SUCCESS") && said.contains("rules found"), "{said}");
}

/// The demonstration server keeping its legacy sessions in the shared Redis.
fn demo_replica() -> ServerProcess {
    ServerProcess::spawn(
        &switchboard_bin(),
        &["serve", "--demo", "--listen", "127.0.0.1:0", "--redis-url", "redis://127.0.0.1:6379/0"],
    )
}

/// A `redis-server` of the test's own on a spare port (nothing saved), stopped when dropped.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
}

impl OwnRedis {
    fn start(extra: &[&str]) -> Self {
        let port = crate::interop::free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        crate::wait_for_listener(port, "redis-server", Duration::from_secs(10));
        Self { child, port }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A legacy request answered as plain JSON (its response was all it produced, so there is
/// nothing to resume) writes no event log to Redis; one answered as SSE does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_answers_of_shared_legacy_sessions_write_no_event_log() {
    let redis = OwnRedis::start(&["--notify-keyspace-events", "Kt"]);
    let url = format!("redis://127.0.0.1:{}/0", redis.port);
    let replica =
        ServerProcess::spawn(&switchboard_bin(), &["serve", "--demo", "--listen", "127.0.0.1:0", "--redis-url", &url]);
    let mut peer = HttpPeer::new(replica.mcp_url());
    peer.initialize(ProtocolVersion::V2025_11_25, json!({})).await;
    let session = peer.session.clone().expect("a session id");
    // Every stream write (XADD) for the session's request streams, as Redis announces it.
    let mut watch = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "--csv", "psubscribe", &format!("__keyspace@0__:*:{session}:r*")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("redis-cli is installed");
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..5 {
        let r = peer.legacy("tools/call", json!({"name": "echo", "arguments": {"message": "m"}})).await;
        assert_eq!(r.status, 200, "{:?}", r.messages);
    }
    // A call with progress is answered as SSE, from the log.
    let progress = json!({"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "p"}});
    let streamed = peer.legacy("tools/call", progress).await;
    assert!(streamed.last().get("result").is_some(), "{:?}", streamed.messages);
    std::thread::sleep(Duration::from_millis(300));
    let _ = watch.kill();
    let out = watch.wait_with_output().expect("redis-cli output");
    let events = String::from_utf8_lossy(&out.stdout);
    let streams: std::collections::BTreeSet<&str> = events
        .lines()
        .filter(|l| l.contains("\"xadd\""))
        .filter_map(|l| l.rsplit(&format!(":{session}:")).next())
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(streams.len(), 1, "only the SSE-answered request's stream is logged: {events}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_session_is_served_by_any_replica_sharing_redis() {
    let (a, b) = (demo_replica(), demo_replica());
    let mut on_a = HttpPeer::new(a.mcp_url());
    on_a.initialize(ProtocolVersion::V2025_11_25, json!({"sampling": {}})).await;
    let mut on_b = HttpPeer::new(b.mcp_url());
    on_b.session = on_a.session.clone();
    on_b.version = on_a.version;

    // B serves the session A opened, and sees what A changed in it.
    let listed = on_b.legacy("tools/list", json!({})).await;
    assert_eq!(listed.status, 200, "{:?}", listed.messages);
    assert!(listed.last()["result"]["tools"].as_array().is_some_and(|t| t.len() > 10), "{:?}", listed.messages);

    // A call's stream started on A, dropped, and resumed on B: every event once, in order, and
    // the result, while A is still producing it.
    crate::http::drop_and_resume(&mut on_a, &on_b).await;

    // A server request from a call running on A, answered through B.
    let mut stream = on_a
        .legacy_stream("tools/call", json!({"name": "test_sampling", "arguments": {"prompt": "Capital of France?"}}))
        .await;
    let priming = stream.next(Duration::from_secs(5)).await.expect("priming event");
    assert!(priming.data.is_empty(), "{priming:?}");
    let ask = stream.next(Duration::from_secs(5)).await.expect("sampling request");
    let ask: serde_json::Value = serde_json::from_str(&ask.data).expect("json");
    assert_eq!(ask["method"], "sampling/createMessage");
    let answer = json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"role": "assistant",
        "content": {"type": "text", "text": "Paris"}, "model": "m"}});
    assert_eq!(on_b.legacy_raw(&answer).await.status, 202);
    let done = stream.next(Duration::from_secs(5)).await.expect("the result, once B routed the answer");
    let done: serde_json::Value = serde_json::from_str(&done.data).expect("json");
    assert_eq!(done.pointer("/result/content/0/text"), Some(&json!("LLM response: Paris")), "{done}");

    // Ended on B, the session is gone on A too.
    assert_eq!(on_b.delete().await, 200);
    let gone = on_a.legacy("tools/list", json!({})).await;
    assert_eq!(gone.status, 404, "{:?}", gone.messages);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_result_cache_and_a_write_empties_it_on_every_replica() {
    let db = TempDb::new("cache");
    let dir = scratch("scale-cache");
    let key = "cache-admin-key-0123456789";
    let mut env = shop_env(&db);
    // A Redis database of its own: no other test's writes bump these tools' generations.
    env.push(("SWITCHBOARD_REDIS_URL".into(), "redis://127.0.0.1:6379/3".into()));
    env.push(("SHOP_ADMIN_KEY".into(), key.into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let a = serve_config(&shop_config(), &dir.join("a"), &env);
    let b = serve_config(&shop_config(), &dir.join("b"), &env);
    let mut on_a = HttpPeer::new(a.mcp_url()).with_api_key(key);
    let mut on_b = HttpPeer::new(b.mcp_url()).with_api_key(key);
    let marker = format!("cachetest{}", std::process::id());
    db.scalar(&format!("UPDATE products SET name = name || ' {marker}' WHERE sku = 'OUT-BT-400' RETURNING 1"));
    let search = json!({"name": "search_products", "arguments": {"query": marker}});
    let found = |reply: &switchboard_testkit::http::Reply| {
        reply.last()["result"]["structuredContent"]["rows"].as_array().map_or(usize::MAX, Vec::len)
    };
    let first = on_a.modern("tools/call", search.clone(), json!({})).await;
    assert_eq!(found(&first), 1, "{:?}", first.messages);

    // The product changes behind the cache's back: B answers from what A cached (B never ran it).
    db.scalar(&format!("UPDATE products SET name = 'renamed' WHERE name LIKE '%{marker}' RETURNING 1"));
    let cached = on_b.modern("tools/call", search.clone(), json!({})).await;
    assert_eq!(found(&cached), 1, "B is answered from the shared cache: {:?}", cached.messages);

    // An order placed on B empties search_products' cache everywhere: A sees the change too.
    let order = json!({"name": "create_order", "arguments": {"customer_id": "CUST-0001",
        "items": [{"sku": "HOM-PN-400", "quantity": 1}], "idempotency_key": format!("{marker}-order")}});
    let placed = on_b.modern("tools/call", order, json!({})).await;
    assert!(placed.last()["result"]["structuredContent"]["order_id"].is_string(), "{:?}", placed.messages);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let now = on_a.modern("tools/call", search.clone(), json!({})).await;
        if found(&now) == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "A still answers from its cache: {:?}", now.messages);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found(&on_b.modern("tools/call", search, json!({})).await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_wait_for_write_a_replica_killed_right_after_answering_has_written_the_calls_audit_row() {
    let db = TempDb::new("audit_wait");
    let dir = scratch("scale-audit-wait");
    let mut env = shop_env(&db);
    env.push(("SHOP_AUDIT_WAIT_FOR_WRITE".into(), "true".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let srv = serve_config(&shop_config(), &dir.join("data"), &env);
    let mut peer = HttpPeer::new(srv.mcp_url());
    let marker = format!("audit-wait-{}", std::process::id());
    for i in 0..5 {
        let call = json!({"name": "escalate_to_human", "arguments": {"customer_id": "CUST-0001",
            "priority": "low", "summary": format!("{marker}-{i}")}});
        let reply = peer.modern("tools/call", call, json!({})).await;
        assert_eq!(reply.status, 200, "{:?}", reply.messages);
    }
    // Killed the moment the last answer arrived: nothing queued may be lost.
    let _ = Command::new("kill").args(["-KILL", &srv.pid().to_string()]).status();
    drop(srv);
    let rows = db.scalar(&format!("SELECT count(*) FROM tool_calls WHERE arguments LIKE '%{marker}%'"));
    assert_eq!(rows, "5", "one audit row per answered call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_resumed_on_another_replica_ends_once_its_producer_is_gone() {
    // Short request timeouts: a live producer would have logged something within 2 s.
    let replica = || {
        ServerProcess::spawn(
            &switchboard_bin(),
            &[
                "serve",
                "--demo",
                "--listen",
                "127.0.0.1:0",
                "--redis-url",
                "redis://127.0.0.1:6379/0",
                "--request-timeout",
                "2",
                "--peer-request-timeout",
                "2",
            ],
        )
    };
    let (a, b) = (replica(), replica());
    let mut on_a = HttpPeer::new(a.mcp_url());
    on_a.initialize(ProtocolVersion::V2025_11_25, json!({})).await;
    let mut on_b = HttpPeer::new(b.mcp_url());
    on_b.session = on_a.session.clone();
    on_b.version = on_a.version;
    let mut stream = on_a
        .legacy_stream(
            "tools/call",
            json!({"name": "slow", "arguments": {"ms": 60000, "steps": 60}, "_meta": {"progressToken": 1}}),
        )
        .await;
    let mut last_id = None;
    let mut seen = 0;
    while seen < 2 {
        let e = stream.next(Duration::from_secs(5)).await.expect("progress before the kill");
        last_id = e.id.clone();
        seen += usize::from(!e.data.is_empty());
    }
    drop(stream);
    let _ = Command::new("kill").args(["-KILL", &a.pid().to_string()]).status();
    drop(a);
    // B replays what A logged, then ends the stream instead of holding it open for ever.
    let started = Instant::now();
    let mut resumed = on_b.get(last_id.as_deref(), None).await;
    assert_eq!(resumed.status, 200);
    let drained = tokio::time::timeout(Duration::from_secs(40), async {
        while resumed.next(Duration::from_secs(30)).await.is_some() {}
    })
    .await;
    let took = started.elapsed();
    assert!(drained.is_ok() && took < Duration::from_secs(25), "the orphaned stream ended after {took:?}");
}

/// Polls `tasks/get` (modern) on `peer` until the task's status is `want` or 15 s pass.
async fn modern_task_status(peer: &mut HttpPeer, id: &str, want: &str) -> serde_json::Value {
    let caps = json!({"elicitation": {}, "extensions": {"io.modelcontextprotocol/tasks": {}}});
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = peer.modern("tasks/get", json!({"taskId": id}), caps.clone()).await.last().clone();
        if got.pointer("/result/status") == Some(&json!(want)) || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_answered_by_any_replica_outlive_a_restart_and_fail_when_their_runner_dies() {
    let caps = json!({"elicitation": {}, "extensions": {"io.modelcontextprotocol/tasks": {}}});
    let task_id = |reply: &serde_json::Value| {
        reply.pointer("/result/taskId").and_then(serde_json::Value::as_str).expect("a task id").to_owned()
    };
    let (a, b) = (demo_replica(), demo_replica());
    let (mut on_a, mut on_b) = (HttpPeer::new(a.mcp_url()), HttpPeer::new(b.mcp_url()));

    // A task that runs on A waits for input, which the client gives through B.
    let created = on_a
        .modern("tools/call", json!({"name": "confirm_delete", "arguments": {"filename": "a.txt"}}), caps.clone())
        .await;
    let asking = task_id(created.last());
    let parked = modern_task_status(&mut on_b, &asking, "input_required").await;
    assert_eq!(parked.pointer("/result/inputRequests/confirm/method"), Some(&json!("elicitation/create")), "{parked}");
    let ack = on_b
        .modern(
            "tasks/update",
            json!({"taskId": asking, "inputResponses": {"confirm": {"action": "accept", "content": {"confirm": true}}}}),
            caps.clone(),
        )
        .await;
    assert_eq!(ack.last().pointer("/result/resultType"), Some(&json!("complete")), "{:?}", ack.messages);
    let done = modern_task_status(&mut on_b, &asking, "completed").await;
    assert_eq!(done.pointer("/result/result/content/0/text"), Some(&json!("deleted a.txt")), "{done}");

    // Cancelled through B, the task running on A stops and stays cancelled.
    let long =
        on_a.modern("tools/call", json!({"name": "slow_compute", "arguments": {"seconds": 60}}), caps.clone()).await;
    let long = task_id(long.last());
    let cancel = on_b.modern("tasks/cancel", json!({"taskId": long}), caps.clone()).await;
    assert!(cancel.last().get("result").is_some(), "{:?}", cancel.messages);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = modern_task_status(&mut on_a, &long, "cancelled").await;
    assert_eq!(still.pointer("/result/status"), Some(&json!("cancelled")), "{still}");

    // A finished task's result outlives every process that knew it.
    let quick = on_a
        .modern(
            "tools/call",
            json!({"name": "slow_compute", "arguments": {"seconds": 0.2, "label": "q"}}),
            caps.clone(),
        )
        .await;
    let quick = task_id(quick.last());
    let finished = modern_task_status(&mut on_a, &quick, "completed").await;
    assert_eq!(finished.pointer("/result/status"), Some(&json!("completed")), "{finished}");
    // A task still running when its only process dies is reported failed, not working forever.
    let orphan =
        on_b.modern("tools/call", json!({"name": "slow_compute", "arguments": {"seconds": 60}}), caps.clone()).await;
    let orphan = task_id(orphan.last());
    for replica in [a, b] {
        let _ = Command::new("kill").args(["-KILL", &replica.pid().to_string()]).status();
    }
    let c = demo_replica();
    let mut on_c = HttpPeer::new(c.mcp_url());
    let kept = modern_task_status(&mut on_c, &quick, "completed").await;
    assert_eq!(kept.pointer("/result/result/content/0/text"), Some(&json!("computed q in 0.2 s")), "{kept}");
    let started = Instant::now();
    let dead = modern_task_status(&mut on_c, &orphan, "failed").await;
    assert_eq!(dead.pointer("/result/status"), Some(&json!("failed")), "{dead}");
    assert!(
        dead.pointer("/result/error/message")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|m| m.contains("stopped before it finished")),
        "{dead}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "noticed after {:?}", started.elapsed());

    // Legacy tasks belong to the session on every replica: listed and answered through another.
    let d = demo_replica();
    let mut legacy_c = HttpPeer::new(c.mcp_url());
    legacy_c.initialize(ProtocolVersion::V2025_11_25, json!({})).await;
    let mut legacy_d = HttpPeer::new(d.mcp_url());
    legacy_d.session = legacy_c.session.clone();
    legacy_d.version = legacy_c.version;
    let created = legacy_c
        .legacy(
            "tools/call",
            json!({"name": "slow_compute", "arguments": {"seconds": 0.3, "label": "l"}, "task": {"ttl": 60000}}),
        )
        .await;
    let id = created.last().pointer("/result/task/taskId").and_then(serde_json::Value::as_str).expect("id").to_owned();
    let listed = legacy_d.legacy("tasks/list", json!({})).await;
    assert!(
        listed.last()["result"]["tasks"].as_array().is_some_and(|t| t.iter().any(|t| t["taskId"] == id)),
        "{:?}",
        listed.messages
    );
    let result = legacy_d.legacy("tasks/result", json!({"taskId": id})).await;
    assert_eq!(
        result.last().pointer("/result/content/0/text"),
        Some(&json!("computed l in 0.3 s")),
        "{:?}",
        result.messages
    );
    // Another session (same caller) does not see it.
    let mut stranger = HttpPeer::new(d.mcp_url());
    stranger.initialize(ProtocolVersion::V2025_11_25, json!({})).await;
    let hidden = stranger.legacy("tasks/get", json!({"taskId": id})).await;
    assert_eq!(hidden.last().pointer("/error/code"), Some(&json!(-32602)), "{:?}", hidden.messages);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_announced_on_one_replica_reaches_a_session_listening_on_another_once() {
    let (a, b) = (demo_replica(), demo_replica());
    let mut on_a = HttpPeer::new(a.mcp_url());
    on_a.initialize(ProtocolVersion::V2025_11_25, json!({})).await;
    let mut on_b = HttpPeer::new(b.mcp_url());
    on_b.session = on_a.session.clone();
    on_b.version = on_a.version;
    // The client listens on B, then subscribes through A: B has never seen the subscription.
    let mut listening = on_b.get(None, None).await;
    assert_eq!(listening.status, 200);
    let subscribed = on_a.legacy("resources/subscribe", json!({"uri": "demo://watched"})).await;
    assert!(subscribed.last().get("result").is_some(), "{:?}", subscribed.messages);
    for (tool, arguments) in [
        ("test_trigger_tool_change", json!({})),
        ("test_trigger_resource_update", json!({"uri": "demo://watched"})),
        ("test_trigger_resource_update", json!({"uri": "demo://not-subscribed"})),
    ] {
        let called = on_a.legacy("tools/call", json!({"name": tool, "arguments": arguments})).await;
        assert!(called.last().get("result").is_some(), "{tool}: {:?}", called.messages);
    }
    let mut heard = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while let Some(event) = listening.next(deadline.saturating_duration_since(Instant::now())).await {
        if !event.data.is_empty() {
            let message: serde_json::Value = serde_json::from_str(&event.data).expect("json");
            heard.push(format!(
                "{} {}",
                message["method"].as_str().unwrap_or("?"),
                message["params"]["uri"].as_str().unwrap_or("")
            ));
        }
    }
    assert_eq!(
        heard,
        ["notifications/tools/list_changed ", "notifications/resources/updated demo://watched"],
        "each change announced on A reaches the stream on B once, and only what the session subscribed to"
    );
}

/// A config with the `echo` tool and `extra` more tools, each a `demo.echo`.
fn fanout_config(prefix: &str, extra: &[&str]) -> String {
    let mut text = format!(
        "server: {{name: fanout, redis_key_prefix: {prefix}}}\n\
         auth:\n  api_keys:\n    - {{id: alice, key: alice-key-0123456789, roles: [user]}}\n\
         audit: {{enabled: false}}\n\
         tools:\n  echo: {{description: Echoes., native: demo.echo, roles: [user]}}\n"
    );
    for name in extra {
        text.push_str(&format!("  {name}: {{description: Echoes too., native: demo.echo, roles: [user]}}\n"));
    }
    text
}

/// The tool names `replica` lists.
async fn tool_names(replica: &ServerProcess) -> Vec<String> {
    let mut peer = HttpPeer::new(replica.mcp_url()).with_api_key("alice-key-0123456789");
    let listed = peer.modern("tools/list", json!({}), json!({})).await;
    let mut names: Vec<String> = listed.last()["result"]["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The digest `switchboard_config_info` reports.
async fn config_digest(replica: &ServerProcess) -> String {
    let (status, text) = crate::guardrails::get(replica, "/metrics", Some("alice-key-0123456789")).await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix("switchboard_config_info{digest=\"")?.split('"').next().map(str::to_owned))
        .unwrap_or_else(|| panic!("no switchboard_config_info in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_on_one_replica_makes_the_others_look_at_their_config_and_a_different_file_is_reported() {
    let dir = scratch("config-fanout");
    let _ = std::fs::create_dir_all(&dir);
    let prefix = format!("fanout{}", std::process::id());
    let (file_a, file_b) = (dir.join("a.yaml"), dir.join("b.yaml"));
    for file in [&file_a, &file_b] {
        std::fs::write(file, fanout_config(&prefix, &[])).expect("config");
    }
    let redis = [("SWITCHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0")];
    let a = serve_config(&file_a, &dir.join("data-a"), &redis);
    let b = serve_config(&file_b, &dir.join("data-b"), &redis);
    assert_eq!(config_digest(&a).await, config_digest(&b).await, "the same file, the same digest");

    // B's file changes in a way its poll cannot see (its modification time is kept)...
    let old = std::fs::metadata(&file_b).and_then(|m| m.modified()).expect("mtime");
    std::fs::write(&file_b, fanout_config(&prefix, &["echo_two"])).expect("config");
    std::fs::File::options().write(true).open(&file_b).and_then(|f| f.set_modified(old)).expect("set mtime");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(tool_names(&b).await, ["echo"], "B's poll sees no change");
    // ...until A reloads the same change and says so: B looks at its file at once.
    std::fs::write(&file_a, fanout_config(&prefix, &["echo_two"])).expect("config");
    let deadline = Instant::now() + Duration::from_secs(5);
    while tool_names(&b).await.len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tool_names(&a).await, ["echo", "echo_two"]);
    assert_eq!(tool_names(&b).await, ["echo", "echo_two"], "B reloaded when A announced its reload");
    assert_eq!(config_digest(&a).await, config_digest(&b).await);

    // A file only A has: B keeps serving its own, and says the replicas differ.
    std::fs::write(&file_a, fanout_config(&prefix, &["echo_two", "echo_three"])).expect("config");
    let deadline = Instant::now() + Duration::from_secs(5);
    let differs = |r: &ServerProcess| r.logs().iter().any(|l| l.contains("replicas serve different config files"));
    while !differs(&b) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(differs(&b), "B reports that A serves another file");
    assert_eq!(tool_names(&b).await, ["echo", "echo_two"]);
    assert_ne!(config_digest(&a).await, config_digest(&b).await);
}
