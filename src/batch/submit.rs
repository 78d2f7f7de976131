//! `batch submit`: the sbatch script of the job array, and `sbatch`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::BatchError;

/// Memory a task uses beyond `--max-memory`: the program, its libraries,
/// casacore's and HDF5's buffers and the compute backend. Measured on a
/// full-size group (peak RSS minus `--max-memory`, largest at 288 MiB where
/// the block buffers first reach their target size): 191 MiB with the CPU
/// backend, 321 MiB with the GPU backend on Mesa's lavapipe; the chunk cache
/// makes no difference. 384 MiB leaves a fifth more than the larger.
pub const TASK_OVERHEAD_BYTES: u64 = 384 << 20;

/// What a task asks Slurm for (`--mem`): `--max-memory` plus
/// [`TASK_OVERHEAD_BYTES`], in bytes.
pub fn task_memory_bytes(max_memory_bytes: usize) -> u64 {
    max_memory_bytes as u64 + TASK_OVERHEAD_BYTES
}

/// One job array.
#[derive(Clone, Debug)]
pub struct ArrayJob<'a> {
    /// The manifest, absolute.
    pub manifest: &'a Path,
    /// Tasks of the split (the array is `0-(tasks-1)`, or `indices`).
    pub tasks: usize,
    /// Array indices to run: every task, or those with work left.
    pub indices: &'a [usize],
    pub job_name: &'a str,
    pub partition: Option<&'a str>,
    /// Slurm time limit (`--time`, e.g. `2:00:00`).
    pub time: Option<&'a str>,
    pub cpus_per_task: usize,
    /// `--mem`, bytes (rounded up to MiB).
    pub mem_bytes: u64,
    /// `--gres=gpu:G`.
    pub gpus: Option<u32>,
    /// Directory of the tasks' logs, `<job name>-<job>_<task>.out`.
    pub log_dir: &'a Path,
    /// The `dsa110-convert` to run, absolute.
    pub program: &'a Path,
    /// Conversion options for `batch run` (after `--manifest`, `--task`, `--tasks`).
    pub run_args: &'a [String],
}

/// `0-7`, or `1,3-5` for scattered indices (sorted, deduplicated).
pub fn array_spec(indices: &[usize]) -> String {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            sorted[i].to_string()
        } else {
            format!("{}-{}", sorted[i], sorted[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// Single-quoted for sh unless plainly safe.
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The sbatch script of `job`.
pub fn script(job: &ArrayJob) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s += &format!(
        "# dsa110-convert batch: the groups of {} in {} task(s)\n",
        job.manifest.display(),
        job.tasks
    );
    let mut opt = |o: String| s += &format!("#SBATCH {o}\n");
    opt(format!("--job-name={}", quote(job.job_name)));
    opt(format!("--array={}", array_spec(job.indices)));
    opt(format!("--cpus-per-task={}", job.cpus_per_task));
    opt(format!("--mem={}M", job.mem_bytes.div_ceil(1 << 20)));
    if let Some(p) = job.partition {
        opt(format!("--partition={}", quote(p)));
    }
    if let Some(t) = job.time {
        opt(format!("--time={}", quote(t)));
    }
    if let Some(g) = job.gpus {
        opt(format!("--gres=gpu:{g}"));
    }
    let log = job.log_dir.join(format!("{}-%A_%a.out", job.job_name));
    opt(format!("--output={}", quote(&log.to_string_lossy())));
    // A requeued task appends to its log; it redoes only what is not done.
    opt("--open-mode=append".into());
    opt("--requeue".into());
    s += "# rayon would otherwise start a thread per core of the node.\n";
    s += "export RAYON_NUM_THREADS=\"$SLURM_CPUS_PER_TASK\"\n";
    s += &format!(
        "exec {} batch run --manifest {} --task \"$SLURM_ARRAY_TASK_ID\" --tasks {}",
        quote(&job.program.to_string_lossy()),
        quote(&job.manifest.to_string_lossy()),
        job.tasks
    );
    for a in job.run_args {
        s += " ";
        s += &quote(a);
    }
    s.push('\n');
    s
}

/// Submit `script` with `sbatch` (on stdin); returns the job id.
pub fn sbatch(script: &str) -> Result<String, BatchError> {
    let mut child = Command::new("sbatch")
        .arg("--parsable")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(BatchError::SbatchMissing)?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script.as_bytes())
        .map_err(BatchError::SbatchMissing)?;
    let out = child
        .wait_with_output()
        .map_err(BatchError::SbatchMissing)?;
    if !out.status.success() {
        return Err(BatchError::Sbatch {
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    // --parsable prints `<job id>` or `<job id>;<cluster>`.
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let id = text.split(';').next().unwrap_or("");
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(BatchError::SbatchOutput(text));
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_compress_runs() {
        assert_eq!(array_spec(&[0, 1, 2, 3, 4, 5, 6, 7]), "0-7");
        assert_eq!(array_spec(&[5, 1, 3, 4, 3]), "1,3-5");
        assert_eq!(array_spec(&[2]), "2");
    }

    #[test]
    fn quoted_arguments_reach_the_program_unchanged() {
        let args = [
            "plain",
            "two words",
            "it's",
            "$HOME",
            "a\"b",
            "",
            "x;rm -rf /",
            "*",
        ];
        let line: Vec<String> = args.iter().map(|a| quote(a)).collect();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' {}", line.join(" ")))
            .output()
            .unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        assert_eq!(printed.lines().collect::<Vec<_>>(), args);
    }

    #[test]
    fn the_script_asks_for_the_array_memory_and_gpus_and_runs_each_task() {
        let args = [
            "--backend".to_string(),
            "gpu".into(),
            "--catalog".into(),
            "/c/my cat's.csv".into(),
        ];
        let job = ArrayJob {
            manifest: Path::new("/m/plan.jsonl"),
            tasks: 8,
            indices: &[0, 1, 2, 3, 4, 5, 6, 7],
            job_name: "dsa110-batch",
            partition: Some("gpu"),
            time: Some("2:00:00"),
            cpus_per_task: 4,
            mem_bytes: task_memory_bytes(1 << 30),
            gpus: Some(1),
            log_dir: Path::new("/m/logs"),
            program: Path::new("/opt/bin/dsa110-convert"),
            run_args: &args,
        };
        let s = script(&job);
        let mib = ((1u64 << 30) + TASK_OVERHEAD_BYTES) >> 20;
        let expected = format!(
            "#!/bin/bash
# dsa110-convert batch: the groups of /m/plan.jsonl in 8 task(s)
#SBATCH --job-name=dsa110-batch
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem={mib}M
#SBATCH --partition=gpu
#SBATCH --time=2:00:00
#SBATCH --gres=gpu:1
#SBATCH --output=/m/logs/dsa110-batch-%A_%a.out
#SBATCH --open-mode=append
#SBATCH --requeue
# rayon would otherwise start a thread per core of the node.
export RAYON_NUM_THREADS=\"$SLURM_CPUS_PER_TASK\"
exec /opt/bin/dsa110-convert batch run --manifest /m/plan.jsonl --task \"$SLURM_ARRAY_TASK_ID\" --tasks 8 --backend gpu --catalog '/c/my cat'\\''s.csv'
"
        );
        assert_eq!(s, expected);
    }
}
