//! Generates the diego.bbs.v1 and diego.rep.v1 types, servers and clients,
//! and the original BBS `models` messages.
//! protoc comes from the system (Debian `protobuf-compiler`), or from
//! `PROTOC` when set.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "diego/bbs/v1/common.proto",
        "diego/bbs/v1/actions.proto",
        "diego/bbs/v1/models.proto",
        "diego/bbs/v1/events.proto",
        "diego/bbs/v1/requests.proto",
        "diego/bbs/v1/lrp_requests.proto",
        "diego/bbs/v1/service.proto",
        "diego/rep/v1/rep.proto",
        "diego/auctioneer/v1/auctioneer.proto",
    ];
    tonic_build::configure()
        .build_server(true)
        .build_client(true)
        // BTreeMap keeps map fields in key order, so an encoded record is
        // deterministic and equal records encode to equal bytes.
        .btree_map(["."])
        .compile_protos(&protos, &["."])?;
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    // The original BBS's `models` package, for the compatibility gateway.
    // Messages only: it is served over plain HTTP/1.1, not gRPC.
    let models = [
        "models/common.proto",
        "models/actions.proto",
        "models/actual_lrp.proto",
        "models/desired_lrp.proto",
        "models/task.proto",
        "models/events.proto",
    ];
    tonic_build::configure()
        .build_server(false)
        .build_client(false)
        .btree_map(["."])
        .compile_protos(&models, &["."])?;
    for p in models {
        println!("cargo:rerun-if-changed={p}");
    }
    Ok(())
}
