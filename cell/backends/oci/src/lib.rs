//! container backend on runc with oci bundles and cni networking
