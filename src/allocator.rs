//! The command-line tool's allocator: mimalloc, for Rust's allocations
//! (`#[global_allocator]`) and for GMP's and MPFR's (`mp_set_memory_functions`).
//!
//! Every exact integer, fraction and MPFR float the oracle makes is a heap block: an
//! `eval` line of ψ allocates about a dozen, and glibc's `malloc`/`free` were about 13 %
//! of `eval`'s instructions (callgrind, `scripts/bench_eval.py`'s lines). The library
//! leaves the allocator to its users; only this binary chooses one.

use std::ffi::c_void;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// GMP's allocation: mimalloc's, aborting when it fails (as GMP's own allocator does).
extern "C" fn alloc(size: usize) -> *mut c_void {
    // SAFETY: mi_malloc takes any size and returns a block of it or null.
    let p = unsafe { libmimalloc_sys::mi_malloc(size) };
    if p.is_null() {
        std::process::abort();
    }
    p
}

/// GMP's reallocation of a block from [`alloc`] (GMP passes the old size; mimalloc
/// knows it).
unsafe extern "C" fn realloc(p: *mut c_void, _old: usize, new: usize) -> *mut c_void {
    // SAFETY: `p` was returned by `alloc` or `realloc` (GMP's contract), which are mimalloc's.
    let q = unsafe { libmimalloc_sys::mi_realloc(p, new) };
    if q.is_null() {
        std::process::abort();
    }
    q
}

/// GMP's release of a block from [`alloc`] or [`realloc`].
unsafe extern "C" fn free(p: *mut c_void, _size: usize) {
    // SAFETY: as for `realloc`.
    unsafe { libmimalloc_sys::mi_free(p) }
}

/// Routes GMP's (and so MPFR's) allocations to mimalloc. GMP requires this before any
/// other GMP call, so `main` calls it first: no integer or float exists yet whose block
/// another allocator made.
pub fn route_gmp_to_mimalloc() {
    // SAFETY: called once, first thing in `main`, before any GMP or MPFR object exists.
    unsafe { gmp_mpfr_sys::gmp::set_memory_functions(Some(alloc), Some(realloc), Some(free)) }
}
