//! The fal client against a real studio on `127.0.0.1:0`: the protocol end to end, faults,
//! webhooks, the media it renders, and the official Python client.

mod balance;
mod faults;
mod lost;
mod media;
mod protocol;
mod python;
mod python_elevenlabs;
mod speech;
mod support;
mod truncated;
mod webhooks;
