//! Links the stock function binaries as position-dependent executables on
//! Linux (`-no-pie`, as Go links its binaries by default).
//!
//! A position-independent executable carries a relative relocation for every
//! pointer in its read-only data: about 28,000 here, a 580 KB table the
//! dynamic loader reads and 375 KB of pages it then writes (copy-on-write),
//! at every cold start. Linked at a fixed address the linker resolves them
//! all, and the function starts sooner (docs/benchmarks.md, "Lambda cold
//! start"). Shared libraries, the heap and the stacks stay randomised; the
//! program's own image does not. Set `ANGZARR_PIE=1` when building to keep a
//! position-independent executable. Cross builds (`cargo lambda build
//! --arm64` links with `zig cc`) keep the toolchain's default: only a native
//! build, linked by the system's C compiler, is known to take the flag.

fn main() {
    println!("cargo:rerun-if-env-changed=ANGZARR_PIE");
    let var = |name| std::env::var(name).unwrap_or_default();
    let linux = var("CARGO_CFG_TARGET_OS") == "linux";
    let native = var("TARGET") == var("HOST");
    let pie = !matches!(var("ANGZARR_PIE").as_str(), "" | "0");
    if linux && native && !pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
