//! Compiles the wire contract in `proto/angzarr` with a pure-Rust protobuf
//! compiler (protox), so building needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = "../../proto";
    let files = [
        "angzarr/types.proto",
        "angzarr/business.proto",
        "angzarr/runtime.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={proto_root}/{file}");
    }
    let descriptors = protox::compile(files, [proto_root])?;
    // The encoded descriptors, for readers of the protobuf JSON mapping.
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("angzarr.fds.bin");
    std::fs::write(out, prost::Message::encode_to_vec(&descriptors))?;
    // Type names let `Any` values be packed and matched by their full name.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(descriptors, config)?;
    Ok(())
}
