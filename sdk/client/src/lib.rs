//! rust client for the diego bbs grpc api
