//! Command-line interface (a stable contract: users and scripts rely on it): the clap
//! argument structs here, and the commands a user types in the submodules. Only `cli` knows
//! clap's structs; the domain takes plain option structs.

pub mod attach;
pub mod bench;
pub mod clidoc;
pub mod commands;
pub mod demo;
pub mod gen;
pub mod lesson;
pub mod live;
pub mod live_observe;
pub mod output;
pub mod page;
pub mod replay;
pub mod run;
pub mod tlb;
pub mod watch;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "mmviz",
    version,
    about = "See memory-mapped files and demand paging live: page cache, page faults, readahead",
    long_about = "mmviz maps a file, runs an access pattern over it in a worker process and shows, \
live and measured from the kernel, which pages are cached and mapped, minor/major faults, \
readahead and an mmap-vs-read() comparison.\n\nWith no FILE it uses a built-in demo file. \
A FILE whose name is also a subcommand is given as ./NAME.",
    after_help = "Example:\n  mmviz --cold data.bin     the live view of data.bin, evicted first\n\n\
Keys: press ? in the live view. Exit codes and more: mmviz manpage | man -l -",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    #[command(flatten)]
    pub tui: TuiArgs,
}

/// The interactive view (the default command).
#[derive(Args, Debug, Clone, Default)]
pub struct TuiArgs {
    /// File to map (default: the built-in demo file)
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Accesses per second, or "max" (default: 2000 in the TUI, so the front is visible)
    #[arg(long)]
    pub rate: Option<String>,
    /// Evict the file from the page cache before starting
    #[arg(long)]
    pub cold: bool,
    /// Screen refreshes (samples) per second
    #[arg(long, default_value_t = 10)]
    pub hz: u32,
    #[command(flatten)]
    pub rec: RecordArgs,
    /// Colours: dark, light, projector (high contrast, bold glyphs), mono (no colour).
    /// Default: $MMVIZ_THEME, else mono when NO_COLOR is set, else dark
    #[arg(long, value_parser = ["dark", "light", "projector", "mono"])]
    pub theme: Option<String>,
    /// Write to a scratch copy of FILE (its first 1 GiB; FILE is never written):
    /// shared (MAP_SHARED) or private (MAP_PRIVATE, copy-on-write)
    #[arg(long)]
    pub write: Option<String>,
    /// Share of accesses that store, 0..1 (with --write)
    #[arg(long, default_value_t = 1.0, requires = "write")]
    pub write_share: f64,
}

/// Options shared by `run`, `bench` and the TUI.
#[derive(Args, Debug, Clone, Default)]
pub struct WorkloadArgs {
    /// Access pattern: sequential, reverse, stride, random, hotset, chase, scan, grep, bsearch
    #[arg(long, default_value = "sequential")]
    pub pattern: String,
    /// madvise hint: normal, random, sequential, willneed, hugepage (MADV_HUGEPAGE)
    #[arg(long, default_value = "normal")]
    pub advice: String,
    /// Seed of the pattern (same seed, same accesses)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Bytes read per access, with the size units of `gen --size` (scan always reads whole pages)
    #[arg(long, default_value_t = 1, value_parser = size_arg)]
    pub access_size: u64,
    /// Pages per access for the stride pattern
    #[arg(long, default_value_t = 16)]
    pub stride: u64,
    /// Fraction of the file that is hot (hotset)
    #[arg(long, default_value_t = 0.1)]
    pub hot_fraction: f64,
    /// Share of accesses that go to the hot region (hotset)
    #[arg(long, default_value_t = 0.9)]
    pub hot_share: f64,
    /// The regex grep searches for (regex crate syntax, bytes; ^ and $ match at line ends)
    #[arg(long)]
    pub regex: Option<String>,
    /// Grep: stop after this many matches
    #[arg(long)]
    pub max_matches: Option<u64>,
}

/// Every size option goes through the one parser of `gen --size` (units::parse_size).
fn size_arg(s: &str) -> Result<u64, String> {
    crate::units::parse_size(s).map_err(|e| e.to_string())
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create a test file of pseudo-random bytes (or a sparse file)
    #[command(after_help = "Example:\n  mmviz gen data.bin --size 256MiB")]
    Gen(GenArgs),
    /// Show which pages of a file are in the page cache (like fincore/vmtouch)
    #[command(after_help = "Example:\n  mmviz residency data.bin --json")]
    Residency(ResidencyArgs),
    /// Evict a file from the page cache (as far as an unprivileged process can)
    #[command(after_help = "Example:\n  mmviz evict data.bin")]
    Evict(EvictArgs),
    /// Run an access pattern in a worker process and report faults and cache effects
    #[command(
        after_help = "Example:\n  mmviz run data.bin --pattern random --cold --accesses 2000"
    )]
    Run(RunArgs),
    /// Compare mmap with pread, seek+read, buffered and block reads on the same accesses
    #[command(after_help = "Example:\n  mmviz bench data.bin --pattern random --warm --repeat 3")]
    Bench(BenchArgs),
    /// Measure what a TLB miss costs: pointer chase with 4 KiB pages vs transparent huge pages
    #[command(after_help = "Example:\n  mmviz tlb --max-working-set 256MiB --json")]
    Tlb(TlbArgs),
    /// Two processes share a MAP_SHARED scratch file: a message ring, its losses and latency
    #[command(after_help = "Example:\n  mmviz ipc --duration 2 --json")]
    Ipc(IpcArgs),
    /// Internal: one side (writer or reader) of `ipc`
    #[command(name = "__ipc", hide = true)]
    IpcChild(IpcChildArgs),
    /// Print the live session headlessly, one line (or JSON object) per interval, like vmstat
    #[command(
        after_help = "Example:\n  mmviz watch data.bin --cold --pattern random --interval 1 --count 5 --json"
    )]
    Watch(WatchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Example:\n  mmviz completions bash > ~/.local/share/bash-completion/completions/mmviz"
    )]
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to stdout
    #[command(after_help = "Example:\n  mmviz manpage | man -l -")]
    Manpage,
    /// Show one page: its page-cache state and, if it is cached (or with --read), its bytes
    #[command(after_help = "Example:\n  mmviz page data.bin 1MiB --read")]
    Page(PageArgs),
    /// Watch a running process: its mapped pages of a file, its faults, the file's cache
    /// (reads /proc only; the live view in a terminal, else one report)
    #[command(after_help = "Example:\n  mmviz attach 1234 data.bin --duration 10 --json")]
    Attach(AttachArgs),
    /// Start a program and watch it until it exits: totals of its faults, mapped pages and
    /// the file's cache (the live view in a terminal, else one report)
    #[command(
        after_help = "Example:\n  mmviz exec --file test.db -- python3 examples/sqlite_mmap.py lookups test.db"
    )]
    Exec(ExecArgs),
    /// Play a recording (`mmviz --record FILE`) in the terminal, or render it to asciicast v2
    #[command(
        after_help = "Example:\n  mmviz replay lecture.jsonl --asciicast lecture.cast --size 100x30"
    )]
    Replay(ReplayArgs),
    /// Guided lessons: `mmviz lesson list`, `mmviz lesson NAME [FILE]` (live view) and
    /// `mmviz lesson NAME --check` (the pre-flight before class)
    #[command(
        after_help = "Example:\n  mmviz lesson demand-paging data.bin --check   (then without --check: the live lesson; mmviz lesson list shows them all)"
    )]
    Lesson(LessonArgs),
    /// Internal: the worker process that alone touches the mapping
    #[command(name = "__worker", hide = true)]
    Worker(WorkerArgs),
    /// Internal: one method repeat of `bench`, measured in its own process (one JSON line)
    #[command(name = "__compare", hide = true)]
    CompareChild(CompareChildArgs),
}

/// Shells `mmviz completions` writes a script for.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    pub shell: Shell,
}

#[derive(Args, Debug, Clone)]
pub struct WatchArgs {
    /// File to map (default: the built-in demo file)
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Accesses per second, or "max" (default: 2000, as in the live view)
    #[arg(long)]
    pub rate: Option<String>,
    /// Evict the file from the page cache before starting
    #[arg(long)]
    pub cold: bool,
    /// Warm the file first, as the `w` (sequential) or `W` (random 4 KiB reads) keys do
    #[arg(long, value_name = "FILL", num_args = 0..=1, default_missing_value = "sequential", value_parser = ["sequential", "random"])]
    pub warm: Option<String>,
    /// Start paused, as the space key leaves it (the lines then show a still workload)
    #[arg(long)]
    pub paused: bool,
    /// Seconds between lines
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Stop after this many lines (default: until Ctrl-C)
    #[arg(long)]
    pub count: Option<u64>,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct GenArgs {
    pub file: PathBuf,
    /// Size: bytes or 64KiB, 256MiB, 1GiB, 1TiB (K/M/G/T are 1024-based, KB/MB/GB 1000-based)
    #[arg(long, required_unless_present = "records", conflicts_with = "records")]
    pub size: Option<String>,
    /// Instead of random bytes: N sorted 64-byte records (8-byte big-endian key first), for
    /// --pattern bsearch
    #[arg(long, conflicts_with = "sparse")]
    pub records: Option<u64>,
    /// Make a sparse file (no data blocks: reads see zeros)
    #[arg(long)]
    pub sparse: bool,
    /// Seed of the pseudo-random bytes (same seed, same file)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ResidencyArgs {
    pub file: PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct EvictArgs {
    pub file: PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    pub file: PathBuf,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Number of accesses (default: one pass)
    #[arg(long, conflicts_with = "duration")]
    pub accesses: Option<u64>,
    /// Run for this many seconds instead of a fixed count
    #[arg(long)]
    pub duration: Option<f64>,
    /// Accesses per second (default: unlimited)
    #[arg(long)]
    pub rate: Option<String>,
    /// Evict the file from the page cache first
    #[arg(long)]
    pub cold: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    /// Print one progress line per report to stderr (for scripts that act mid-run)
    #[arg(long)]
    pub progress: bool,
    /// Write to a scratch copy of FILE (its first 1 GiB; FILE is never written):
    /// shared (MAP_SHARED) or private (MAP_PRIVATE, copy-on-write)
    #[arg(long)]
    pub write: Option<String>,
    /// Share of accesses that store, 0..1 (with --write)
    #[arg(long, default_value_t = 1.0, requires = "write")]
    pub write_share: f64,
    /// After the run: none, async (MS_ASYNC), sync (MS_SYNC), or "every N" accesses (MS_SYNC)
    #[arg(long, num_args = 1..=2, value_names = ["MODE", "N"], requires = "write")]
    pub msync: Vec<String>,
    /// Limit the worker's address space (RLIMIT_AS), e.g. 3GiB: a larger mapping fails
    #[arg(long)]
    pub address_space: Option<String>,
    /// Keep the worker's descriptor open after mmap (default: closed right after mapping)
    #[arg(long)]
    pub keep_fd: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    pub file: PathBuf,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Accesses per method (default: 100000 for random/hotset/chase, one pass otherwise)
    #[arg(long)]
    pub accesses: Option<u64>,
    /// Evict the file before each method
    #[arg(long, conflicts_with = "warm")]
    pub cold: bool,
    /// Read the file fully before each method
    #[arg(long)]
    pub warm: bool,
    /// How --warm fills the cache: sequential (large folios) or random (small folios)
    #[arg(long, default_value = "sequential")]
    pub fill: String,
    /// Repeats per method (median, min and max are reported)
    #[arg(long, default_value_t = 5)]
    pub repeat: u32,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct PageArgs {
    pub file: PathBuf,
    /// Byte offset: decimal, with a size suffix (4KiB) or 0x hex
    #[arg(allow_hyphen_values = true)]
    pub offset: String,
    /// Bytes to show (decimal, size suffix or 0x hex; at most 1 MiB)
    #[arg(long, default_value = "16", allow_hyphen_values = true)]
    pub length: String,
    /// Read the bytes even if the page is not cached (or its state is hidden): this faults it
    /// in, and the report says what the read brought into the cache
    #[arg(long)]
    pub read: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CompareChildArgs {
    pub file: PathBuf,
    /// mmap, mmap-populate, mmap-<advice>, pread, seek+read, buffered, read-64k, read-1m
    #[arg(long)]
    pub method: String,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    #[arg(long)]
    pub accesses: u64,
}

#[derive(Args, Debug, Clone)]
#[command(
    long_about = "Observe a running process without touching it: reads /proc/PID/maps, \
/proc/PID/pagemap, /proc/PID/stat and /proc/PID/task/*/stat, and the file's page cache \
(cachestat). No ptrace, no signals. Ends when the process exits, on Ctrl-C or after \
--duration, with one report. In a terminal (stdin and stdout) without --json or --duration: \
the live view (the page grid and fault panel of the process; f switches files, e and w ask y/n \
first, the workload keys are unavailable)."
)]
pub struct AttachArgs {
    /// Process id to observe
    #[arg(allow_hyphen_values = true)]
    pub pid: String,
    /// The mapped file to watch (default: the largest regular file the process maps)
    pub file: Option<PathBuf>,
    /// Stop observing after this many seconds (the process keeps running)
    #[arg(long)]
    pub duration: Option<f64>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub rec: RecordArgs,
}

#[derive(Args, Debug, Clone)]
#[command(
    long_about = "Start CMD and observe it from /proc until it exits, then print its totals: \
faults (process and threads), pages of the file mapped (last sample before exit), the file's \
page cache before and after, its exit status. With --json the program's stdout goes to \
mmviz's stderr so stdout holds only the report. mmviz never signals the program: after \
--duration or Ctrl-C it keeps running. In a terminal without --json or --duration: the live \
view, which keeps the last screen with the totals and exit status when the program exits; the \
program's stdin is then /dev/null and its stdout and stderr go to a scratch file shown in the \
message log (m) and printed after the screen closes."
)]
pub struct ExecArgs {
    /// The file to watch (default: the largest regular file the program maps)
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Stop observing after this many seconds (the program keeps running)
    #[arg(long)]
    pub duration: Option<f64>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub rec: RecordArgs,
    /// The program and its arguments (after --)
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<std::ffi::OsString>,
}

/// `--record` for a live view: the worker's (`mmviz FILE`) or an observed program's
/// (`attach`, `exec`). Lessons have their own (it conflicts with `--check`).
#[derive(Args, Debug, Clone, Default)]
pub struct RecordArgs {
    /// Record the live view (snapshots, keys' commands, events) to FILE as JSON lines, for
    /// `mmviz replay FILE`; file names only, unless --record-paths
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Keep full paths in the recording (default: file names only)
    #[arg(long, requires = "record")]
    pub record_paths: bool,
    /// Overwrite the --record file if it exists
    #[arg(long, requires = "record")]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct TlbArgs {
    /// Largest working set (from 1MiB, doubling; capped by MemAvailable)
    #[arg(long, default_value = "1GiB")]
    pub max_working_set: String,
    /// Runs per working set and page size (the minimum is reported)
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LessonArgs {
    #[command(subcommand)]
    pub command: Option<LessonCmd>,
    /// The lesson to run (its name in `mmviz lesson list`)
    pub name: Option<String>,
    /// File to map (default: the built-in demo file); write lessons write only a scratch copy
    pub file: Option<PathBuf>,
    /// Pre-flight: run every step headless on this machine and print each check's verdict
    /// and measured value (exit 0: all pass or are explained as not applicable here)
    #[arg(long)]
    pub check: bool,
    /// With --check: also the slow steps (the flusher's ~30 s)
    #[arg(long, requires = "check")]
    pub slow: bool,
    /// With --check: print JSON
    #[arg(long, requires = "check")]
    pub json: bool,
    /// Also a teacher's own lessons: every *.toml in DIR (same name replaces a built-in)
    #[arg(long, value_name = "DIR")]
    pub lessons: Option<PathBuf>,
    /// Colours of the live view: dark, light, projector, mono
    #[arg(long, value_parser = ["dark", "light", "projector", "mono"])]
    pub theme: Option<String>,
    /// Record the lesson (snapshots, commands, events and every step with its checks'
    /// verdicts) to FILE as JSON lines, for `mmviz replay FILE` (n/p jump between steps)
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub record: Option<PathBuf>,
    /// Keep the file's full path in the recording (default: its name only)
    #[arg(long, requires = "record")]
    pub record_paths: bool,
    /// Overwrite the --record file if it exists
    #[arg(long, requires = "record")]
    pub force: bool,
}

#[derive(Subcommand, Debug)]
pub enum LessonCmd {
    /// List the lessons: name (file stem), title, duration; validates every file
    List {
        /// Also a teacher's own lessons: every *.toml in DIR (same name replaces a built-in)
        #[arg(long, value_name = "DIR")]
        lessons: Option<PathBuf>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A recording made with `mmviz --record FILE`
    pub file: PathBuf,
    /// Render every frame into an asciinema v2 file instead of playing it (no terminal needed)
    #[arg(long, value_name = "OUT.cast")]
    pub asciicast: Option<PathBuf>,
    /// Screen size of the asciicast, columns x rows
    #[arg(long, default_value = "120x40", requires = "asciicast")]
    pub size: String,
    /// Overwrite the --asciicast file if it exists
    #[arg(long, requires = "asciicast")]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct IpcArgs {
    /// Seconds the writer sends
    #[arg(long, default_value_t = 2.0)]
    pub duration: f64,
    /// Messages per second the writer sends
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct IpcChildArgs {
    /// writer or reader
    pub role: String,
    pub file: PathBuf,
    #[arg(long)]
    pub duration_ms: u64,
    #[arg(long)]
    pub rate: u64,
}

#[derive(Args, Debug)]
pub struct WorkerArgs {
    pub file: PathBuf,
    /// Writable mapping of a scratch file: shared or private
    #[arg(long)]
    pub write: Option<String>,
    /// Share of accesses that store (write mode)
    #[arg(long, default_value_t = 1.0)]
    pub write_share: f64,
    /// Keep the descriptor open after mmap
    #[arg(long)]
    pub keep_fd: bool,
    /// RLIMIT_AS in bytes, set before mmap
    #[arg(long)]
    pub address_space: Option<u64>,
}

impl WorkerArgs {
    /// The worker's start options (domain code never sees clap's structs).
    pub fn options(&self) -> Result<crate::workload::worker::WorkerOptions, String> {
        Ok(crate::workload::worker::WorkerOptions {
            write: self.write.as_deref().map(str::parse).transpose()?,
            write_share: self.write_share,
            keep_fd: self.keep_fd,
            address_space: self.address_space,
        })
    }
}
