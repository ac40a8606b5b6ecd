//! Append-only bytes that stay in memory up to a bound, then go to an unnamed temporary file in
//! `TMPDIR`, so output that must be held until every node is in (`get -o prom`, `get --sort`)
//! costs flat memory however many nodes and however large their payloads. What the bytes are
//! lives in `report::samples`.
//!
//! The file is unlinked as soon as it is created, so it disappears when this process exits,
//! however it exits (Ctrl-C and SIGKILL included).

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use crate::report::samples::Store;

/// Bytes kept in memory before the rest goes to a temporary file.
pub const MEMORY_BOUND: usize = 16 * 1024 * 1024;

/// Bytes read from the file at a time when copying out.
const READ_BLOCK: usize = 1024 * 1024;

/// Memory first, then a temporary file; see the module docs.
#[derive(Debug)]
pub struct Spool {
    memory: Vec<u8>,
    bound: usize,
    dir: PathBuf,
    file: Option<Spilled>,
    /// The buffer reads from the file go through, kept between reads: the merge reads a run per
    /// family and node, and a fresh zeroed buffer for each cost more than the copy itself.
    block: Vec<u8>,
}

/// The file part: where it starts in the spool's offsets, and how long it is.
#[derive(Debug)]
struct Spilled {
    writer: BufWriter<File>,
    /// Offset of the file's first byte in the spool.
    base: u64,
    /// Bytes appended to the file (buffered ones included).
    len: u64,
    /// A read moved the file position: seek to the end before the next write.
    moved: bool,
}

impl Spool {
    /// A spool that keeps `bound` bytes in memory, then spills to a file in `dir`.
    pub fn new(bound: usize, dir: PathBuf) -> Spool {
        Spool { memory: Vec::new(), bound, dir, file: None, block: Vec::new() }
    }

    /// A spool of [`MEMORY_BOUND`] in memory, spilling to the system's temporary directory
    /// (`TMPDIR`, else `/tmp`).
    pub fn in_temp_dir() -> Spool {
        Spool::new(MEMORY_BOUND, std::env::temp_dir())
    }

    /// Whether bytes went to a file.
    pub fn spilled(&self) -> bool {
        self.file.is_some()
    }

    /// The error a failed spill reports: it names the directory, where space or rights lack.
    fn failed(&self, err: io::Error) -> io::Error {
        io::Error::new(
            err.kind(),
            format!(
                "cannot spill output to a temporary file in {} (set TMPDIR to a directory with room): {err}",
                self.dir.display()
            ),
        )
    }

    fn spilled_mut(&mut self) -> io::Result<&mut Spilled> {
        if self.file.is_none() {
            let file = tempfile::tempfile_in(&self.dir).map_err(|err| self.failed(err))?;
            let base = self.memory.len() as u64;
            self.file =
                Some(Spilled { writer: BufWriter::with_capacity(1 << 20, file), base, len: 0, moved: false });
        }
        Ok(self.file.as_mut().expect("created just above when missing"))
    }

    fn append_to_file(&mut self, bytes: &[u8]) -> io::Result<u64> {
        let file = self.spilled_mut()?;
        if file.moved {
            file.writer.seek(SeekFrom::End(0))?;
            file.moved = false;
        }
        file.writer.write_all(bytes)?;
        let offset = file.base + file.len;
        file.len += bytes.len() as u64;
        Ok(offset)
    }
}

impl Store for Spool {
    fn append(&mut self, bytes: &[u8]) -> io::Result<u64> {
        if self.file.is_none() && self.memory.len() + bytes.len() <= self.bound {
            // One allocation of the whole bound (touched only as filled): growing by doubling
            // would leave the smaller blocks behind in the allocator.
            if self.memory.capacity() == 0 {
                self.memory.reserve_exact(self.bound);
            }
            return Store::append(&mut self.memory, bytes);
        }
        self.append_to_file(bytes).map_err(|err| self.failed(err))
    }

    fn copy_to(&mut self, offset: u64, len: usize, out: &mut dyn Write) -> io::Result<()> {
        let Some(file) = self.file.as_mut().filter(|file| offset >= file.base) else {
            return self.memory.copy_to(offset, len, out);
        };
        file.writer.flush()?;
        file.moved = true;
        let start = offset - file.base;
        let reader = file.writer.get_mut();
        reader.seek(SeekFrom::Start(start))?;
        // Read in large blocks: `io::copy` into a `dyn Write` would make a syscall per 8 KiB.
        let block = &mut self.block;
        if block.len() < len.min(READ_BLOCK) {
            block.resize(len.min(READ_BLOCK), 0);
        }
        let mut left = len;
        while left > 0 {
            let want = left.min(block.len());
            reader.read_exact(&mut block[..want]).map_err(|err| match err.kind() {
                io::ErrorKind::UnexpectedEof => {
                    io::Error::new(io::ErrorKind::UnexpectedEof, "temporary file shorter than written")
                }
                _ => err,
            })?;
            out.write_all(&block[..want])?;
            left -= want;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_past_the_bound_go_to_a_file_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::new(8, dir.path().to_path_buf());
        let a = spool.append(b"hello").unwrap();
        let b = spool.append(b" big world").unwrap();
        assert!(spool.spilled());
        let mut out = Vec::new();
        spool.copy_to(b, 10, &mut out).unwrap();
        // A write after a read lands at the end, not where the read left the file.
        let c = spool.append(b"!").unwrap();
        spool.copy_to(a, 5, &mut out).unwrap();
        spool.copy_to(c, 1, &mut out).unwrap();
        assert_eq!(out, b" big worldhello!");
        // The file is unnamed: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_spill_that_cannot_be_written_names_the_directory() {
        let mut spool = Spool::new(0, PathBuf::from("/nonexistent/spill-dir"));
        let err = spool.append(b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/spill-dir"), "{err}");
        assert!(err.to_string().contains("TMPDIR"), "{err}");
    }
}
