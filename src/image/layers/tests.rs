//! Layers applied for real: tar streams built here, including hostile ones whose names the
//! tar crate's own builder would refuse (written into raw headers).

use super::*;

enum E<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Fifo(&'a str),
}

fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (name, kind, data, mode, link): (&str, tar::EntryType, &[u8], u32, Option<&str>) =
            match e {
                E::File(n, d, m) => (n, tar::EntryType::Regular, d, *m, None),
                E::Dir(n) => (n, tar::EntryType::Directory, b"", 0o755, None),
                E::Symlink(n, t) => (n, tar::EntryType::Symlink, b"", 0o777, Some(t)),
                E::Hardlink(n, t) => (n, tar::EntryType::Link, b"", 0o644, Some(t)),
                E::Fifo(n) => (n, tar::EntryType::Fifo, b"", 0o644, None),
            };
        raw_name(&mut h.as_gnu_mut().expect("gnu").name, name);
        if let Some(t) = link {
            raw_name(&mut h.as_gnu_mut().expect("gnu").linkname, t);
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        b.append(&h, data).expect("append");
    }
    b.into_inner().expect("finish")
}

fn raw_name(field: &mut [u8; 100], name: &str) {
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

fn rootfs() -> Rootfs {
    Rootfs::new(Limits::default()).expect("tempdir")
}

const ELF: &[u8] = b"\x7fELF\x02\x01\x01rest-of-a-binary";

#[test]
fn files_links_and_whiteouts_across_layers() {
    let mut fs = rootfs();
    fs.apply_layer(
        0,
        &tar_of(&[
            E::Dir("usr/"),
            E::File("./usr/bin/bad", ELF, 0o755),
            E::File("usr/bin/keep", ELF, 0o755),
            E::File("etc/os-release", b"ID=test\n", 0o644),
            E::File("opt/app/old", b"x", 0o644),
            E::Symlink("usr/bin/sh", "/usr/bin/keep"),
        ])[..],
    )
    .expect("layer 0");
    fs.apply_layer(
        1,
        &tar_of(&[
            E::File("usr/bin/.wh.bad", b"", 0o644),
            E::File("opt/app/.wh..wh..opq", b"", 0o644),
            E::File("opt/app/new", b"y", 0o644),
            E::Hardlink("usr/bin/keep2", "usr/bin/keep"),
        ])[..],
    )
    .expect("layer 1");
    let root = fs.path();
    assert!(
        !root.join("usr/bin/bad").exists(),
        "whiteout removes the lower file"
    );
    assert_eq!(
        std::fs::read(root.join("usr/bin/keep2")).expect("hardlink"),
        ELF
    );
    assert!(
        !root.join("opt/app/old").exists(),
        "opaque hides lower entries"
    );
    assert!(
        root.join("opt/app/new").exists(),
        "opaque keeps its own layer's entries"
    );
    assert_eq!(
        std::fs::read_link(root.join("usr/bin/sh")).expect("link"),
        Path::new("/usr/bin/keep")
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/os-release")).expect("kept"),
        "ID=test\n"
    );
    assert_eq!(fs.stats.elf_files, 2);
    let mode = std::fs::metadata(root.join("usr/bin/keep"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "execute bits survive");
}

#[test]
fn a_symlinked_parent_stays_inside_the_root() {
    let outside = tempfile::tempdir().expect("tempdir");
    let target = outside.path().to_string_lossy().into_owned();
    // In one layer, a link is followed, inside the root.
    let mut fs = rootfs();
    fs.apply_layer(
        0,
        &tar_of(&[
            E::Symlink("usr/lib", &target),
            E::File("usr/lib/same.so", ELF, 0o755),
        ])[..],
    )
    .expect("absolute links are fine: they resolve inside the root");
    let inside = fs
        .path()
        .join(target.trim_start_matches('/'))
        .join("same.so");
    assert!(
        inside.is_file(),
        "written at the link's target inside the root: {}",
        inside.display()
    );
    // A later layer never writes through a lower layer's link: its directory replaces it.
    fs.apply_layer(1, &tar_of(&[E::File("usr/lib/evil.so", ELF, 0o755)])[..])
        .expect("layer 1");
    assert!(fs.path().join("usr/lib").is_dir() && !fs.path().join("usr/lib").is_symlink());
    assert!(fs.path().join("usr/lib/evil.so").is_file());
    assert_eq!(
        std::fs::read_dir(outside.path()).expect("read").count(),
        0,
        "nothing written outside"
    );
}

#[test]
fn an_upper_layer_cannot_reach_through_a_lower_link() {
    let mut fs = rootfs();
    fs.apply_layer(
        0,
        &tar_of(&[E::File("real/app", ELF, 0o755), E::Symlink("alias", "real")])[..],
    )
    .expect("layer 0");
    fs.apply_layer(
        1,
        &tar_of(&[
            E::File("alias/.wh.app", b"", 0o644),
            E::File("alias/other", b"x", 0o644),
        ])[..],
    )
    .expect("layer 1");
    assert!(
        fs.path().join("real/app").is_file(),
        "the whiteout under the replaced link hides nothing of real/"
    );
    assert!(fs.path().join("alias/other").is_file());
    assert!(!fs.path().join("real/other").exists());
}

fn hostile_case(entries: &[E<'_>]) -> String {
    let mut fs = rootfs();
    match fs.apply_layer(0, &tar_of(entries)[..]) {
        Err(e) => e.to_string(),
        Ok(()) => panic!("accepted a hostile layer"),
    }
}

#[test]
fn hostile_entries_stop_the_image() {
    assert!(hostile_case(&[E::File("../escape", b"x", 0o644)]).contains("climbs out"));
    assert!(hostile_case(&[E::File("a/../../escape", b"x", 0o644)]).contains("climbs out"));
    assert!(hostile_case(&[E::File("/etc/passwd", b"x", 0o644)]).contains("absolute entry name"));
    assert!(hostile_case(&[E::Symlink("usr/x", "../../../etc/passwd")])
        .contains("leaves the image root"));
    assert!(hostile_case(&[E::Hardlink("usr/x", "../etc/shadow")]).contains("climbs out"));
    assert!(
        hostile_case(&[E::Hardlink("usr/x", "etc/missing")]).contains("not a file in the image")
    );
    assert!(hostile_case(&[E::Fifo("run/fifo")]).contains("device node or fifo"));
}

#[test]
fn a_whiteout_of_dot_dot_is_refused_and_removes_nothing() {
    let parent = tempfile::tempdir().expect("tmp");
    let victim = parent.path().join("victim.txt");
    std::fs::write(&victim, "keep").expect("write");
    for name in [".wh..", ".wh.", "a/.wh.."] {
        let mut fs = Rootfs::new(Limits::default()).expect("tmp");
        let err = fs
            .apply_layer(0, &tar_of(&[E::File(name, b"", 0o644)])[..])
            .expect_err(name);
        assert!(
            err.to_string().contains("whiteout of no single name"),
            "{name}: {err}"
        );
        assert!(fs.path().is_dir(), "{name}: the root itself survives");
    }
    assert!(victim.exists());
}

#[test]
fn a_hardlink_to_a_symlink_does_not_reach_the_host() {
    let msg = hostile_case(&[
        E::Symlink("etc/shadow", "/etc/shadow"),
        E::Hardlink("x", "etc/shadow"),
    ]);
    assert!(msg.contains("not a file in the image"), "{msg}");
}

#[test]
fn limits() {
    let big = vec![0u8; 64 << 10];
    let layer = tar_of(&[E::File("a", &big, 0o644), E::File("b", &big, 0o644)]);
    let mut fs = Rootfs::new(Limits {
        max_image_bytes: 100 << 10,
        ..Limits::default()
    })
    .expect("tmp");
    assert!(matches!(
        fs.apply_layer(0, &layer[..]),
        Err(LayerError::TooBig { .. })
    ));
    let mut fs = Rootfs::new(Limits {
        max_file_bytes: 1 << 10,
        ..Limits::default()
    })
    .expect("tmp");
    assert!(matches!(
        fs.apply_layer(0, &layer[..]),
        Err(LayerError::FileTooBig { .. })
    ));
    let mut fs = Rootfs::new(Limits {
        max_entries: 1,
        ..Limits::default()
    })
    .expect("tmp");
    assert!(matches!(
        fs.apply_layer(0, &layer[..]),
        Err(LayerError::TooManyEntries { limit: 1 })
    ));
}

#[test]
fn a_truncated_layer_is_an_error() {
    let layer = tar_of(&[E::File("usr/bin/app", &[7u8; 4096], 0o755)]);
    let mut fs = rootfs();
    assert!(fs.apply_layer(0, &layer[..1000]).is_err());
}

#[test]
fn gzip_and_zstd_are_sniffed() {
    let layer = tar_of(&[E::File("usr/bin/app", ELF, 0o755)]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer).expect("gz");
    let gz = gz.finish().expect("gz");
    let zs = zstd::stream::encode_all(&layer[..], 1).expect("zstd");
    for blob in [gz, zs, layer.clone()] {
        let mut fs = rootfs();
        fs.apply_layer(0, decompress(&blob[..]).expect("sniff"))
            .expect("apply");
        assert!(fs.path().join("usr/bin/app").is_file());
    }
}
