//! Compiles the shop's messages with protox (no system `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/shop/shop.proto");
    let descriptors = protox::compile(["shop/shop.proto"], ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("shop.fds.bin");
    std::fs::write(out, prost::Message::encode_to_vec(&descriptors))?;
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    config.compile_fds(descriptors)?;
    Ok(())
}
