//! The store going away mid-run (issue 8 item 6): a `diego bbs` replica on a
//! one-member etcd whose only member is killed with SIGKILL. Requests fail
//! with an error instead of hanging or landing half-way, the process stays
//! up, and once etcd is back on its data dir the replica serves again with
//! every acknowledged write and nothing that was refused.

mod support;

#[path = "../../control-plane/store-etcd/tests/common/mod.rs"]
mod etcd;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diego_model::Task;
use diego_sdk::Client;
use support::eventually;

/// SIGKILLed when the test ends, whatever happens.
struct Bbs(Child);

impl Drop for Bbs {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn task(guid: &str) -> Task {
    serde_json::from_value(serde_json::json!({
        "task_guid": guid, "domain": "outage", "rootfs": "preloaded:busybox", "memory_mb": 8,
        "action": {"run": {"path": "/bin/true", "user": "root"}}
    }))
    .unwrap()
}

/// A write with its own deadline, so a hang shows as a failure.
async fn desire(client: &Client, guid: &str) -> Result<(), String> {
    let t = task(guid);
    match tokio::time::timeout(
        Duration::from_secs(30),
        client.desire_task(guid, &t.domain, t.definition),
    )
    .await
    {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("no answer within 30 s".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_rides_out_an_etcd_outage_without_losing_or_inventing_writes() {
    let mut cluster = etcd::Cluster::single();
    let dir = tempfile::tempdir().unwrap();
    let port = etcd::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log = dir.path().join("bbs.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut bbs = Bbs(Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(["bbs", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--store",
            &format!("etcd://127.0.0.1:{}", cluster.members[0].client_port),
        ])
        .arg("--data-dir")
        .arg(dir.path().join("bbs"))
        .args(["--lock-ttl-ms", "3000"])
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("diego bbs starts"));
    let client = eventually("the replica to serve", Duration::from_secs(60), || async {
        let c = Client::connect(&url, None).await.ok()?;
        c.ping().await.ok()?.then_some(c)
    })
    .await;
    for i in 0..20 {
        desire(&client, &format!("before-{i}")).await.unwrap();
    }

    cluster.members[0].kill();
    // with its store gone every write is refused (by the replica, or by
    // nobody listening once it stood down); none may hang
    let refused = ["during-0", "during-1", "during-2"];
    for guid in refused {
        let err = desire(&client, guid)
            .await
            .expect_err("a write without a store must fail");
        eprintln!("{guid} refused: {err}");
        assert!(!err.contains("no answer"), "{guid}: {err}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    assert!(
        bbs.0.try_wait().unwrap().is_none(),
        "diego bbs exited when etcd went away:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    cluster.members[0].start();
    cluster.wait_healthy();
    eventually(
        "the replica to serve again",
        Duration::from_secs(60),
        || async {
            let c = Client::connect(&url, None).await.ok()?;
            c.ping().await.ok()?.then_some(())
        },
    )
    .await;
    let client = Client::connect(&url, None).await.unwrap();
    eventually("a write to succeed", Duration::from_secs(30), || async {
        desire(&client, "after-0").await.ok()
    })
    .await;
    let guids: Vec<String> = client
        .tasks("outage", "")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.task_guid)
        .collect();
    for i in 0..20 {
        let guid = format!("before-{i}");
        assert!(guids.contains(&guid), "acknowledged {guid} lost: {guids:?}");
    }
    for guid in refused {
        assert!(!guids.contains(&guid.to_string()), "refused {guid} landed");
    }
    assert!(guids.contains(&"after-0".to_string()));
    assert!(
        bbs.0.try_wait().unwrap().is_none(),
        "diego bbs exited:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
