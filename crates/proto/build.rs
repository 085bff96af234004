//! Generates the ZITADEL wire types from `proto/` at build time: protox parses the files (no
//! system `protoc`), prost writes the message structs, pbjson their proto3 JSON.

use std::path::PathBuf;

const FILES: &[&str] = &[
    "proto/google/rpc/status.proto",
    "proto/zitadel/message.proto",
    "proto/zitadel/session/v2/session_service.proto",
    "proto/zitadel/session/v2beta/session_service.proto",
    "proto/zitadel/user/v2/user_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(FILES, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out.join("descriptors.bin");
    std::fs::write(&descriptor_path, prost::Message::encode_to_vec(&descriptors))?;

    prost_build::Config::new()
        .compile_well_known_types()
        // Timestamps are our own type: pbjson-types writes `+00:00`, ZITADEL writes `Z`.
        .extern_path(".google.protobuf.Timestamp", "crate::wkt::Timestamp")
        .extern_path(".google.protobuf", "::pbjson_types")
        .file_descriptor_set_path(&descriptor_path)
        .skip_protoc_run()
        .compile_protos(FILES, &["proto"])?;

    let descriptor_bytes = std::fs::read(&descriptor_path)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .extern_path(".google.protobuf.Timestamp", "crate::wkt::Timestamp")
        // Clients send fields this model does not know (newer ZITADEL versions); proto3 JSON
        // says to ignore them, as ZITADEL's gateway does.
        .ignore_unknown_fields()
        .build(&[".zitadel", ".google.rpc"])?;
    Ok(())
}
