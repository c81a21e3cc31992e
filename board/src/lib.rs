//! Placeholder: being written.
#![no_std]
