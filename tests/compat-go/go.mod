module diego-rs/tests/compat-go

go 1.22

require code.cloudfoundry.org/bbs v0.0.0-20240321110538-9b9671a851e9
