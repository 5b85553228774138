//! locks with fencing tokens and presences with ttl
