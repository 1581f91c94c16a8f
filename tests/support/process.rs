//! Running a program with some text on its standard input, for the crates' tests (included
//! with `#[path]`).
#![allow(dead_code)]

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};

/// Starts `cmd` with standard input, output and error piped.
pub fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()))
}

/// Writes `input` to the child's standard input and closes it. A program that refuses
/// before reading its input closes the pipe first: that is not an error here.
pub fn feed(child: &mut Child, input: &[u8]) {
    let written = child.stdin.take().expect("stdin is piped").write_all(input);
    if let Err(e) = written {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing to the child: {e}"
        );
    }
}

/// Runs `cmd` with `input` on its standard input and waits for it.
pub fn run_with_input(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = spawn_piped(&mut cmd);
    feed(&mut child, input);
    child.wait_with_output().unwrap()
}
