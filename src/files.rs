//! Saved payloads as a source: files and stdin, read in chunks and parsed as they stream, so an
//! offline run goes through exactly the parser and analysis a cluster run does.
//! Which node a file stands for is decided once, when the plan is built; what its text means lives in `exposition`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::exposition::{Selector, StreamParser, StreamVisitor, Visitor};
use crate::scrape::{Failure, FailureKind, NodeScrape, Scraped};

/// Bytes read from a file per parser feed.
const CHUNK: usize = 256 * 1024;

/// Reads every input (one failing file never stops the others), keeping the families `selector`
/// selects. Results come back sorted by node name.
pub fn read_all(inputs: &[FileInput], selector: &Selector, max_body: u64) -> Vec<NodeScrape> {
    let mut scrapes: Vec<NodeScrape> = inputs
        .iter()
        .map(|input| NodeScrape {
            node: input.node.clone(),
            kubelet_version: None,
            outcome: read_one(&input.path, selector.clone(), max_body),
        })
        .collect();
    scrapes.sort_by(|a, b| a.node.cmp(&b.node));
    scrapes
}

fn read_one(path: &Path, selector: Selector, max_body: u64) -> Result<Scraped, Failure> {
    let started = Instant::now();
    let shown = path.display().to_string();
    let mut parser = StreamParser::new(selector);
    let bytes =
        read_chunks(path, max_body, |chunk| parser.feed(chunk)).map_err(|err| read_failure(&shown, &err))?;
    let parsed = parser.finish();
    if let Some(message) = parsed.not_prometheus_text() {
        return Err(parse_failure(&shown, &message));
    }
    Ok(Scraped {
        families: parsed.families,
        bytes,
        elapsed: started.elapsed(),
        warnings: parsed.errors.iter().map(|e| format!("{shown}: {e}")).collect(),
        near_misses: parsed.near_misses,
    })
}

/// Reads one input chunk by chunk into `visitor` (zero-copy, nothing held), calling `between`
/// after each chunk. The scrape carries no families; the visitor comes back with what it saw,
/// also when the input failed mid-way (`None` when it could not be opened).
pub fn visit<V: Visitor>(
    input: &FileInput,
    selector: &Selector,
    max_body: u64,
    visitor: V,
    mut between: impl FnMut(&mut V),
) -> (NodeScrape, Option<V>) {
    let started = Instant::now();
    let shown = input.path.display().to_string();
    let mut parser = StreamVisitor::new(visitor, selector.clone());
    let read = read_chunks(&input.path, max_body, |chunk| {
        parser.feed(chunk);
        between(parser.visitor());
    });
    let (visitor, visited) = parser.finish();
    let outcome = match (read, visited.not_prometheus_text()) {
        (Err(err), _) => Err(read_failure(&shown, &err)),
        (Ok(_), Some(why)) => Err(parse_failure(&shown, &why)),
        (Ok(bytes), None) => Ok(Scraped {
            families: Vec::new(),
            bytes,
            elapsed: started.elapsed(),
            warnings: visited.errors.iter().map(|e| format!("{shown}: {e}")).collect(),
            near_misses: visited.near_misses,
        }),
    };
    (NodeScrape { node: input.node.clone(), kubelet_version: None, outcome }, Some(visitor))
}

fn read_failure(shown: &str, err: &std::io::Error) -> Failure {
    let too_large = err.kind() == std::io::ErrorKind::FileTooLarge;
    Failure {
        kind: if too_large { FailureKind::TooLarge } else { FailureKind::Io },
        message: format!("cannot read {shown}: {err}"),
        fix: Some(if too_large {
            "raise --max-body if this payload is expected".to_string()
        } else {
            "check the --file path".to_string()
        }),
    }
}

fn parse_failure(shown: &str, message: &str) -> Failure {
    Failure {
        kind: FailureKind::Parse,
        message: format!("{shown}: {message}"),
        fix: Some("this is not Prometheus text: pass a saved /metrics payload (kubectl get --raw /api/v1/nodes/NODE/proxy/metrics > NODE.prom)".to_string()),
    }
}

/// Feeds `path` (stdin for `-`) to `feed` chunk by chunk; returns the bytes read. More than
/// `max_body` bytes is an error of kind `FileTooLarge`.
fn read_chunks(path: &Path, max_body: u64, mut feed: impl FnMut(&[u8])) -> std::io::Result<u64> {
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than --max-body ({max_body} bytes)"),
        )
    };
    let mut reader: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path)?;
        // A file already too large is refused before any of it is fed: nothing is written for
        // it (`get` writes a single file as it reads it). Stdin, or a file that grows while it
        // is read, is still stopped by the count below.
        if file.metadata().is_ok_and(|meta| meta.is_file() && meta.len() > max_body) {
            return Err(too_large());
        }
        Box::new(file)
    };
    let mut buffer = vec![0_u8; CHUNK];
    let mut total = 0_u64;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        total += read as u64;
        if total > max_body {
            return Err(too_large());
        }
        feed(&buffer[..read]);
    }
    Ok(total)
}

/// One saved payload and the node it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInput {
    /// Path, or `-` for stdin.
    pub path: PathBuf,
    /// The node name to report it under.
    pub node: String,
}

/// The node a saved payload stands for: its file name without extension, `stdin` for `-`.
pub fn node_name_from_path(path: &Path) -> String {
    if path.as_os_str() == "-" {
        return "stdin".to_string();
    }
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_a_node_failure_not_an_abort() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.prom");
        std::fs::write(&good, "# TYPE up gauge\nup 1\n").expect("write");
        let inputs = vec![
            FileInput { path: dir.path().join("absent.prom"), node: "absent".into() },
            FileInput { path: good, node: "good".into() },
        ];
        let scrapes = read_all(&inputs, &Selector::all(), 1 << 20);
        assert_eq!(scrapes[0].node, "absent");
        let failure = scrapes[0].outcome.as_ref().expect_err("missing file");
        assert_eq!(failure.kind, FailureKind::Io);
        assert!(failure.message.contains("absent.prom"), "{}", failure.message);
        let scraped = scrapes[1].outcome.as_ref().expect("good file");
        assert_eq!(scraped.families.len(), 1);
        assert_eq!(scraped.bytes, 21, "16 bytes of TYPE line and 5 of sample");
    }

    #[test]
    fn max_body_is_enforced_while_reading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big.prom");
        std::fs::write(&big, "up 1\n".repeat(100)).expect("write");
        let inputs = vec![FileInput { path: big, node: "big".into() }];
        let scrapes = read_all(&inputs, &Selector::all(), 100);
        assert_eq!(scrapes[0].outcome.as_ref().expect_err("too large").kind, FailureKind::TooLarge);
    }

    #[test]
    fn a_file_already_too_large_is_refused_before_any_sample_is_visited() {
        #[derive(Default)]
        struct Count(usize);
        impl crate::exposition::Visitor for Count {
            fn family(&mut self, _: &crate::exposition::FamilyHead) {}
            fn sample(&mut self, _: &crate::exposition::SampleRef<'_>) {
                self.0 += 1;
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big.prom");
        // Two chunks, over --max-body only with the second: counting as it reads would feed the
        // first before failing (and `get` would have written its lines); the size on disk stops
        // it first.
        let lines = 2 * CHUNK / 5;
        std::fs::write(&big, "up 1\n".repeat(lines)).expect("write");
        let input = FileInput { path: big, node: "big".into() };
        let max_body = CHUNK as u64 + 1;
        let (scrape, visitor) = visit(&input, &Selector::all(), max_body, Count::default(), |_| {});
        assert_eq!(scrape.outcome.expect_err("too large").kind, FailureKind::TooLarge);
        assert_eq!(visitor.expect("the visitor comes back").0, 0);
    }

    #[test]
    fn malformed_lines_become_warnings_naming_the_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("n1.prom");
        std::fs::write(&path, "up 1\nup{ 2\ndown 0\n").expect("write");
        let inputs = vec![FileInput { path, node: "n1".into() }];
        let scrapes = read_all(&inputs, &Selector::all(), 1 << 20);
        let scraped = scrapes[0].outcome.as_ref().expect("parsed");
        assert_eq!(scraped.families.len(), 2, "the good lines are kept");
        assert_eq!(scraped.warnings.len(), 1);
        assert!(scraped.warnings[0].contains("n1.prom: line 2"), "{}", scraped.warnings[0]);
    }
}
