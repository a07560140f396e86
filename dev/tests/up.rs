//! `dev up` (what `make dev` runs) end to end: it starts PostgreSQL, the emulator when
//! installed, and every function on one port; Ctrl-C stops everything it started, by PID.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn pid_after(line: &str, marker: &str) -> Option<u32> {
    let rest = &line[line.find(marker)? + marker.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn dev_up_serves_every_function_and_ctrl_c_stops_everything() {
    let state = std::env::temp_dir().join(format!("olympus-dev-up-{}", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dev"))
        .args(["up", "--port", &port.to_string()])
        .arg("--state-dir")
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut pids = Vec::new();
    let mut printed = String::new();
    for line in stdout.by_ref() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(pid) = pid_after(&line, "(pid ") {
            pids.push(pid);
        }
        if line.contains("Ctrl-C stops everything") {
            break;
        }
    }
    // Keep reading, as a terminal would, so its shutdown messages have somewhere to go.
    let rest =
        std::thread::spawn(move || stdout.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    assert!(printed.contains("PostgreSQL"), "{printed}");
    assert!(printed.contains("relay-outbox"), "{printed}");
    assert!(printed.contains("GET /v1/admin/dead-letters"), "{printed}");
    assert!(
        !pids.is_empty(),
        "the PIDs it started are printed: {printed}"
    );

    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("serving");
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    assert!(response.contains(r#"{"status":"ok"}"#), "{response}");
    let token = std::fs::read_to_string(state.join("operator.token")).unwrap();
    assert_eq!(token.split('.').count(), 3, "an operator JWT is written");

    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "dev up did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    let rest = rest.join().unwrap();
    assert!(status.success(), "{status:?}: {rest}");
    assert!(rest.contains("stopped."), "{rest}");
    for pid in pids {
        assert!(!alive(pid), "process {pid} it started is still running");
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    let _ = std::fs::remove_dir_all(&state);
}
