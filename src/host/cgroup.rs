//! The container a process belongs to, from `/proc/<pid>/cgroup`: containerd, CRI-O and
//! Docker, cgroup v1 and v2, systemd and cgroupfs drivers.

/// The 64-hex container ID of the first cgroup line that names one, or `None` for a process
/// that is not in a container (or a runtime shape not recognised).
///
/// Shapes:
/// - v2 systemd: `0::/kubepods.slice/…/cri-containerd-<id>.scope`, `crio-<id>.scope`,
///   `docker-<id>.scope` (a `crio-conmon-<id>.scope` is the monitor, not the container)
/// - v2/v1 cgroupfs: `…/kubepods/burstable/pod<uid>/<id>`, `/docker/<id>`
/// - v1: one line per controller, `12:memory:/docker/<id>`
pub fn container_id(cgroup: &str) -> Option<String> {
    cgroup.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        path.split('/').rev().find_map(id_of_segment)
    })
}

fn id_of_segment(segment: &str) -> Option<String> {
    let s = segment.strip_suffix(".scope").unwrap_or(segment);
    if s.starts_with("crio-conmon-") {
        return None;
    }
    let id = s.rsplit(['-', ':']).next()?;
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// `containerd://<id>`, `cri-o://<id>`, `docker://<id>` (a pod's `containerID`) -> `<id>`.
pub fn strip_runtime(container_id: &str) -> &str {
    container_id
        .split_once("://")
        .map_or(container_id, |(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1c0aa1d2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d";

    #[test]
    fn runtime_shapes() {
        let cases = [
            format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c_3d4e.slice/cri-containerd-{ID}.scope"),
            format!("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podab.slice/crio-{ID}.scope"),
            format!("0::/system.slice/docker-{ID}.scope"),
            format!("0::/kubepods/burstable/pod1b2c3d4e-0000-1111-2222-333344445555/{ID}"),
            format!("12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n0::/"),
            format!("13:name=systemd:/\n5:cpu,cpuacct:/kubepods/besteffort/podx/{ID}"),
            format!("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-{}.scope", ID.to_uppercase()),
        ];
        for c in &cases {
            assert_eq!(container_id(c).as_deref(), Some(ID), "{c}");
        }
    }

    #[test]
    fn not_in_a_container() {
        for c in [
            "0::/init.scope",
            "0::/user.slice/user-1000.slice/session-2.scope",
            "12:memory:/\n0::/",
            "",
            "garbage",
            &format!("0::/kubepods.slice/crio-conmon-{ID}.scope"),
            "0::/system.slice/docker-abc.scope",
        ] {
            assert_eq!(container_id(c), None, "{c}");
        }
    }

    #[test]
    fn pod_container_ids_lose_their_runtime() {
        assert_eq!(strip_runtime(&format!("containerd://{ID}")), ID);
        assert_eq!(strip_runtime(&format!("cri-o://{ID}")), ID);
        assert_eq!(strip_runtime(ID), ID);
    }
}
