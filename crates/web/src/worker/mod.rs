//! The encoder's own thread: a dedicated Web Worker running this same wasm module, so the
//! page never freezes while the model is read and built (0.5 s of CPU work, seconds of
//! kernel compilation on a software WebGPU) or while a query or a dropped file is encoded.
//!
//! The page starts the worker with the `WebAssembly.Module` it was itself compiled from (no
//! second download or compilation); `main` sees it has no window and calls [`serve`]. The
//! page talks to it through [`EncoderWorker`]: JSON requests and replies, vectors as a
//! transferred `Float32Array`.

//!
//! [`server`] is the worker's side, [`client`] the page's; [`crate::protocol`] what they send.

mod client;
pub mod rows;
mod server;

pub use client::EncoderWorker;
pub use server::serve;
