//! The one integration-test binary of `switchboard-macros`: handlers written with `#[handler]`,
//! checked through what a client sees (the listed definitions and real calls over a connection).

mod fixtures;
mod listing;
mod wire;
