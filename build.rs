//! Compiles the two casacore calls rubbl_casatables does not wrap,
//! `src/ms/slice.cc` (channel-slice puts) and `src/ms/info.cc` (the table
//! type label), against the casacore that rubbl_casatables_impl builds.

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
        .file("src/ms/info.cc")
        .compile("dsa110_slice");
    println!("cargo:rerun-if-changed=src/ms/slice.cc");
    println!("cargo:rerun-if-changed=src/ms/info.cc");
}
