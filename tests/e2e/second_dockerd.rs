//! A second Docker engine beside the suite's shared one, for tests that need a daemon of their
//! own (restarting it) or a second host (several hosts per stage).

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::kit::*;

/// A second dockerd with its own data, exec root and socket, in a network namespace of its
/// own. Two daemons in one namespace fight over `docker0`: a second daemon that shares it
/// re-addresses it (the first one's published ports go dead), and one given another bridge
/// or `--bridge=none` deletes `docker0` when it restarts, under the suite's other tests. The
/// engine reaches it through its Unix socket only, and the edge is asked from inside. (This
/// is also what a second host is like: nothing shared but what Slipway connects to.)
pub struct PrivateDockerd {
    dir: tempfile::TempDir,
    exec_root: PathBuf,
    netns: String,
    child: Option<Child>,
    /// The daemon's address on a link from the test's namespace, when it has one.
    pub address: Option<String>,
}

impl PrivateDockerd {
    pub fn start_new() -> PrivateDockerd {
        PrivateDockerd::start_with(false)
    }

    /// A daemon the test's namespace can reach as another machine: a veth pair gives its
    /// namespace an address (`address`), where dockerd also listens on TCP port 2375 and the
    /// edge's published port answers. User networks come from 10.99.0.0/16, so a container
    /// can tell it runs on this host by its address.
    pub fn start_linked() -> PrivateDockerd {
        PrivateDockerd::start_with(true)
    }

    fn start_with(linked: bool) -> PrivateDockerd {
        let dir = tempfile::tempdir().unwrap();
        // The exec root holds containerd's sockets, whose paths must stay short.
        // Tests of one process run at once: each daemon gets its own number.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let exec_root = PathBuf::from(format!("/run/sw-d2-{}-{n}", std::process::id()));
        let netns = format!("sw-d2-{}-{n}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &netns]).output();
        let out = Command::new("ip").args(["netns", "add", &netns]).output().unwrap();
        assert!(out.status.success(), "ip netns add: {}", String::from_utf8_lossy(&out.stderr));
        let _ = Command::new("ip").args(["-n", &netns, "link", "set", "lo", "up"]).output();
        let address = linked.then(|| link(&netns, n));
        let mut d = PrivateDockerd { dir, exec_root, netns, child: None, address };
        d.start();
        for image in [busybox_image(), edge_image()] {
            let out = Command::new("sh").args(["-c", &format!("docker save {image} | docker -H {} load", d.host())]).output().unwrap();
            assert!(out.status.success(), "loading {image}: {}", String::from_utf8_lossy(&out.stderr));
        }
        d
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    pub fn start(&mut self) {
        let p = self.dir.path();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(p.join("dockerd.log")).unwrap();
        // nsenter, not `ip netns exec`: that one remounts /sys, and dockerd then finds no cgroups.
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.netns))
            .args(["dockerd", "--iptables=false", "--ip6tables=false", "--storage-driver=vfs"])
            .arg(format!("--data-root={}", p.join("data").display()))
            .arg(format!("--exec-root={}", self.exec_root.display()))
            .arg(format!("--pidfile={}", p.join("docker.pid").display()))
            .arg(format!("--host={}", self.host()))
            .args(
                self.address
                    .iter()
                    .flat_map(|a| [format!("--host=tcp://{a}:2375"), "--default-address-pool=base=10.99.0.0/16,size=24".into()]),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(60);
        while !self.docker(&["version"]).status.success() {
            let log = std::fs::read_to_string(p.join("dockerd.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            assert!(Instant::now() < until, "the private dockerd did not answer within 60 s; its log ends: {tail:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops dockerd as a system shutdown or an upgrade does (SIGTERM: it stops the containers
    /// and exits), and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let until = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < until, "dockerd did not stop within 60 s");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker").arg("-H").arg(self.host()).args(args).output().unwrap()
    }

    /// What the edge answers for `host` on /, asked from inside the edge container (its
    /// published port is in the daemon's namespace); None when it does not answer 2xx. (This
    /// busybox's wget crashes on `-T`: `timeout` bounds it instead, as the health probes do.)
    pub fn via_edge(&self, instance: &str, host: &str) -> Option<String> {
        let edge = format!("slipway-edge-{instance}");
        let header = format!("Host: {host}");
        let out = self.docker(&["exec", &edge, "timeout", "3", "wget", "-q", "-O", "-", "--header", &header, "http://127.0.0.1:80/"]);
        if !out.status.success() {
            eprintln!("the edge did not answer {host}: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
            return None;
        }
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    pub fn names(&self, instance: &str, extra: &str) -> Vec<String> {
        let out = self.docker(&[
            "ps",
            "-a",
            "--format",
            "{{.Names}}",
            "--filter",
            &format!("label=dev.slipway.instance={instance}"),
            "--filter",
            extra,
        ]);
        let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        names.sort();
        names
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        if self.child.is_some() {
            let all = self.docker(&["ps", "-aq"]);
            for id in String::from_utf8_lossy(&all.stdout).split_whitespace() {
                self.docker(&["rm", "-f", "-v", id]);
            }
        }
        self.stop();
        // vfs layers are plain directories; the exec root is outside the temporary directory.
        let _ = std::fs::remove_dir_all(&self.exec_root);
        let _ = Command::new("ip").args(["netns", "del", &self.netns]).output();
        if self.address.is_some() {
            let _ = Command::new("ip").args(["link", "del", &veth_name(&self.netns)]).output();
        }
    }
}

fn veth_name(netns: &str) -> String {
    // Interface names are at most 15 bytes.
    format!("swv{}", netns.trim_start_matches("sw-d2-").replace('-', "")).chars().take(15).collect()
}

/// A veth pair from this namespace into `netns`: 10.98.N.1 here, 10.98.N.2 there (N from the
/// process id and the daemon's number, so daemons of parallel tests do not collide). Returns
/// the address there.
fn link(netns: &str, n: u32) -> String {
    let n = (std::process::id() * 7 + n) % 250 + 1;
    let (here, there) = (format!("10.98.{n}.1"), format!("10.98.{n}.2"));
    let outer = veth_name(netns);
    let _ = Command::new("ip").args(["link", "del", &outer]).output();
    let ip = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().unwrap();
        assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    ip(&["link", "add", &outer, "type", "veth", "peer", "name", "eth-sw", "netns", netns]);
    ip(&["addr", "add", &format!("{here}/24"), "dev", &outer]);
    ip(&["link", "set", &outer, "up"]);
    ip(&["-n", netns, "addr", "add", &format!("{there}/24"), "dev", "eth-sw"]);
    ip(&["-n", netns, "link", "set", "eth-sw", "up"]);
    there
}
