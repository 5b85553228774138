//! `--store tikv://pd-host:port[,pd-host:port]`: the records on TiKV. The
//! backend is compiled in only with this crate's `tikv` feature (it pulls
//! tikv-client's own gRPC stack); without it the spec is refused up front
//! with an error that says how to get it.

use diego_store::{AtRest, AtRestStore};

use crate::{NodeError, StoreSpec};

const NOT_BUILT: &str =
    "this diego was built without the tikv feature (rebuild with --features tikv)";

/// Parses what follows `tikv://`: PD endpoints, comma separated.
pub(crate) fn parse(spec: &str, rest: &str) -> Result<StoreSpec, String> {
    if !diego_store_tikv::ENABLED {
        return Err(format!("store {spec:?}: {NOT_BUILT}"));
    }
    let pd_endpoints: Vec<String> = rest
        .split(',')
        .filter(|e| !e.is_empty())
        .map(String::from)
        .collect();
    if pd_endpoints.is_empty() {
        return Err(format!("store {spec:?} names no pd endpoint"));
    }
    Ok(StoreSpec::Tikv {
        pd_endpoints,
        prefix: "/diego".into(),
    })
}

/// Connects and, unless told otherwise, encrypts: the keys stay with the
/// node (configured, or in its data dir), TiKV only sees ciphertext.
#[cfg(feature = "tikv")]
pub(crate) async fn open(
    pd_endpoints: &[String],
    prefix: &str,
    at_rest: AtRest,
    cfg: &crate::ControlPlaneConfig,
) -> Result<AtRestStore, NodeError> {
    let opts = diego_store_tikv::TikvOptions::default();
    let tikv = diego_store_tikv::TikvStore::connect(pd_endpoints, prefix, opts).await?;
    Ok(match at_rest {
        AtRest::Encrypted => AtRestStore::encrypted(tikv, cfg.keyring()?),
        AtRest::Plaintext => AtRestStore::plaintext(tikv),
    })
}

#[cfg(not(feature = "tikv"))]
pub(crate) async fn open(
    _pd_endpoints: &[String],
    _prefix: &str,
    _at_rest: AtRest,
    _cfg: &crate::ControlPlaneConfig,
) -> Result<AtRestStore, NodeError> {
    Err(diego_store::StoreError::Backend(NOT_BUILT.into()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(feature = "tikv"))]
    #[test]
    fn a_tikv_spec_without_the_feature_says_how_to_get_it() {
        let err = StoreSpec::parse("tikv://pd:2379").unwrap_err();
        assert!(err.contains("built without the tikv feature"), "{err}");
    }

    #[cfg(feature = "tikv")]
    #[test]
    fn a_tikv_spec_names_its_pd_endpoints() {
        let spec = StoreSpec::parse("tikv://pd1:2379,pd2:2379").unwrap();
        let want = StoreSpec::Tikv {
            pd_endpoints: vec!["pd1:2379".into(), "pd2:2379".into()],
            prefix: "/diego".into(),
        };
        assert_eq!(spec, want);
        let err = StoreSpec::parse("tikv://").unwrap_err();
        assert!(err.contains("names no pd endpoint"), "{err}");
    }
}
