//! Ordered parallel maps: the one place the crate spreads independent work over cores.
//!
//! [`map`] applies a function to every item and returns the results **in the items'
//! order**, whatever the number of threads, so callers that then combine the results
//! in that order (interval sums rounded outward, output lines) get the same bits with
//! one thread or many. With the `parallel` feature (on with the default `cli` feature)
//! the items are spread over rayon's global pool (`RAYON_NUM_THREADS` threads, default
//! one per core); without it the map is a plain sequential loop, so library users who
//! turn the default features off build no thread pool.

/// `items` mapped by `f`, results in the items' order (in parallel with the `parallel`
/// feature).
pub fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        // Below two items a thread hand-off costs more than it saves.
        if items.len() > 1 && rayon::current_num_threads() > 1 {
            return items.into_par_iter().map(f).collect();
        }
    }
    items.into_iter().map(f).collect()
}

/// The number of threads [`map`] uses here (1 without the `parallel` feature): for
/// callers that cut their work into chunks of a few items per thread.
pub fn threads() -> usize {
    #[cfg(feature = "parallel")]
    return rayon::current_num_threads();
    #[cfg(not(feature = "parallel"))]
    1
}

/// Runs `f` with at most `threads` worker threads for [`map`] (rayon's pool size when
/// `None`), for the command line's `--threads`. Without the `parallel` feature `f`
/// simply runs (sequentially).
pub fn with_threads<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> R {
    #[cfg(feature = "parallel")]
    if let Some(n) = threads {
        if let Ok(pool) = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
        {
            return pool.install(f);
        }
    }
    let _ = threads;
    f()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_order_at_any_thread_count() {
        let want: Vec<u64> = (0..1000u64).map(|i| i * i).collect();
        for threads in [1, 2, 3, 8] {
            let got = super::with_threads(Some(threads), || {
                super::map((0..1000u64).collect(), |i| i * i)
            });
            assert_eq!(got, want, "{threads} threads");
        }
    }
}
