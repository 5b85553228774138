//! a scripted container backend for unit tests and simulations
