//! The few collective operations data-parallel training needs, behind one trait: the
//! trainer is written once, and runs on one process ([`Solo`]) or on the ranks an MPI
//! launcher started (`Mpi`, with the `distributed` feature).
//!
//! MPI rather than a protocol of hbt's own: it is what HPC training has used for this for a
//! decade (Horovod is built on it), it runs the same on one machine and on many (`mpirun`
//! with a hostfile, Slurm's `srun --mpi=pmix`), and it has the collectives natively. Burn
//! 0.22's own distributed path is CUDA-only.

use std::rc::Rc;
use std::time::Instant;

use crate::error::TrainError;

/// What every rank of a job can do together. All calls are collective: every rank makes
/// the same calls in the same order, or the job hangs — the trainer guarantees that by
/// taking every decision that changes the call sequence (stop, early stopping) from values
/// all ranks share.
pub trait Collective {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;
    /// How many ranks the job has.
    fn size(&self) -> usize;
    /// This rank's index among the ranks on its own machine (which GPU it takes).
    fn local_rank(&self) -> usize;
    /// How many ranks share this machine (how the CPU cores are split).
    fn local_size(&self) -> usize;
    /// Concatenates every rank's `local` in rank order; ranks may send different lengths.
    /// Returns the whole and each rank's length.
    fn all_gather(&self, local: &[f32]) -> (Vec<f32>, Vec<usize>);
    /// Element-wise sum over the ranks, in place.
    fn all_reduce_sum(&self, buf: &mut [f32]);
    /// Every rank's one value, in rank order.
    fn all_gather_u64(&self, value: u64) -> Vec<u64>;
    /// Every rank's bytes (a short text, say), in rank order.
    fn all_gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>>;
    /// Ends every rank of the job (after this rank printed why).
    fn abort(&self, code: i32) -> !;
    /// The name of the machine this rank runs on.
    fn host(&self) -> String;
}

/// One process, no communication.
#[derive(Debug, Default, Clone, Copy)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn local_rank(&self) -> usize {
        0
    }
    fn local_size(&self) -> usize {
        1
    }
    fn all_gather(&self, local: &[f32]) -> (Vec<f32>, Vec<usize>) {
        (local.to_vec(), vec![local.len()])
    }
    fn all_reduce_sum(&self, _buf: &mut [f32]) {}
    fn all_gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>> {
        vec![local.to_vec()]
    }
    fn all_gather_u64(&self, value: u64) -> Vec<u64> {
        vec![value]
    }
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
    fn host(&self) -> String {
        hostname()
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Whether this process was started by an MPI launcher (OpenMPI's `mpirun`, or a PMI/PMIx
/// launcher such as Slurm's `srun --mpi=pmix`), read from the variables they set.
pub fn launched_by_mpi() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"]
        .iter()
        .find_map(|v| std::env::var(v).ok().and_then(|s| s.parse().ok()))
        .or_else(|| std::env::var_os("PMIX_RANK").map(|_| 0))
}

/// Joins the job this process was launched into: the MPI ranks under `mpirun`/`srun`,
/// else one process alone.
pub fn join() -> Result<Rc<dyn Collective>, TrainError> {
    let Some(size) = launched_by_mpi() else {
        return Ok(Rc::new(Solo));
    };
    #[cfg(feature = "distributed")]
    {
        let _ = size;
        match Mpi::init() {
            Some(m) => Ok(Rc::new(m)),
            None => Err(TrainError::Ranks("MPI was initialised twice".into())),
        }
    }
    #[cfg(not(feature = "distributed"))]
    {
        if size <= 1 {
            return Ok(Rc::new(Solo));
        }
        Err(TrainError::Ranks(format!(
            "started as one of {size} MPI ranks, but this hbt was built without the `distributed` feature (cargo build --release --features distributed, with libopenmpi-dev and libclang-dev installed)"
        )))
    }
}

/// Bytes and seconds a rank spent in collectives, for the step log and `summary.json`.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommStats {
    /// Bytes this rank contributed to all-reduces (gradients).
    pub reduced_bytes: u64,
    /// Bytes this rank contributed to all-gathers (embeddings).
    pub gathered_bytes: u64,
    /// Wall-clock seconds inside collectives, waiting for the slowest rank included.
    pub seconds: f64,
}

impl CommStats {
    /// Runs `f` (a collective) and counts its time.
    pub fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        self.seconds += t.elapsed().as_secs_f64();
        r
    }
}

#[cfg(feature = "distributed")]
pub use mpi_impl::Mpi;

#[cfg(feature = "distributed")]
mod mpi_impl {
    use mpi::collective::{CommunicatorCollectives, SystemOperation};
    use mpi::datatype::{Equivalence, PartitionMut};
    use mpi::environment::Universe;
    use mpi::topology::{Communicator, SimpleCommunicator};

    use super::Collective;

    /// The ranks of an MPI job (`MPI_COMM_WORLD`), and the ranks sharing this machine.
    pub struct Mpi {
        world: SimpleCommunicator,
        local: SimpleCommunicator,
        // Dropping the universe finalizes MPI, after which the communicators above may not
        // be freed: fields drop in order, so it comes last.
        _universe: Universe,
    }

    /// Elements per MPI call: counts are C ints, and a bounded buffer keeps the library's
    /// own staging memory bounded.
    const CHUNK: usize = 1 << 24;

    impl Mpi {
        /// Initialise MPI; None when it was initialised already.
        pub fn init() -> Option<Self> {
            let universe = mpi::initialize()?;
            let world = universe.world();
            let local = world.split_shared(world.rank());
            Some(Self {
                world,
                local,
                _universe: universe,
            })
        }
    }

    impl Mpi {
        /// Every rank's `local`, concatenated in rank order, with each rank's count and
        /// offset (`MPI_Allgatherv`, after an all-gather of the counts).
        fn gather_varcount<T: Equivalence + Copy + Default>(&self, local: &[T]) -> (Vec<T>, Vec<usize>, Vec<usize>) {
            let mut counts = vec![0i32; self.size()];
            let mine = i32::try_from(local.len()).expect("an all-gather of over 2^31 values");
            self.world.all_gather_into(&mine, &mut counts[..]);
            let displs: Vec<i32> = counts
                .iter()
                .scan(0i32, |acc, &c| {
                    let d = *acc;
                    *acc += c;
                    Some(d)
                })
                .collect();
            let mut all = vec![T::default(); counts.iter().map(|&c| c as usize).sum()];
            {
                let mut part = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
                self.world.all_gather_varcount_into(local, &mut part);
            }
            let usize_of = |v: Vec<i32>| v.into_iter().map(|c| c as usize).collect();
            (all, usize_of(counts), usize_of(displs))
        }
    }

    impl Collective for Mpi {
        fn rank(&self) -> usize {
            self.world.rank() as usize
        }
        fn size(&self) -> usize {
            self.world.size() as usize
        }
        fn local_rank(&self) -> usize {
            self.local.rank() as usize
        }
        fn local_size(&self) -> usize {
            self.local.size() as usize
        }
        fn all_gather(&self, local: &[f32]) -> (Vec<f32>, Vec<usize>) {
            let (all, counts, _) = self.gather_varcount(local);
            (all, counts)
        }
        fn all_reduce_sum(&self, buf: &mut [f32]) {
            let mut out = vec![0f32; buf.len().min(CHUNK)];
            for chunk in buf.chunks_mut(CHUNK) {
                let out = &mut out[..chunk.len()];
                self.world.all_reduce_into(&*chunk, out, SystemOperation::sum());
                chunk.copy_from_slice(out);
            }
        }
        fn all_gather_u64(&self, value: u64) -> Vec<u64> {
            let mut all = vec![0u64; self.size()];
            self.world.all_gather_into(&value, &mut all[..]);
            all
        }
        fn all_gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>> {
            let (all, counts, displs) = self.gather_varcount(local);
            counts
                .iter()
                .zip(&displs)
                .map(|(&c, &d)| all[d..d + c].to_vec())
                .collect()
        }
        fn abort(&self, code: i32) -> ! {
            self.world.abort(code)
        }
        fn host(&self) -> String {
            mpi::environment::processor_name().unwrap_or_else(|_| super::hostname())
        }
    }
}
