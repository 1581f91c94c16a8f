//! Root writes the metrics textfile into a folder another account may own (on Debian the
//! `prometheus` account owns /var/lib/prometheus): a link swapped in anywhere on the path
//! must not carry root's write elsewhere (found in review; failed on the first version).

#[test]
fn the_textfile_is_never_written_through_a_linked_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = tmp.path().join("lab");
    std::fs::create_dir_all(lab.join("cfg")).unwrap();
    // What the prometheus account controls: /var/lib/prometheus.
    let prom_home = tmp.path().join("var-lib-prometheus");
    std::fs::create_dir_all(&prom_home).unwrap();
    // Where it would like root to write: any folder.
    let elsewhere = tmp.path().join("etc-something");
    std::fs::create_dir_all(&elsewhere).unwrap();
    // It replaces node-exporter/ with a link (it owns the parent).
    std::os::unix::fs::symlink(&elsewhere, prom_home.join("node-exporter")).unwrap();
    let textfile = prom_home.join("node-exporter").join("aivc.prom");
    let root = hostinfo::Root::at(&lab);
    let refused = root
        .write_metrics_textfile(&textfile, "aivc_gpus 4\n")
        .unwrap_err()
        .to_string();
    assert!(refused.contains("symbolic link"), "{refused}");
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "root wrote through the link into {}",
        elsewhere.display()
    );

    // The real folder works, and a link at the file's own name is replaced, not followed.
    std::fs::remove_file(prom_home.join("node-exporter")).unwrap();
    std::fs::create_dir(prom_home.join("node-exporter")).unwrap();
    let target = elsewhere.join("victim");
    std::fs::write(&target, "untouched").unwrap();
    std::os::unix::fs::symlink(&target, &textfile).unwrap();
    root.write_metrics_textfile(&textfile, "aivc_gpus 4\n")
        .unwrap();
    assert_eq!(std::fs::read_to_string(&textfile).unwrap(), "aivc_gpus 4\n");
    assert!(!std::fs::symlink_metadata(&textfile).unwrap().is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    let left: Vec<_> = std::fs::read_dir(prom_home.join("node-exporter"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "a temporary file was left: {left:?}");
}
