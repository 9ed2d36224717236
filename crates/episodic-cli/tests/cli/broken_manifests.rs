//! Every broken manifest in `tests/fixtures/broken` is refused with a diagnostic that names the
//! file and line; every manifest in `tests/fixtures/warnings` passes with its warning.

use crate::support::{episodic, fixtures, yaml_files};

#[test]
fn broken_manifests_are_refused_with_a_located_diagnostic() {
    let root = fixtures();
    let names = yaml_files(&root.join("broken"));
    assert!(names.len() >= 20, "the corpus shrank to {}", names.len());
    for name in names {
        let path = format!("broken/{name}");
        let output = episodic(root, &["validate", &path]);
        assert_eq!(output.code, 1, "{path} should exit 1:\n{}", output.stderr);
        assert!(!output.stderr.contains("panicked"), "{path} panicked:\n{}", output.stderr);
        let located = regex_like_location(&output.stderr, &path);
        assert!(located, "{path}: the diagnostic does not name the file and line:\n{}", output.stderr);
        let snapshot = name.trim_end_matches(".yaml").to_owned();
        insta::with_settings!({ snapshot_path => "snapshots/broken", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(snapshot, output.transcript());
        });
    }
}

#[test]
fn warnings_do_not_fail_validation() {
    let root = fixtures();
    let names = yaml_files(&root.join("warnings"));
    assert!(names.len() >= 5);
    for name in names {
        let path = format!("warnings/{name}");
        let output = episodic(root, &["validate", &path]);
        assert_eq!(output.code, 0, "{path} should pass:\n{}", output.stderr);
        assert!(output.stderr.contains('⚠'), "{path} should warn:\n{}", output.stderr);
        let snapshot = name.trim_end_matches(".yaml").to_owned();
        insta::with_settings!({ snapshot_path => "snapshots/warnings", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(snapshot, output.transcript());
        });
    }
}

#[test]
fn valid_fixtures_pass() {
    let root = fixtures();
    for name in yaml_files(&root.join("valid")) {
        let path = format!("valid/{name}");
        let output = episodic(root, &["validate", &path]);
        assert_eq!(output.code, 0, "{path} should pass:\n{}", output.stderr);
    }
}

/// `[broken/x.yaml:12:5]`, as miette draws it.
fn regex_like_location(stderr: &str, path: &str) -> bool {
    let marker = format!("[{path}:");
    stderr.match_indices(&marker).any(|(at, _)| {
        let rest = &stderr[at + marker.len()..];
        let mut parts = rest.split(']').next().unwrap_or("").split(':');
        let line = parts.next().and_then(|line| line.parse::<u32>().ok());
        let column = parts.next().and_then(|column| column.parse::<u32>().ok());
        line.is_some_and(|line| line > 0) && column.is_some()
    })
}
