//! Compiles `src/ms/slice.cc`, the channel-slice puts rubbl_casatables does
//! not wrap, against the casacore that rubbl_casatables_impl builds.

fn main() {
    let include = std::env::var_os("DEP_CASA_INCLUDE")
        .expect("rubbl_casatables_impl exports its casacore headers as DEP_CASA_INCLUDE");
    cc::Build::new()
        .cpp(true)
        .flag_if_supported("-std=c++11")
        .flag_if_supported("-Wno-deprecated-declarations")
        // rubbl builds casacore in the `rubbl_casacore` namespace.
        .define("casacore", "rubbl_casacore")
        .include(include)
        .file("src/ms/slice.cc")
        .compile("dsa110_slice");
    println!("cargo:rerun-if-changed=src/ms/slice.cc");
}
