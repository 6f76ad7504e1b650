//! The tokio-postgres driver for mq (in progress).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
