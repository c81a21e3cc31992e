//! Placeholder: software canvas, being written.
