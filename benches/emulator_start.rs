//! Emulator start-up: `Emulator::builder()...start()` vs binding a bare
//! tokio `TcpListener`, the floor of "a server on a port".
//!
//! In the same run, times (median of many runs) the bare bind, an emulator
//! with one organisation and login, the same answering its first request
//! (`GET /api/v1/me` over a fresh TCP connection), and an emulator seeded
//! with 10,000 users; prints each next to the baseline as a ratio. The claim
//! it supports: an in-process emulator is ready in well under a second.
//!
//! Run with `cargo bench --bench emulator_start`.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use muster_emulator::{Emulator, EmulatorBuilder, Login, Org};

const RUNS: usize = 101;

fn small() -> EmulatorBuilder {
    Emulator::builder()
        .org(Org::new("example.com").domain("example.org"))
        .login(Login::org_admin("admin@example.com", "pw", "example.com"))
}

fn seeded(users: usize) -> EmulatorBuilder {
    let mut org = Org::new("example.com");
    for i in 0..users {
        org = org.user(serde_json::json!({
            "primary_email": format!("user{i}@example.com"),
            "firstname": "F", "surname": "S",
            "alias_emails": [format!("alias{i}@example.com")],
        }));
    }
    Emulator::builder()
        .org(org)
        .login(Login::org_admin("admin@example.com", "pw", "example.com"))
}

/// One raw HTTP/1.1 request on a new connection; returns the status line.
fn first_request(base_url: &str) -> String {
    let addr = base_url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET /api/v1/me HTTP/1.1\r\nHost: {addr}\r\nX-User: admin@example.com\r\nX-Password: pw\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out.lines().next().unwrap_or_default().to_owned()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (mut bare, mut start, mut ready, mut big) = (vec![], vec![], vec![], vec![]);
        for round in 0..RUNS {
            let t = Instant::now();
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            bare.push(t.elapsed());
            drop(l);

            let t = Instant::now();
            let emu = small().start().await.expect("start");
            start.push(t.elapsed());
            let base = emu.base_url().to_owned();
            let status = tokio::task::spawn_blocking(move || first_request(&base))
                .await
                .expect("join");
            ready.push(t.elapsed());
            assert_eq!(status, "HTTP/1.1 200 OK");
            drop(emu);

            if round % 10 == 0 {
                let builder = seeded(10_000);
                let t = Instant::now();
                let emu = builder.start().await.expect("start seeded");
                big.push(t.elapsed());
                assert_eq!(emu.users("example.com").len(), 10_000);
            }
        }
        let base = median(bare);
        let row = |name: &str, d: Duration| {
            println!(
                "{name:<44} {:>9.3} ms   {:>8.1}x baseline",
                d.as_secs_f64() * 1e3,
                d.as_secs_f64() / base.as_secs_f64()
            );
        };
        println!(
            "median of {RUNS} runs (10,000-user seed: {} runs)",
            RUNS / 10 + 1
        );
        row("baseline: bare TcpListener::bind", base);
        row("emulator start (1 org, 1 login)", median(start));
        row("emulator start + first GET /me answered", median(ready));
        row("emulator start seeded with 10,000 users", median(big));
    });
}
